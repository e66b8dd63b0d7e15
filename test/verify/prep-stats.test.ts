/**
 * The swarm statistics a provider signs before round 0 and the validator's recomputation rules
 * (pure, src/verify/prep-stats.ts): chunks, the payload, the signature, and each lie caught.
 */

import { keccak256 } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { type TabularDataset, type TabularPrep, tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import {
  decodePrepStats,
  encodePrepStats,
  localFromPartials,
  type PrepStats,
  prepChunks,
  prepStatsProblems,
  prepStatsSigner,
  sampleChunks,
  signPrepStats,
} from '../../src/verify/prep-stats.ts';

const CSV = new URL('../../examples/tabular/household-energy.csv', import.meta.url).pathname;
const spec = tabularSpecFromFile({ path: CSV, label: 'kwh' });
const source = { path: CSV, format: 'csv' as const, label: 'kwh' };
const data = tabularTask.load(spec, source) as TabularDataset;
const prep = tabularTask.preparation!;
const L = prep.length(spec);

function honest(): PrepStats {
  const partials = prepChunks(data.size).map((c) => prep.chunk(spec, data, c.from, c.to));
  const local = localFromPartials(partials, L);
  return { partials, local, reduced: local.slice() };
}

/** The validator's recomputation of chunks `cs` from the chunk's own records (as fetched). */
function recompute(cs: readonly number[]): Map<number, Float64Array> {
  const ranges = prepChunks(data.size);
  return new Map(
    cs.map((c) => {
      const { from, to } = ranges[c];
      const records = Array.from({ length: to - from }, (_, k) => ({
        index: from + k,
        bytes: data.recordBytes(from + k),
        proof: [],
      }));
      const ds = tabularTask.windowDataset(spec, records);
      return [c, prep.chunk(spec, ds, 0, records.length)];
    }),
  );
}

const check = (
  stats: PrepStats,
  cs: readonly number[],
  committedPrep = prep.fromReduced(spec, stats.reduced),
) =>
  prepStatsProblems({
    stats,
    records: data.size,
    length: L,
    recomputed: recompute(cs),
    committedPrep,
    fromReduced: (v) => prep.fromReduced(spec, v),
  });

describe('swarm statistics commitments', () => {
  it('cuts a dataset into 16 contiguous chunks (more when one would exceed 65 536 records)', () => {
    expect(prepChunks(2400)).toHaveLength(16);
    expect(prepChunks(2400)[0]).toEqual({ from: 0, to: 150 });
    expect(prepChunks(2400).at(-1)).toEqual({ from: 2250, to: 2400 });
    expect(prepChunks(5)).toHaveLength(5);
    expect(prepChunks(2_000_000)).toHaveLength(31);
    expect(Math.max(...prepChunks(2_000_000).map((c) => c.to - c.from))).toBeLessThanOrEqual(65_536);
    expect(new Set(sampleChunks(16, 2)).size).toBe(2);
    expect(sampleChunks(16, 99)).toHaveLength(16);
  });

  it('the task’s all-reduce input is the chunk-order sum, and the payload round-trips and signs', async () => {
    const s = honest();
    expect(prep.local(spec, data)).toEqual(s.local);
    // chunk sums equal the plain mean/variance of the file within float rounding
    const t = (prep.fromReduced(spec, s.local) as TabularPrep).target!;
    const ys = Array.from((data as { values: Float64Array }).values);
    expect(t.mean).toBeCloseTo(ys.reduce((a, b) => a + b, 0) / ys.length, 1);
    const bytes = encodePrepStats(s);
    const back = decodePrepStats(bytes);
    expect(back.partials.map((p) => Array.from(p))).toEqual(s.partials.map((p) => Array.from(p)));
    expect(back.local).toEqual(s.local);
    expect(() => decodePrepStats(bytes.subarray(0, bytes.length - 4))).toThrow(/malformed/);
    const account = privateKeyToAccount(`0x${'11'.repeat(32)}`);
    const sig = await signPrepStats(account, 7n, keccak256(bytes));
    expect(await prepStatsSigner(7n, account.address, keccak256(bytes), sig)).toBe(account.address);
    expect(await prepStatsSigner(8n, account.address, keccak256(bytes), sig)).not.toBe(account.address);
  });

  it('an honest provider passes every chunk, recomputed bit-exactly from its records', () => {
    expect(
      check(
        honest(),
        Array.from({ length: 16 }, (_, i) => i),
      ),
    ).toEqual([]);
  });

  it('catches a lying chunk when sampled, a sum that is not the chunks’, and a result the model does not carry', () => {
    const lie = honest();
    lie.partials[5] = lie.partials[5].map((x, i) => (i === 1 ? x * 1.5 : x)); // Σx of column 0 inflated
    lie.local = localFromPartials(lie.partials, L);
    expect(check(lie, [2, 9])).toEqual([]); // not sampled: not seen (probability 1 − s/C per validator)
    expect(check(lie, [5, 9])).toEqual(["chunk 5's statistics are not those of its records"]);
    const sum = honest();
    sum.local = sum.local.map((x, i) => (i === 0 ? x + 10 : x));
    expect(check(sum, [0])).toContain('the all-reduce input is not the sum of the chunk statistics');
    const res = honest();
    const other = prep.fromReduced(
      spec,
      res.reduced.map((x, i) => (i === 1 ? x * 2 : x)),
    );
    expect(check(res, [0], other)).toEqual([
      'the committed preprocessing is not the one the claimed all-reduce result gives',
    ]);
    const short = honest();
    short.partials = short.partials.slice(1);
    expect(check(short, [])[0]).toMatch(/statistics of 15 chunks/);
  });
});
