/**
 * The validator's check of the LDA head of an `lda-head` job's last round (docs/drift-correction.md,
 * "The LDA head in the node"; the pure rules in src/verify/lda-calibration.ts). Per worker it takes
 * the worker's signed commitment (relayed by the coordinator, so its signature is checked here),
 * fetches the statistics (`lda-stats`, checked against the signed hash) and every window's samples
 * of the worker's last round (`window-samples`, checked against the trace's sampler and the
 * registered dataset root), and recomputes the statistics under the committed model.
 *
 * A statistic that does not match is provable (the worker signed it, the samples and the model are
 * committed): fraud evidence. What cannot be fetched or does not match its commitments is
 * `unverifiable`, as in the round checks (src/node/round-checks.ts).
 */
import { type Address, getAddress, type Hex, keccak256 } from 'viem';
import type { AgoraHost } from '../net/host.ts';
import type { TaskSpec } from '../task/spec.ts';
import type { PrepState } from '../task/task.ts';
import { mixSeed } from '../train/data/rng.ts';
import type { MlpSpec } from '../train/models/spec.ts';
import { buildEvidence, type FraudEvidence } from '../verify/evidence.ts';
import {
  decodeLdaStats,
  isCommittedLdaHead,
  type LdaStats,
  ldaShapeOf,
  ldaStatsProblems,
  ldaStatsSigner,
} from '../verify/lda-calibration.ts';
import { type RoundTrace, roundTraceHash, windowBatches } from '../verify/replay.ts';
import { decodeWindowSamples, type WindowRecord } from '../verify/trace-wire.ts';
import type { CheckStatus } from './round-checks.ts';
import { fetchFromWorker } from './round-checks.ts';
import { windowDataset, windowSampleProblems } from './window-data.ts';

export type LdaCheck = {
  worker: Address;
  status: CheckStatus;
  reason?: string;
  bytesFetched: number;
  evidence?: FraudEvidence;
};

export type LdaCheckInput = {
  host: AgoraHost;
  jobId: bigint;
  round: number;
  spec: TaskSpec;
  prep?: PrepState;
  /** The committed model of the round (undefined: not available) and its hash on chain. */
  committed: Float32Array | undefined;
  committedModelHash: Hex;
  workers: readonly {
    trace: RoundTrace;
    traceSignature: Hex;
    statement: { hash: string; signature: string } | undefined;
    dataset: { id: bigint; root: Hex; records: number };
  }[];
  attempts?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
};

type Fetched = {
  worker: Address;
  trace: RoundTrace;
  traceSignature: Hex;
  hash: Hex;
  stats: LdaStats | undefined;
  inputs: Float32Array;
  labels: Int32Array;
  bytesFetched: number;
};

export async function checkLdaStats(i: LdaCheckInput): Promise<LdaCheck[]> {
  const out: LdaCheck[] = [];
  const fetched: Fetched[] = [];
  const shape = ldaShapeOf((i.spec.model as MlpSpec).sizes);
  for (const w of i.workers) {
    const worker = getAddress(w.trace.worker);
    const r = await fetchOne(i, w, shape).catch((e: Error) => e.message);
    if (typeof r === 'string') out.push({ worker, status: 'unverifiable', reason: r, bytesFetched: 0 });
    else fetched.push(r);
  }
  if (!i.committed) {
    for (const f of fetched) {
      out.push({
        worker: f.worker,
        status: 'unverifiable',
        reason: 'no committed model',
        bytesFetched: f.bytesFetched,
      });
    }
    return out;
  }
  const committed = i.committed;
  const sizes = (i.spec.model as MlpSpec).sizes;
  const ldaCommitted = fetched.some((f) => f.stats && isCommittedLdaHead(committed, sizes, f.stats));
  for (const f of fetched) {
    const problems = f.stats
      ? ldaStatsProblems({
          committed,
          sizes,
          inputs: f.inputs,
          labels: f.labels,
          stats: f.stats,
          ldaCommitted,
        })
      : ["the signed LDA statistics are not of the task's shape"];
    if (problems.length === 0) {
      out.push({ worker: f.worker, status: 'pass', bytesFetched: f.bytesFetched });
      continue;
    }
    out.push({
      worker: f.worker,
      status: 'fail',
      reason: problems.join('; '),
      bytesFetched: f.bytesFetched,
      evidence: buildEvidence({
        kind: 'commitment-mismatch',
        jobId: i.jobId,
        round: BigInt(i.round),
        worker: f.worker,
        details: {
          check: 'lda-stats',
          reasons: problems,
          samples: f.labels.length,
          traceSignature: f.traceSignature,
        },
        hashes: { ldaStats: f.hash, trace: roundTraceHash(f.trace), model: i.committedModelHash },
      }),
    });
  }
  return out;
}

/** A worker's signed statistics and its last round's samples (inputs, labels in step order); throws why not. */
async function fetchOne(
  i: LdaCheckInput,
  w: LdaCheckInput['workers'][number],
  shape: ReturnType<typeof ldaShapeOf>,
): Promise<Fetched> {
  const { trace } = w;
  const worker = getAddress(trace.worker);
  if (!w.statement) throw new Error('no LDA statistics commitment');
  const hash = w.statement.hash as Hex;
  const signer = await ldaStatsSigner(i.jobId, i.round, worker, hash, w.statement.signature as Hex).catch(
    () => undefined,
  );
  if (signer !== worker) throw new Error('the LDA statistics commitment is not signed by its worker');
  let bytesFetched = 0;
  const req = { jobId: i.jobId.toString(), round: i.round };
  const got = await fetchFromWorker(i, worker, { t: 'lda-stats', ...req });
  if (!got.ok) throw new Error(`lda-stats: ${got.reason}`);
  if (keccak256(got.payload) !== hash)
    throw new Error('the LDA statistics do not hash to the signed commitment');
  bytesFetched += got.payload.byteLength;
  let stats: LdaStats | undefined;
  try {
    stats = decodeLdaStats(got.payload, shape);
  } catch {
    stats = undefined; // signed, yet not of the task's shape: the worker's own fault
  }
  // every window's samples, checked against the trace's sampler and the registered root
  const W = trace.window;
  const steps = windowBatches({
    shard: Int32Array.from({ length: w.dataset.records }, (_, k) => k),
    batchSize: trace.batchSize,
    samplerSeed: mixSeed(i.spec.seed, Number(w.dataset.id)),
    samplerStart: trace.samplerStart,
    startStep: 0,
    steps: trace.innerSteps,
  });
  const records = new Map<number, WindowRecord>();
  for (let k = 0; k < trace.innerSteps / W; k++) {
    const s = await fetchFromWorker(i, worker, { t: 'window-samples', ...req, k });
    if (!s.ok) throw new Error(`window-samples ${k}: ${s.reason}`);
    bytesFetched += s.payload.byteLength;
    const samples = decodeWindowSamples(s.payload);
    const problems = windowSampleProblems(samples, steps.slice(k * W, (k + 1) * W), w.dataset.root);
    if (problems.length > 0) throw new Error(`window ${k} samples: ${problems.join('; ')}`);
    for (const r of samples.records) records.set(r.index, r);
  }
  const batch = windowDataset([...records.values()], i.spec, i.prep).getBatch(
    steps.flatMap((s) => Array.from(s)),
  );
  return {
    worker,
    trace,
    traceSignature: w.traceSignature,
    hash,
    stats,
    inputs: batch.inputs as Float32Array,
    labels: batch.targets as Int32Array, // an LDA head is for classification: integer labels
    bytesFetched,
  };
}
