/**
 * Image-folder classification data (the ImageFolder convention): `root/<label>/<image>.png|jpg|jpeg`.
 *
 * - **Classes** are the folder names, sorted by their UTF-8 bytes (class id = position), or the
 *   list given in `classes` (a job spec's class list: a provider whose shard lacks some classes
 *   still numbers them like everyone else).
 * - **Samples** are ordered exactly like `agora data add ROOT` (`--format dir`, src/data/records.ts)
 *   orders a folder's records: every regular file by relative path. `recordBytes(i)` is file i's
 *   bytes as stored, so keccak256(recordBytes(i)) equals the content hash that `agora data add`
 *   attests for that file; the label of a record is its folder, recorded in the manifest schema's
 *   file list. Every file under `root` must therefore be an image in a class folder (a stray file
 *   would shift the record indices): anything else is an error that names it.
 * - **Pixels** are decoded (PNG/JPEG), converted to grayscale (ITU-R 601 luma) or RGB (alpha
 *   dropped), resized to `height×width` (triangle filter, antialiased when shrinking, aspect ratio
 *   not kept) and stored as u8 in CHW order. The model sees v/255, or (v/255 − mean_c)/std_c with
 *   `normalize`. Features are flat `[C·H·W]` rows, the input layout of the CNN model (`CnnSpec`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listImageFolder } from '../../data/records.ts';
import { AgoraError } from '../../errors.ts';
import { type ClassificationDataset, checkIndex, makeClassificationDataset } from './dataset.ts';
import { decodeImage, type RasterImage, resizeImage, toChannels } from './image-codec.ts';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

export type ImageFolderOptions = {
  /** Model input height and width; default: the first image's size (all others are resized to it). */
  height?: number;
  width?: number;
  /** 1 = grayscale, 3 = RGB; default `auto`: 1 when every image is gray (R = G = B), else 3. */
  channels?: 1 | 3 | 'auto';
  /** Per-channel normalization after scaling to [0, 1]: (v − mean[c]) / std[c]. */
  normalize?: { mean: readonly number[]; std: readonly number[] };
  /** Class names in class-id order (default: the folder names, sorted). */
  classes?: readonly string[];
  onProgress?: (message: string) => void;
};

export type ImageFolderDataset = ClassificationDataset & {
  readonly root: string;
  /** Relative `/`-separated path of each sample's file (record order). */
  readonly files: readonly string[];
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  readonly classNames: readonly string[];
};

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function badSource(message: string, hint: string): AgoraError {
  return new AgoraError('DATA_BAD_SOURCE', message, { hint });
}

/** Lists `root` and checks the layout; returns each file's relative path and folder name. */
export function scanImageFolder(root: string): { files: string[]; folders: string[] } {
  const files = listImageFolder(root);
  const folders = files.map((f) => {
    const parts = f.split('/');
    const ext = parts[parts.length - 1].toLowerCase().replace(/^.*(\.[^.]*)$/, '$1');
    if (parts.length !== 2 || !(IMAGE_EXTENSIONS as readonly string[]).includes(ext)) {
      throw badSource(
        `${join(root, f)} is not an image in a class folder (ROOT/<label>/<name>.png|jpg|jpeg)`,
        'move or delete it: `agora data add` attests every file under the folder, so training must use every file',
      );
    }
    return parts[0];
  });
  return { files, folders };
}

/**
 * The layout of an image folder without decoding any image: class names (sorted folder names),
 * images per class, total files. For a provider's schema check against a job's class list.
 */
export function summarizeImageFolder(root: string): {
  classNames: string[];
  counts: number[];
  files: number;
} {
  const { files, folders } = scanImageFolder(root);
  const classNames = [...new Set(folders)].sort(byUtf8);
  const counts = classNames.map(() => 0);
  const at = new Map(classNames.map((c, i) => [c, i]));
  for (const f of folders) counts[at.get(f) as number]++;
  return { classNames, counts, files: files.length };
}

/** Loads an image folder as a classification data set (see the module docs for every convention). */
export function loadImageFolder(root: string, opts: ImageFolderOptions = {}): ImageFolderDataset {
  const { files, folders } = scanImageFolder(root);
  const classNames = opts.classes ? [...opts.classes] : [...new Set(folders)].sort(byUtf8);
  if (new Set(classNames).size !== classNames.length || classNames.length < 1) {
    throw badSource(
      `class list ${JSON.stringify(classNames)} is empty or repeats a name`,
      'give each class once',
    );
  }
  const classId = new Map(classNames.map((c, i) => [c, i]));
  const labels = Int32Array.from(folders, (f, i) => {
    const id = classId.get(f);
    if (id === undefined) {
      throw badSource(
        `${join(root, files[i])} is in folder "${f}", which is not one of the classes ${JSON.stringify(classNames)}`,
        'rename the folder to one of the job’s classes, or remove it',
      );
    }
    return id;
  });
  if (opts.normalize) {
    const { mean, std } = opts.normalize;
    if (mean.length !== std.length || std.some((s) => !(s > 0)) || !mean.every(Number.isFinite)) {
      throw new AgoraError('DATA_BAD_OPTION', 'normalize needs one finite mean and one std > 0 per channel', {
        hint: 'e.g. { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } for RGB',
      });
    }
  }
  const progress = opts.onProgress ?? (() => {});
  progress(`decoding ${files.length} images…`);
  const images: RasterImage[] = [];
  let allGray = true;
  let height = opts.height;
  let width = opts.width;
  for (const f of files) {
    const img = decodeImage(new Uint8Array(readFileSync(join(root, ...f.split('/')))), join(root, f));
    height ??= img.height;
    width ??= img.width;
    // Shrink early (keeps memory at the model size); channels are chosen once all are seen.
    const small = resizeImage(toChannels(img, 3), width, height);
    if (allGray) {
      const d = small.data;
      for (let p = 0; p < d.length; p += 3) {
        if (d[p] !== d[p + 1] || d[p] !== d[p + 2]) {
          allGray = false;
          break;
        }
      }
    }
    images.push(small);
  }
  const H = height as number;
  const W = width as number;
  if (!(Number.isInteger(H) && H >= 1 && Number.isInteger(W) && W >= 1)) {
    throw new AgoraError('DATA_BAD_OPTION', `image size must be positive integers, got ${H}×${W}`);
  }
  const channels: 1 | 3 = opts.channels === 1 || opts.channels === 3 ? opts.channels : allGray ? 1 : 3;
  if (opts.normalize && opts.normalize.mean.length !== channels) {
    throw new AgoraError(
      'DATA_BAD_OPTION',
      `normalize has ${opts.normalize.mean.length} channel(s), the images have ${channels}`,
      { hint: 'give one mean/std per channel (1 grayscale, 3 RGB)' },
    );
  }
  const F = channels * H * W;
  const pixels = new Uint8Array(files.length * F);
  images.forEach((img, i) => {
    const px = toChannels(img, channels).data;
    // HWC (interleaved) → CHW (planar).
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < H * W; p++) pixels[i * F + c * H * W + p] = px[p * channels + c];
    }
  });
  let features: { kind: 'u8'; data: Uint8Array } | { kind: 'f32'; data: Float32Array } = {
    kind: 'u8',
    data: pixels,
  };
  if (opts.normalize) {
    const { mean, std } = opts.normalize;
    const f32 = new Float32Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      const c = Math.floor((i % F) / (H * W));
      f32[i] = (pixels[i] / 255 - mean[c]) / std[c];
    }
    features = { kind: 'f32', data: f32 };
  }
  const base = makeClassificationDataset({
    id: `images:${root}`,
    featureShape: [channels, H, W],
    features,
    labels,
    numClasses: classNames.length,
    classNames,
  });
  const ds: ImageFolderDataset = {
    ...base,
    root,
    files,
    channels,
    height: H,
    width: W,
    classNames,
    recordEncoding: 'file:bytes (the image file as stored, like a --format dir record; label = its folder)',
    recordBytes(index: number): Uint8Array {
      checkIndex(ds, index);
      return new Uint8Array(readFileSync(join(root, ...files[index].split('/'))));
    },
  };
  return ds;
}
