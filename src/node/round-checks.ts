/**
 * The validator's proof-based checks of one worker's committed round (docs/validation-and-rewards.md
 * §3, docs/swarm.md "Across processes"). Inputs are all signed or on chain: the worker's round trace
 * (signed), its Δ (hashing to its signed record's pseudo-gradient hash), the committed model the
 * round started from, its provenance record (signed through the sample root) and its dataset root
 * (DataRegistry). Fetched from the worker over `/agora/round/1`: trace states (`trace-state`) and
 * window samples (`window-samples`).
 *
 *   samples  the provenance's sample indices are exactly those the trace's sampler yields over H steps
 *   link     Δ == f32(θ_start − θ_final) bit-exactly, θ_final from the trace's last state
 *   start    (window 0) the first state's params are θ_start bit-exactly
 *   replay   window k: start and end states hash to checkpoints k and k+1, the served samples are the
 *            sampler's and in the registered dataset, and retraining them reproduces the end state
 *            within REPLAY_TOLERANCE (`compareReplay`)
 *
 * A failed check yields fraud evidence. Anything the validator cannot get or check (peer down, a
 * refusal, bytes that do not hash to the signed commitments, records without a valid proof) makes
 * the check `unverifiable`: logged and persisted, never reported, because it proves nothing about
 * the worker's training to a third party.
 */
import { type Address, encodeAbiParameters, type Hex, keccak256 } from 'viem';
import type { ProvenanceRecord } from '../data/provenance.ts';
import { AgoraError } from '../errors.ts';
import type { AgoraHost } from '../net/host.ts';
import type { TaskSpec } from '../task/spec.ts';
import type { PrepState } from '../task/task.ts';
import { mixSeed } from '../train/data/rng.ts';
import { buildEvidence, evidenceFromReplay, type FraudEvidence } from '../verify/evidence.ts';
import { checkDeltaLink, evidenceFromLink, sameBits } from '../verify/link-check.ts';
import {
  compareReplay,
  type InnerState,
  innerStateHash,
  type ReplayableRuntime,
  type RoundTrace,
  replayWindow,
  roundTraceHash,
  windowBatches,
} from '../verify/replay.ts';
import { decodeInnerState, decodeWindowSamples } from '../verify/trace-wire.ts';
import { peerOf } from './job-sync.ts';
import { type RoundRequestOf, roundRequest } from './round-protocol.ts';
import { windowDataset, windowSampleProblems } from './window-data.ts';

export type CheckStatus = 'pass' | 'fail' | 'unverifiable' | 'skipped';

export type ReplayResult = {
  window: number;
  status: CheckStatus;
  reason?: string;
  paramDistance?: number;
  momentDistance?: number;
  /** Wall time of the replay itself (training W steps). */
  replayMs?: number;
};

export type WorkerRoundCheck = {
  worker: Address;
  samples: { status: CheckStatus; reason?: string };
  link: { status: CheckStatus; reason?: string; cosine?: number; normRatio?: number; mismatched?: number };
  replays: ReplayResult[];
  /** The last round of an `lda-head` job: the check of its LDA statistics (src/node/lda-checks.ts). */
  lda?: { status: CheckStatus; reason?: string };
  /** Round 0 of a task with swarm statistics: the check of its statistics (src/node/prep-checks.ts). */
  prep?: { status: CheckStatus; reason?: string; chunks?: number[] };
  /** Bytes fetched from the worker for these checks (states and window samples). */
  bytesFetched: number;
  /** Set when a check failed: what the validator reports. */
  evidence?: FraudEvidence;
};

/**
 * The replay seed of a committed round: keccak256(abi.encode("agora-replay-seed-v1", recordsRoot,
 * modelHash)) of its commit on chain — unknown to the workers while they train, fixed once committed.
 */
export function replaySeed(recordsRoot: Hex, modelHash: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'bytes32' }, { type: 'bytes32' }],
      ['agora-replay-seed-v1', recordsRoot, modelHash],
    ),
  );
}

export type WorkerRoundInput = {
  host: AgoraHost;
  jobId: bigint;
  round: number;
  spec: TaskSpec;
  /** The task's swarm statistics (from a committed checkpoint), for decoding records. */
  prep?: PrepState;
  trace: RoundTrace;
  traceSignature: Hex;
  provenance: ProvenanceRecord;
  /** The worker's Δ, already checked against its signed pseudo-gradient hash (undefined: not fetched). */
  delta: Float32Array | undefined;
  /** The committed model the round started from (undefined: not available). */
  thetaStart: Float32Array | undefined;
  /** Its hash on chain (round 0: zero). */
  startModelHash: Hex;
  /** The worker's dataset: id (from its provenance), root and record count (from the chain). */
  dataset: { id: bigint; root: Hex; records: number };
  /** Windows to replay (each k in 0 … H/W − 1). */
  windows: readonly number[];
  runtime: ReplayableRuntime;
  tolerance?: number;
  /** Tries per fetch (default 3) and the pause between them (default 1 s). */
  attempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
};

class Unverifiable extends Error {}

/**
 * One binary payload from a worker (`trace-state`, `window-samples`, `lda-stats`), tried `attempts`
 * times (default 3) with `retryDelayMs` (default 1 s) between; `ok: false` with the last reason when
 * no try succeeded.
 */
export async function fetchFromWorker(
  i: { host: AgoraHost; attempts?: number; retryDelayMs?: number; timeoutMs?: number; signal?: AbortSignal },
  worker: Address,
  req: RoundRequestOf<'trace-state' | 'window-samples' | 'lda-stats' | 'prep-stats' | 'prep-records'>,
): Promise<{ ok: true; payload: Uint8Array } | { ok: false; reason: string }> {
  const attempts = i.attempts ?? 3;
  let last = 'not connected';
  for (let a = 0; a < attempts && !i.signal?.aborted; a++) {
    if (a > 0) await new Promise((r) => setTimeout(r, i.retryDelayMs ?? 1000));
    const p = peerOf(i.host, worker);
    if (!p) continue;
    const r = await roundRequest(i.host, p, req, {
      timeoutMs: i.timeoutMs ?? 10_000,
      maxPayloadBytes: 256 * 1024 * 1024,
    }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
    // a plain copy (a received Buffer's slice() would be a view into its pool)
    if (r.ok && r.payload) return { ok: true, payload: new Uint8Array(r.payload) };
    last = r.ok ? 'no payload' : r.reason;
  }
  return { ok: false, reason: last };
}

export async function checkWorkerRound(i: WorkerRoundInput): Promise<WorkerRoundCheck> {
  const { trace } = i;
  const worker = trace.worker;
  const out: WorkerRoundCheck = {
    worker,
    samples: { status: 'skipped' },
    link: { status: 'skipped' },
    replays: [],
    bytesFetched: 0,
  };
  const W = trace.window;
  const windows = trace.innerSteps / W;
  const shard = Int32Array.from({ length: i.dataset.records }, (_, k) => k);
  const samplerSeed = mixSeed(i.spec.seed, Number(i.dataset.id));
  const stepsOf = (startStep: number, steps: number) =>
    windowBatches({
      shard,
      batchSize: trace.batchSize,
      samplerSeed,
      samplerStart: trace.samplerStart,
      startStep,
      steps,
    });

  // ---- samples: the signed provenance is what the signed trace's sampler yields
  const all = new Set(stepsOf(0, trace.innerSteps).flatMap((s) => Array.from(s)));
  const claimed = i.provenance.samplePairs[i.dataset.id.toString()] ?? [];
  const otherIds = Object.keys(i.provenance.samplePairs).filter((d) => d !== i.dataset.id.toString());
  const samplesOk =
    otherIds.length === 0 &&
    claimed.length === all.size &&
    claimed.every((x) => all.has(x)) &&
    BigInt(i.provenance.samples) === BigInt(trace.innerSteps * trace.batchSize);
  out.samples = samplesOk
    ? { status: 'pass' }
    : { status: 'fail', reason: "the provenance's samples are not the trace's sampler's" };
  if (!samplesOk) {
    out.evidence = buildEvidence({
      kind: 'commitment-mismatch',
      jobId: trace.jobId,
      round: trace.round,
      worker,
      details: {
        check: 'samples',
        reason: out.samples.reason,
        claimed: claimed.length,
        expected: all.size,
        otherDatasets: otherIds,
        samplerStart: trace.samplerStart,
        batchSize: trace.batchSize,
        traceSignature: i.traceSignature,
      },
      hashes: { trace: roundTraceHash(trace), sampleRoot: i.provenance.sampleRoot },
    });
  }

  // ---- fetching from the worker, with retries; a fetch that never succeeds is `Unverifiable`
  const fetch = async (t: 'trace-state' | 'window-samples', k: number): Promise<Uint8Array> => {
    const r = await fetchFromWorker(i, worker, { t, jobId: i.jobId.toString(), round: i.round, k });
    if (!r.ok) throw new Unverifiable(`${t} ${k}: ${r.reason}`);
    out.bytesFetched += r.payload.byteLength;
    return r.payload;
  };
  const states = new Map<number, InnerState>();
  const state = async (k: number): Promise<InnerState> => {
    const have = states.get(k);
    if (have) return have;
    let s: InnerState;
    try {
      s = decodeInnerState(await fetch('trace-state', k), i.runtime.paramCount);
    } catch (e) {
      if (e instanceof Unverifiable) throw e;
      throw new Unverifiable(`trace-state ${k}: ${(e as Error).message}`);
    }
    if (innerStateHash(s) !== trace.checkpoints[k])
      throw new Unverifiable(`trace state ${k} does not hash to the signed checkpoint ${k}`);
    states.set(k, s);
    return s;
  };

  // ---- link: Δ is θ_start − θ_final of the signed trace
  if (!i.delta || !i.thetaStart) {
    out.link = { status: 'unverifiable', reason: i.delta ? 'no start model' : 'no Δ from the worker' };
  } else {
    try {
      const final = await state(windows);
      const c = checkDeltaLink({
        delta: i.delta,
        thetaStart: i.thetaStart,
        final,
        committedFinal: trace.checkpoints[windows],
      });
      out.link = {
        status: c.ok ? 'pass' : 'fail',
        ...(c.ok ? {} : { reason: c.reasons.join('; ') }),
        cosine: c.cosine,
        normRatio: c.normRatio,
        mismatched: c.mismatched,
      };
      if (!c.ok)
        out.evidence ??= evidenceFromLink(c, trace, {
          pseudoGradientHash: i.provenance.pseudoGradientHash,
          traceSignature: i.traceSignature,
          startModelHash: i.startModelHash,
        });
    } catch (e) {
      if (!(e instanceof Unverifiable)) throw e;
      out.link = { status: 'unverifiable', reason: e.message };
    }
  }

  // ---- replays (after one unverifiable window the others are skipped: the worker is not serving)
  let gaveUp = false;
  for (const k of i.windows) {
    if (out.evidence || gaveUp || i.signal?.aborted) {
      out.replays.push({ window: k, status: 'skipped' });
      continue;
    }
    if (!Number.isInteger(k) || k < 0 || k >= windows) {
      throw new AgoraError('REPLAY_BAD_WINDOW', `window ${k} is outside 0..${windows - 1}`);
    }
    try {
      const start = await state(k);
      if (k === 0 && i.thetaStart && !sameBits(start.params, i.thetaStart)) {
        out.replays.push({ window: k, status: 'fail', reason: 'the first state is not the committed model' });
        out.evidence = buildEvidence({
          kind: 'commitment-mismatch',
          jobId: trace.jobId,
          round: trace.round,
          worker,
          details: { check: 'start', traceSignature: i.traceSignature },
          hashes: {
            trace: roundTraceHash(trace),
            startCheckpoint: trace.checkpoints[0],
            startModel: i.startModelHash,
          },
        });
        continue;
      }
      const end = await state(k + 1);
      let samples: ReturnType<typeof decodeWindowSamples>;
      try {
        samples = decodeWindowSamples(await fetch('window-samples', k));
      } catch (e) {
        if (e instanceof Unverifiable) throw e;
        throw new Unverifiable((e as Error).message);
      }
      const expected = stepsOf(k * W, W);
      const problems = windowSampleProblems(samples, expected, i.dataset.root);
      if (problems.length > 0) throw new Unverifiable(`window ${k} samples: ${problems.join('; ')}`);
      let dataset: ReturnType<typeof windowDataset>;
      try {
        dataset = windowDataset(samples.records, i.spec, i.prep);
      } catch (e) {
        throw new Unverifiable((e as Error).message);
      }
      const t0 = performance.now();
      const r = await replayWindow({
        runtime: i.runtime,
        dataset,
        start,
        shard,
        batchSize: trace.batchSize,
        samplerSeed,
        samplerStart: trace.samplerStart,
        startStep: k * W,
        steps: W,
      });
      const replayMs = performance.now() - t0;
      const c = compareReplay({
        start,
        replayed: r.end,
        reported: end,
        committedStart: trace.checkpoints[k],
        committedEnd: trace.checkpoints[k + 1],
        tolerance: i.tolerance,
      });
      out.replays.push({
        window: k,
        status: c.ok ? 'pass' : 'fail',
        ...(c.ok ? {} : { reason: c.reasons.join('; ') }),
        paramDistance: c.paramDistance,
        momentDistance: c.momentDistance,
        replayMs,
      });
      if (!c.ok) {
        out.evidence = evidenceFromReplay(c, trace, {
          workerIndex: 0,
          worker,
          windowIndex: k,
          startStep: k * W,
          steps: W,
        });
      }
    } catch (e) {
      if (!(e instanceof Unverifiable)) throw e;
      out.replays.push({ window: k, status: 'unverifiable', reason: e.message });
      gaveUp = true;
    }
  }
  return out;
}
