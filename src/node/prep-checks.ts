/**
 * The validator's check of the providers' swarm statistics before round 0 (tabular
 * standardization; the pure rules in src/verify/prep-stats.ts, the trade-off in
 * docs/validation-and-rewards.md, "Swarm statistics"). Per worker of round 0 it takes the worker's
 * signed commitment (relayed by the coordinator, so its signature is checked here), fetches the
 * statistics (`prep-stats`, checked against the signed hash), picks `chunks` of the worker's
 * statistics chunks at random (its own randomness, after the worker signed), fetches their records
 * with Merkle proofs against the dataset root registered on chain (`prep-records`), recomputes their
 * statistics bit-exactly, and checks the sum and the committed preprocessing state.
 *
 * A statistic that does not match is provable (the worker signed it, the records are registered and
 * the preprocessing is in the committed model): `commitment-mismatch` evidence, reported through the
 * validator's fraud reports like every other check. What cannot be fetched or does not match its
 * commitments is `unverifiable`.
 */
import { type Address, getAddress, type Hex, keccak256 } from 'viem';
import type { AgoraHost } from '../net/host.ts';
import { taskOf } from '../task/registry.ts';
import type { TaskSpec } from '../task/spec.ts';
import type { PrepState } from '../task/task.ts';
import { buildEvidence, type FraudEvidence } from '../verify/evidence.ts';
import {
  decodePrepStats,
  PREP_CHUNKS_CHECKED,
  type PrepStats,
  prepChunks,
  prepStatsProblems,
  prepStatsSigner,
  sampleChunks,
} from '../verify/prep-stats.ts';
import { decodeWindowSamples } from '../verify/trace-wire.ts';
import type { CheckStatus } from './round-checks.ts';
import { fetchFromWorker } from './round-checks.ts';
import { windowSampleProblems } from './window-data.ts';

export type PrepCheck = {
  worker: Address;
  status: CheckStatus;
  reason?: string;
  /** The chunks recomputed from their records. */
  chunks: number[];
  bytesFetched: number;
  evidence?: FraudEvidence;
};

export type PrepCheckInput = {
  host: AgoraHost;
  jobId: bigint;
  spec: TaskSpec;
  /** The preprocessing state round 0's committed model carries (undefined: not available). */
  committedPrep: PrepState | undefined;
  committedModelHash: Hex;
  workers: readonly {
    worker: Address;
    statement: { hash: string; signature: string } | undefined;
    dataset: { id: bigint; root: Hex; records: number };
  }[];
  /** Chunks recomputed per worker (default `PREP_CHUNKS_CHECKED`; all of them: a full recomputation). */
  chunks?: number;
  /** The validator's randomness in [0, 1) (default Math.random). */
  random?: () => number;
  attempts?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
};

export async function checkPrepStats(i: PrepCheckInput): Promise<PrepCheck[]> {
  const out: PrepCheck[] = [];
  for (const w of i.workers) {
    const worker = getAddress(w.worker);
    const r = await checkOne(i, w).catch(
      (e: Error): PrepCheck => ({
        worker,
        status: 'unverifiable',
        reason: e.message,
        chunks: [],
        bytesFetched: 0,
      }),
    );
    out.push(r);
  }
  return out;
}

async function checkOne(i: PrepCheckInput, w: PrepCheckInput['workers'][number]): Promise<PrepCheck> {
  const worker = getAddress(w.worker);
  const task = taskOf(i.spec.kind);
  const prep = task.preparation;
  if (!prep) throw new Error('the task has no swarm statistics');
  if (!w.statement) throw new Error('no swarm statistics commitment');
  const hash = w.statement.hash as Hex;
  const signer = await prepStatsSigner(i.jobId, worker, hash, w.statement.signature as Hex).catch(
    () => undefined,
  );
  if (signer !== worker) throw new Error('the swarm statistics commitment is not signed by its worker');
  if (!i.committedPrep) throw new Error('no committed model of round 0 (its preprocessing is unknown)');
  let bytesFetched = 0;
  const got = await fetchFromWorker(i, worker, { t: 'prep-stats', jobId: i.jobId.toString() });
  if (!got.ok) throw new Error(`prep-stats: ${got.reason}`);
  if (keccak256(got.payload) !== hash) throw new Error('the statistics do not hash to the signed commitment');
  bytesFetched += got.payload.byteLength;
  const fail = (reasons: string[], chunks: number[]): PrepCheck => ({
    worker,
    status: 'fail',
    reason: reasons.join('; '),
    chunks,
    bytesFetched,
    evidence: buildEvidence({
      kind: 'commitment-mismatch',
      jobId: i.jobId,
      round: 0n,
      worker,
      details: { check: 'prep-stats', reasons, chunks, dataset: w.dataset.id.toString() },
      hashes: { prepStats: hash, model: i.committedModelHash, datasetRoot: w.dataset.root },
    }),
  });
  let stats: PrepStats;
  try {
    stats = decodePrepStats(got.payload);
  } catch (e) {
    // signed, yet not statistics at all: the worker's own fault
    return fail([(e as Error).message], []);
  }
  const ranges = prepChunks(w.dataset.records);
  const L = prep.length(i.spec);
  if (stats.partials.length !== ranges.length || stats.local.length !== L)
    return fail(
      [`statistics of ${stats.partials.length} chunks × ${stats.local.length}, not ${ranges.length} × ${L}`],
      [],
    );
  const picked = sampleChunks(ranges.length, i.chunks ?? PREP_CHUNKS_CHECKED, i.random);
  const recomputed = new Map<number, Float64Array>();
  for (const c of picked) {
    const { from, to } = ranges[c];
    if (to === from) {
      recomputed.set(c, new Float64Array(L));
      continue;
    }
    const r = await fetchFromWorker(i, worker, { t: 'prep-records', jobId: i.jobId.toString(), from, to });
    if (!r.ok) throw new Error(`prep-records ${from}..${to}: ${r.reason}`);
    bytesFetched += r.payload.byteLength;
    const samples = decodeWindowSamples(r.payload);
    const expected = Int32Array.from({ length: to - from }, (_, k) => from + k);
    const problems = windowSampleProblems(samples, [expected], w.dataset.root);
    if (problems.length > 0) throw new Error(`chunk ${c} records: ${problems.join('; ')}`);
    const records = [...samples.records].sort((a, b) => a.index - b.index);
    const data = task.windowDataset(i.spec, records);
    recomputed.set(c, prep.chunk(i.spec, data, 0, records.length));
  }
  const problems = prepStatsProblems({
    stats,
    records: w.dataset.records,
    length: L,
    recomputed,
    committedPrep: i.committedPrep,
    fromReduced: (v) => prep.fromReduced(i.spec, v),
  });
  if (problems.length > 0) return fail(problems, picked);
  return { worker, status: 'pass', chunks: picked, bytesFetched };
}
