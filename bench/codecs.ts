/**
 * Codec throughput: encode/decode of N floats per codec, against a plain Float32Array copy (baseline
 * measured in the same run). `npm run bench:codecs -- [--n 10000000] [--json FILE]`
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CODEC_NAMES, createCodec, decodeAny } from '../src/train/codecs/index.ts';

const { values } = parseArgs({
  options: { n: { type: 'string', default: '10000000' }, json: { type: 'string' } },
});
const n = Number(values.n);
const v = new Float32Array(n);
for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37) * 1e-3 * (1 + (i % 7));

function best(fn: () => void, reps = 3): number {
  let b = Number.POSITIVE_INFINITY;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    b = Math.min(b, performance.now() - t);
  }
  return b / 1000;
}

const copySeconds = best(() => v.slice());
const rows = [];
for (const name of CODEC_NAMES) {
  const c = createCodec(name);
  let bytes = c.encode(v);
  const enc = best(() => {
    bytes = c.encode(v);
  });
  const dec = best(() => decodeAny(bytes));
  rows.push({
    codec: name,
    bytes: bytes.byteLength,
    bytesPerElement: bytes.byteLength / n,
    encodeSeconds: enc,
    decodeSeconds: dec,
    encodeVsCopy: enc / copySeconds,
  });
  console.log(
    `${name.padEnd(5)} ${(bytes.byteLength / n).toFixed(4)} B/elem  encode ${(enc * 1000).toFixed(1)} ms  decode ${(dec * 1000).toFixed(1)} ms`,
  );
}
console.log(`baseline Float32Array.slice: ${(copySeconds * 1000).toFixed(1)} ms`);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ n, copySeconds, codecs: rows }, null, 2)}\n`);
