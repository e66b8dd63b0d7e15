/** A learnable toy classification data set for the verify tests: label = argmax of 4 random projections. */
import { makeClassificationDataset } from '../../src/train/data/dataset.ts';
import { createRng, normal } from '../../src/train/data/rng.ts';

export function toyDataset() {
  const rng = createRng(3);
  const n = 600;
  const F = 16;
  const feats = Float32Array.from({ length: n * F }, () => normal(rng));
  const proj = Float64Array.from({ length: 4 * F }, () => normal(rng));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = -Infinity;
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let j = 0; j < F; j++) s += proj[c * F + j] * feats[i * F + j];
      if (s > bv) [best, bv] = [c, s];
    }
    labels[i] = best;
  }
  return makeClassificationDataset({
    id: 'toy',
    featureShape: [F],
    features: { kind: 'f32', data: feats },
    labels,
    numClasses: 4,
  });
}
