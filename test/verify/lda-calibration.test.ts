import { keccak256 } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/train/data/rng.ts';
import { mlpFeatures } from '../../src/train/diloco/drift/lda-head.ts';
import {
  decodeLdaStats,
  encodeLdaStats,
  isCommittedLdaHead,
  type LdaStats,
  ldaFirstVector,
  ldaHeadFromReduced,
  ldaSecondVector,
  ldaShapeOf,
  ldaStatsProblems,
  ldaStatsSigner,
  setHead,
  signLdaStats,
} from '../../src/verify/lda-calibration.ts';

const sizes = [6, 5, 3] as const;
const shape = ldaShapeOf(sizes);
const P = 6 * 5 + 5 + 5 * 3 + 3;

function mean(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i] / vs.length;
  return out;
}

/** Three workers with label-skewed data (classes {0,1}, {1,2}, {2,0}): each class a shifted blob. */
function swarm(seed = 3) {
  const rng = createRng(seed);
  const rnd = () => rng.next();
  const theta = Float32Array.from({ length: P }, () => (rnd() - 0.5) * 0.8);
  const workers = [
    [0, 1],
    [1, 2],
    [2, 0],
  ].map((classes) => {
    const n = 40;
    const inputs = new Float32Array(n * 6);
    const labels = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      const y = classes[s % 2];
      labels[s] = y;
      for (let j = 0; j < 6; j++) inputs[s * 6 + j] = rnd() + (j % 3 === y ? 3 : 0);
    }
    return { inputs, labels };
  });
  // the protocol: first vectors, mean, second vectors, mean, head into θ*
  const firsts = workers.map((w) => ldaFirstVector(theta, sizes, w.inputs, w.labels));
  const r1 = mean(firsts.map((f) => f.classStats));
  const seconds = workers.map((w, k) => ldaSecondVector(firsts[k].features, w.labels, r1, shape));
  const r2 = mean(seconds);
  const head = ldaHeadFromReduced(r1, r2, shape);
  if (!head) throw new Error('no head');
  const committed = theta.slice();
  setHead(committed, head);
  const stats: LdaStats[] = workers.map((_, k) => ({
    classStats: firsts[k].classStats,
    scatter: seconds[k],
    reducedClassStats: r1,
    reducedScatter: r2,
  }));
  return { theta, workers, committed, stats };
}

function accuracy(theta: Float32Array, inputs: Float32Array, labels: Int32Array): number {
  const f = mlpFeatures(theta, sizes, inputs);
  const off = P - 5 * 3 - 3;
  let right = 0;
  for (let s = 0; s < labels.length; s++) {
    let best = -1;
    let arg = -1;
    for (let c = 0; c < 3; c++) {
      let z = theta[off + 15 + c];
      for (let i = 0; i < 5; i++) z += f[s * 5 + i] * theta[off + i * 3 + c];
      if (z > best || arg < 0) {
        best = z;
        arg = c;
      }
    }
    if (arg === labels[s]) right++;
  }
  return right / labels.length;
}

describe('the LDA head of a last round (lda-calibration)', () => {
  it('every honest worker passes, the body is kept and the head classifies all workers’ classes', () => {
    const { theta, workers, committed, stats } = swarm();
    for (let k = 0; k < 3; k++) {
      expect(
        ldaStatsProblems({ committed, sizes, ...workers[k], stats: stats[k], ldaCommitted: true }),
      ).toEqual([]);
      expect(isCommittedLdaHead(committed, sizes, stats[k])).toBe(true);
    }
    expect(committed.subarray(0, 35)).toEqual(theta.subarray(0, 35));
    const all = {
      inputs: Float32Array.from(workers.flatMap((w) => Array.from(w.inputs))),
      labels: Int32Array.from(workers.flatMap((w) => Array.from(w.labels))),
    };
    expect(accuracy(committed, all.inputs, all.labels)).toBeGreaterThan(
      accuracy(theta, all.inputs, all.labels),
    );
    expect(accuracy(committed, all.inputs, all.labels)).toBeGreaterThan(0.8);
  });

  it('flags statistics of relabelled samples (a poisoned head)', () => {
    const { committed, workers, stats, theta } = swarm();
    const shifted = workers[1].labels.map((y) => (y + 1) % 3);
    const f = ldaFirstVector(theta, sizes, workers[1].inputs, shifted);
    const poisoned = { ...stats[1], classStats: f.classStats };
    expect(
      ldaStatsProblems({ committed, sizes, ...workers[1], stats: poisoned, ldaCommitted: true }),
    ).toEqual(["the class statistics are not those of the trace's samples under the committed model"]);
  });

  it('flags a scatter around other means, and claimed all-reduce results the commit does not give', () => {
    const { committed, workers, stats } = swarm();
    const scatter = stats[0].scatter.slice();
    scatter[3] *= 1.001;
    expect(
      ldaStatsProblems({
        committed,
        sizes,
        ...workers[0],
        stats: { ...stats[0], scatter },
        ldaCommitted: true,
      }),
    ).toEqual(["the scatter is not that of the trace's samples around the reduced class means"]);
    // other reduced class statistics (and a scatter consistent with them): the committed head differs
    const reducedClassStats = stats[0].reducedClassStats.slice();
    reducedClassStats[5] += 0.5;
    const consistent = ldaSecondVector(
      ldaFirstVector(committed, sizes, workers[0].inputs, workers[0].labels).features,
      workers[0].labels,
      reducedClassStats,
      shape,
    );
    const lie = { ...stats[0], reducedClassStats, scatter: consistent };
    expect(ldaStatsProblems({ committed, sizes, ...workers[0], stats: lie, ldaCommitted: true })).toEqual([
      'the committed head is not the one the claimed all-reduce results give',
    ]);
    // results that give no head: a lie while another worker's results give the committed head
    const none = { ...stats[0], reducedScatter: new Float32Array(stats[0].reducedScatter.length) };
    expect(ldaHeadFromReduced(none.reducedClassStats, none.reducedScatter, shape)).toBeUndefined();
    const problems = (ldaCommitted: boolean) =>
      ldaStatsProblems({ committed, sizes, ...workers[0], stats: none, ldaCommitted });
    expect(problems(true)).toContain('the committed head is not the one the claimed all-reduce results give');
    expect(problems(false)).toEqual([]);
  });

  it('encodes, hashes and signs the statistics; a wrong length is refused', async () => {
    const { stats } = swarm();
    const bytes = encodeLdaStats(stats[0]);
    const back = decodeLdaStats(bytes, shape);
    expect(back.scatter).toEqual(stats[0].scatter);
    expect(back.reducedScatter).toEqual(stats[0].reducedScatter);
    expect(() => decodeLdaStats(bytes.subarray(4), shape)).toThrow(/LDA statistics of \d+ bytes/);
    // a view into a larger buffer (a Node Buffer's pool) decodes to the same values
    const pooled = Buffer.concat([Buffer.alloc(12), Buffer.from(bytes), Buffer.alloc(40)]).subarray(
      12,
      12 + bytes.length,
    );
    expect(decodeLdaStats(pooled, shape).reducedClassStats).toEqual(stats[0].reducedClassStats);
    const account = privateKeyToAccount(`0x${'11'.repeat(32)}`);
    const hash = keccak256(bytes);
    const sig = await signLdaStats(account, 7n, 4, hash);
    expect(await ldaStatsSigner(7n, 4, account.address, hash, sig)).toBe(account.address);
    expect(await ldaStatsSigner(7n, 5, account.address, hash, sig)).not.toBe(account.address);
  });
});
