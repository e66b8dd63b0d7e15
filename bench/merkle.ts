/**
 * Record Merkle tree build: N records (random content hashes) → OZ-compatible leaves → tree, with our
 * builder (src/data/merkle.ts), against @openzeppelin/merkle-tree's StandardMerkleTree.of on a
 * smaller set (default 100k) in the same run, reported as a per-leaf speed ratio. Target: 1M records
 * in under 10 s. `npm run bench:merkle -- [--n 1000000] [--oz-n 100000] [--json FILE]`
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { buildMerkleTree, recordLeaves } from '../src/data/merkle.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000000' },
    'oz-n': { type: 'string', default: '100000' },
    json: { type: 'string' },
  },
});
const n = Number(values.n);
const ozN = Number(values['oz-n']);
const hashes = new Uint8Array(randomBytes(n * 32));

function timeOurs(count: number): { seconds: number; leafSeconds: number; root: string } {
  const h = hashes.subarray(0, count * 32);
  const t0 = performance.now();
  const leaves = recordLeaves(h);
  const t1 = performance.now();
  const tree = buildMerkleTree(leaves);
  const t2 = performance.now();
  return { seconds: (t2 - t0) / 1000, leafSeconds: (t1 - t0) / 1000, root: tree.root };
}

// warm-up (JIT, wasm compile) on a small set
timeOurs(Math.min(n, 10_000));
const ours = timeOurs(n);
console.log(`ours: ${n} records in ${ours.seconds.toFixed(2)} s (leaves ${ours.leafSeconds.toFixed(2)} s)`);

const oursSmall = timeOurs(ozN);
const values2 = Array.from({ length: ozN }, (_, i) => [
  i,
  `0x${Buffer.from(hashes.subarray(i * 32, i * 32 + 32)).toString('hex')}`,
]);
const t0 = performance.now();
const oz = StandardMerkleTree.of(values2, ['uint256', 'bytes32']);
const ozSeconds = (performance.now() - t0) / 1000;
if (oz.root !== oursSmall.root) throw new Error(`root mismatch: OZ ${oz.root} vs ours ${oursSmall.root}`);
const speedup = ozSeconds / oursSmall.seconds;
console.log(
  `OpenZeppelin StandardMerkleTree.of: ${ozN} records in ${ozSeconds.toFixed(2)} s; ours ${oursSmall.seconds.toFixed(3)} s on the same leaves (same root) → ${speedup.toFixed(1)}× faster`,
);
const result = {
  n,
  seconds: ours.seconds,
  leafSeconds: ours.leafSeconds,
  targetSeconds: 10,
  withinTarget: ours.seconds < 10,
  baseline: {
    library: '@openzeppelin/merkle-tree',
    n: ozN,
    seconds: ozSeconds,
    oursSeconds: oursSmall.seconds,
  },
  speedupVsOz: speedup,
  rootsMatch: true,
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
