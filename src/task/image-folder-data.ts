/**
 * The image task's image-folder data (`--format images`, `root/<label>/<image>.png|jpg`): one pixel
 * pipeline for the provider's loader, the validator's replay windows and `agora model predict`, so
 * all three see the very same u8 pixels for the same file:
 *   decode (PNG/JPEG) → RGB → resize to the job's height×width (src/train/data/image-codec.ts) →
 *   the job's channels (1: ITU-R 601 luma, 3: RGB) → planar CHW u8; the model sees v/255.
 * Records are the `images` records of src/data/records.ts: label (the class folder) ‖ 0x00 ‖ the
 * file's bytes, so a validator reads the label from the attested record itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageFolderLabels, labelledRecord, listImageFolder, splitLabelledRecord } from '../data/records.ts';
import { AgoraError } from '../errors.ts';
import { type ClassificationDataset, checkIndex, makeClassificationDataset } from '../train/data/dataset.ts';
import { decodeImage, resizeImage, toChannels } from '../train/data/image-codec.ts';
import { IMAGE_EXTENSIONS } from '../train/data/image-folder.ts';
import type { WindowRecord } from '../verify/trace-wire.ts';

/** The job's image geometry: what every image is turned into. */
export type ImageGeometry = { channels: 1 | 3; height: number; width: number };

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** The model's u8 pixels (CHW) of one image file. */
export function imagePixels(bytes: Uint8Array, name: string, g: ImageGeometry): Uint8Array {
  const img = decodeImage(bytes, name);
  const small = toChannels(resizeImage(toChannels(img, 3), g.width, g.height), g.channels);
  const HW = g.height * g.width;
  const out = new Uint8Array(g.channels * HW);
  const px = small.data;
  for (let c = 0; c < g.channels; c++) for (let p = 0; p < HW; p++) out[c * HW + p] = px[p * g.channels + c];
  return out;
}

/** The files of an image folder (record order) and their labels; every file must be an image. */
export function imageFolderFiles(root: string): { files: string[]; labels: string[] } {
  const files = listImageFolder(root);
  for (const f of files) {
    const ext = f.toLowerCase().replace(/^.*(\.[^./]*)$/, '$1');
    if (!(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
      throw new AgoraError('DATA_BAD_SOURCE', `${join(root, f)} is not a .png, .jpg or .jpeg image`, {
        hint: 'every file under the folder is a record: move or delete the others',
      });
    }
  }
  return { files, labels: imageFolderLabels(root, files) };
}

/** The layout of an image folder: class names, images per class, and the first image's size. */
export function describeImageFolder(root: string): {
  classes: string[];
  counts: number[];
  files: number;
  height: number;
  width: number;
  gray: boolean;
} {
  const { files, labels } = imageFolderFiles(root);
  const classes = [...new Set(labels)].sort(byUtf8);
  const counts = classes.map((c) => labels.filter((l) => l === c).length);
  // size from the first image; gray when the first few images are (R = G = B)
  const first = decodeImage(new Uint8Array(readFileSync(join(root, ...files[0].split('/')))), files[0]);
  let gray = true;
  for (const f of files.slice(0, 16)) {
    const d = toChannels(decodeImage(new Uint8Array(readFileSync(join(root, ...f.split('/')))), f), 3).data;
    for (let p = 0; p < d.length && gray; p += 3) if (d[p] !== d[p + 1] || d[p] !== d[p + 2]) gray = false;
  }
  return { classes, counts, files: files.length, height: first.height, width: first.width, gray };
}

function pixelDataset(
  id: string,
  g: ImageGeometry,
  classes: readonly string[],
  pixels: Uint8Array,
  labels: Int32Array,
  record: (i: number) => Uint8Array,
): ClassificationDataset {
  const base = makeClassificationDataset({
    id,
    featureShape: [g.channels * g.height * g.width],
    features: { kind: 'u8', data: pixels },
    labels,
    numClasses: classes.length,
    classNames: classes,
  });
  const ds: ClassificationDataset = {
    ...base,
    recordEncoding: 'label utf8 ‖ 0x00 ‖ image file bytes (an --format images record)',
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return record(index);
    },
  };
  return ds;
}

function classIdOf(classes: readonly string[], label: string, where: string): number {
  const id = classes.indexOf(label);
  if (id < 0) {
    throw new AgoraError('DATA_BAD_LABEL', `${where} has label "${label}", not one of the job's classes`, {
      hint: `classes: ${classes.slice(0, 20).join(', ')}`,
    });
  }
  return id;
}

/** A provider's image folder as the job's classification data (records = `images` records). */
export function loadImageFolderTask(
  root: string,
  g: ImageGeometry,
  classes: readonly string[],
): ClassificationDataset {
  const { files, labels } = imageFolderFiles(root);
  const F = g.channels * g.height * g.width;
  const pixels = new Uint8Array(files.length * F);
  const ids = new Int32Array(files.length);
  files.forEach((f, i) => {
    const bytes = new Uint8Array(readFileSync(join(root, ...f.split('/'))));
    pixels.set(imagePixels(bytes, join(root, f), g), i * F);
    ids[i] = classIdOf(classes, labels[i], join(root, f));
  });
  return pixelDataset(`images:${root}`, g, classes, pixels, ids, (i) =>
    labelledRecord(labels[i], new Uint8Array(readFileSync(join(root, ...files[i].split('/'))))),
  );
}

/** A validator's dataset of replay-window `images` records, at positions 0..n-1. */
export function imageRecordsDataset(
  records: readonly WindowRecord[],
  g: ImageGeometry,
  classes: readonly string[],
): ClassificationDataset {
  const F = g.channels * g.height * g.width;
  const pixels = new Uint8Array(records.length * F);
  const ids = new Int32Array(records.length);
  records.forEach((r, k) => {
    const s = splitLabelledRecord(r.bytes);
    if (!s) throw new AgoraError('REPLAY_BAD_RECORD', `record ${r.index} is not a labelled image record`);
    try {
      pixels.set(imagePixels(s.file, `record ${r.index}`, g), k * F);
      ids[k] = classIdOf(classes, s.label, `record ${r.index}`);
    } catch (e) {
      throw new AgoraError('REPLAY_BAD_RECORD', `record ${r.index}: ${(e as Error).message}`, { cause: e });
    }
  });
  return pixelDataset('replay-window', g, classes, pixels, ids, (k) => records[k].bytes.slice());
}
