/**
 * Replay check: each round the validator re-executes a random window of W inner steps of a random
 * worker and compares the result with what the worker committed. Design and measured tolerances:
 * docs/validation-and-rewards.md §3.
 *
 * Worker side (`runTracedInnerSteps`): while taking its H inner steps of a round, the worker hashes its
 * whole inner state — params, AdamW moments m and v, step counter — at steps 0, W, 2W, …, H
 * (`innerStateHash`) and publishes the list with the round's sampler start state (`RoundTrace`,
 * committed by `roundTraceHash`). It keeps the checkpoint states until the round is settled.
 *
 * Validator side:
 * 1. `selectReplayWindow` picks (worker, window) from keccak256(jobId, round, validatorSeed), so the choice
 *    is reproducible by anyone and unknown to workers while they train (the seed is fixed before the
 *    round, e.g. committed by the validator, and revealed after the traces are published).
 * 2. It fetches the window's start state and the worker's reported end state, and checks both against
 *    the committed checkpoint hashes (bit-exact: any change of a single bit fails).
 * 3. `replayWindow` loads the start state into a real `Runtime`, regenerates the window's batches from the
 *    seeded, resumable `BatchSampler` (round start state + skip W·k batches), and trains W steps.
 * 4. `compareReplay`: relative L2 distance of the replayed end params from the reported ones, measured
 *    against the window's own displacement ‖θ_end − θ_start‖ (so a perturbation is judged against the
 *    size of the work, not of the weights), and the same for the first moment m; both ≤ tolerance.
 *    Same machine and thread count → 0 exactly (ONNX Runtime CPU kernels are deterministic); different
 *    thread counts / unrolling change float reduction order → measured ≤ ~1e-5; default tolerance 1e-3.
 */
import { type Address, bytesToHex, encodeAbiParameters, type Hex, keccak256, stringToHex } from 'viem';
import { keccak256Bytes } from '../data/keccak.ts';
import { AgoraError } from '../errors.ts';
import type { Dataset } from '../train/data/dataset.ts';
import { BatchSampler, type SamplerState } from '../train/data/sampler.ts';
import type { Runtime, TensorBatch } from '../train/runtime.ts';

/** Everything that determines the next inner steps: params, AdamW moments, step counter. */
export type InnerState = { params: Float32Array; m: Float32Array; v: Float32Array; step: number };

/** A `Runtime` whose optimizer state can be saved and restored (the ONNX runtime implements this). */
export type ReplayableRuntime = Runtime & {
  getOptimizerState(): { m: Float32Array; v: Float32Array; step: number };
  setOptimizerState(s: { m: Float32Array; v: Float32Array; step: number }): void;
};

/** Narrows a `Runtime` to a `ReplayableRuntime` (the ONNX runtime is one); throws if it cannot save its optimizer state. */
export function asReplayable(rt: Runtime): ReplayableRuntime {
  const r = rt as Partial<ReplayableRuntime>;
  if (typeof r.getOptimizerState !== 'function' || typeof r.setOptimizerState !== 'function') {
    throw new AgoraError('REPLAY_RUNTIME', 'this runtime cannot save and restore its optimizer state', {
      hint: 'use the ONNX runtime (createRuntime from src/train/onnx), which implements getOptimizerState/setOptimizerState',
    });
  }
  return rt as ReplayableRuntime;
}

export function captureState(rt: ReplayableRuntime): InnerState {
  const o = rt.getOptimizerState();
  return { params: rt.getParams(), m: o.m, v: o.v, step: o.step };
}

export function loadState(rt: ReplayableRuntime, s: InnerState): void {
  rt.setParams(s.params);
  rt.setOptimizerState({ m: s.m, v: s.v, step: s.step });
}

const STATE_TAG = new TextEncoder().encode('agora-inner-state-v1');

function f32le(v: Float32Array): Uint8Array {
  // Float32Array is little-endian on every platform Node supports (x64, arm64).
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** keccak256("agora-inner-state-v1" ‖ u64le(step) ‖ u32le(P) ‖ params ‖ m ‖ v), float32 little-endian. */
export function innerStateHash(s: InnerState): Hex {
  const n = s.params.length;
  if (s.m.length !== n || s.v.length !== n) {
    throw new AgoraError(
      'REPLAY_BAD_STATE',
      `inner state has ${n} params but ${s.m.length}/${s.v.length} moments`,
    );
  }
  // one buffer, hashed by the wasm keccak of src/data (≈ 9× noble's JS keccak on 3.6 MB states)
  const T = STATE_TAG.length;
  const buf = new Uint8Array(T + 12 + 12 * n);
  buf.set(STATE_TAG, 0);
  const dv = new DataView(buf.buffer);
  dv.setBigUint64(T, BigInt(s.step), true);
  dv.setUint32(T + 8, n, true);
  buf.set(f32le(s.params), T + 12);
  buf.set(f32le(s.m), T + 12 + 4 * n);
  buf.set(f32le(s.v), T + 12 + 8 * n);
  return bytesToHex(keccak256Bytes(buf));
}

/** What a worker publishes per round so that any window can be replayed. */
export type RoundTrace = {
  jobId: bigint;
  round: bigint;
  worker: Address;
  innerSteps: number;
  /** Steps per window W (divides innerSteps). */
  window: number;
  batchSize: number;
  /** The worker's sampler state at the round's first inner step. */
  samplerStart: SamplerState;
  /** innerStateHash at steps 0, W, …, innerSteps of the round (innerSteps/W + 1 entries). */
  checkpoints: Hex[];
};

/** keccak256 of the ABI encoding of the trace (the worker signs/publishes this). */
export function roundTraceHash(t: RoundTrace): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'uint256' },
        { type: 'address' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint32' },
        { type: 'uint64' },
        { type: 'uint64' },
        { type: 'bytes32[]' },
      ],
      [
        keccak256(stringToHex('agora-round-trace-v1')),
        t.jobId,
        t.round,
        t.worker,
        t.innerSteps,
        t.window,
        t.batchSize,
        BigInt(t.samplerStart.epoch),
        BigInt(t.samplerStart.position),
        t.checkpoints,
      ],
    ),
  );
}

function checkWindow(innerSteps: number, window: number): number {
  if (!(Number.isInteger(innerSteps) && innerSteps >= 1 && Number.isInteger(window) && window >= 1)) {
    throw new AgoraError(
      'REPLAY_BAD_WINDOW',
      `inner steps ${innerSteps} and window ${window} must be positive integers`,
    );
  }
  if (innerSteps % window !== 0) {
    throw new AgoraError(
      'REPLAY_BAD_WINDOW',
      `window ${window} does not divide the ${innerSteps} inner steps`,
      {
        hint: 'choose W with H mod W = 0, e.g. W = H/10',
      },
    );
  }
  return innerSteps / window;
}

/**
 * Worker side: takes `innerSteps` steps from the sampler's current state, hashing the inner state at
 * every window boundary. `onCheckpoint(k, state)` receives each boundary state (k = 0 … H/W) to keep
 * for the validators. Returns the checkpoint hashes, the sampler start state and the losses.
 */
export async function runTracedInnerSteps(opts: {
  runtime: ReplayableRuntime;
  dataset: Dataset;
  sampler: BatchSampler;
  innerSteps: number;
  window: number;
  onCheckpoint?: (k: number, state: InnerState) => void;
}): Promise<{ checkpoints: Hex[]; samplerStart: SamplerState; losses: number[] }> {
  const windows = checkWindow(opts.innerSteps, opts.window);
  const samplerStart = opts.sampler.state;
  const checkpoints: Hex[] = [];
  const losses: number[] = [];
  const mark = (k: number) => {
    const s = captureState(opts.runtime);
    checkpoints.push(innerStateHash(s));
    opts.onCheckpoint?.(k, s);
  };
  mark(0);
  for (let k = 1; k <= windows; k++) {
    const batches: TensorBatch[] = [];
    for (let b = 0; b < opts.window; b++) batches.push(opts.dataset.getBatch(opts.sampler.next()));
    const r = await opts.runtime.train(batches);
    losses.push(...r.losses);
    mark(k);
  }
  return { checkpoints, samplerStart, losses };
}

export type ReplaySelection = {
  /** Index into the `workers` list given to `selectReplayWindow`. */
  workerIndex: number;
  worker: Address;
  /** Window k: steps [k·W, (k+1)·W) of the round; start checkpoint k, end checkpoint k+1. */
  windowIndex: number;
  startStep: number;
  steps: number;
};

/**
 * Deterministic choice of (worker, window) from keccak256(abi.encode("agora-replay-v1", jobId, round,
 * validatorSeed)). `workers` must be in canonical order (the job's participants order).
 */
export function selectReplayWindow(opts: {
  jobId: bigint;
  round: bigint;
  validatorSeed: Hex;
  workers: readonly Address[];
  innerSteps: number;
  window: number;
}): ReplaySelection {
  const windows = checkWindow(opts.innerSteps, opts.window);
  if (opts.workers.length === 0) throw new AgoraError('REPLAY_NO_WORKERS', 'no workers to choose from');
  const seed = keccak256(
    encodeAbiParameters(
      [{ type: 'string' }, { type: 'uint256' }, { type: 'uint256' }, { type: 'bytes32' }],
      ['agora-replay-v1', opts.jobId, opts.round, opts.validatorSeed],
    ),
  );
  const x = BigInt(seed);
  const lo = x & ((1n << 128n) - 1n);
  const hi = x >> 128n;
  const workerIndex = Number(hi % BigInt(opts.workers.length));
  const windowIndex = Number(lo % BigInt(windows));
  return {
    workerIndex,
    worker: opts.workers[workerIndex],
    windowIndex,
    startStep: windowIndex * opts.window,
    steps: opts.window,
  };
}

/** A replay window: which inner steps of which shard, from which sampler state. */
export type ReplayWindowSpec = {
  shard: ArrayLike<number>;
  batchSize: number;
  samplerSeed: number;
  samplerStart: SamplerState;
  startStep: number;
  steps: number;
};

/** The sample indices of each step of the window (what the worker must have trained on). */
export function windowBatches(opts: ReplayWindowSpec): Int32Array[] {
  const s = new BatchSampler(opts.shard, opts.batchSize, opts.samplerSeed, opts.samplerStart);
  for (let i = 0; i < opts.startStep; i++) s.next();
  return Array.from({ length: opts.steps }, () => s.next());
}

/** Validator side: loads `start` into `runtime` and trains the window's batches. */
export async function replayWindow(
  opts: ReplayWindowSpec & { runtime: ReplayableRuntime; dataset: Dataset; start: InnerState },
): Promise<{ end: InnerState; losses: number[] }> {
  const idx = windowBatches(opts);
  loadState(opts.runtime, opts.start);
  const r = await opts.runtime.train(idx.map((i) => opts.dataset.getBatch(i)));
  return { end: captureState(opts.runtime), losses: r.losses };
}

export type ReplayComparison = {
  ok: boolean;
  reasons: string[];
  startHashOk: boolean;
  endHashOk: boolean;
  stepOk: boolean;
  /** ‖θ_replayed − θ_reported‖ / ‖θ_reported − θ_start‖. */
  paramDistance: number;
  /** ‖m_replayed − m_reported‖ / ‖m_reported − m_start‖. */
  momentDistance: number;
  tolerance: number;
};

/** Default tolerance on the relative distances (see module docs and docs/validation-and-rewards.md). */
export const REPLAY_TOLERANCE = 1e-3;

function relDistance(a: Float32Array, b: Float32Array, base: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += (b[i] - base[i]) ** 2;
  }
  if (d === 0) return 0;
  return n > 0 ? Math.sqrt(d / n) : Number.POSITIVE_INFINITY;
}

export function compareReplay(opts: {
  start: InnerState;
  replayed: InnerState;
  reported: InnerState;
  committedStart: Hex;
  committedEnd: Hex;
  tolerance?: number;
}): ReplayComparison {
  const tolerance = opts.tolerance ?? REPLAY_TOLERANCE;
  const reasons: string[] = [];
  const startHashOk = innerStateHash(opts.start) === opts.committedStart.toLowerCase();
  if (!startHashOk) reasons.push('the start state does not match the committed start checkpoint');
  const endHashOk = innerStateHash(opts.reported) === opts.committedEnd.toLowerCase();
  if (!endHashOk) reasons.push('the reported end state does not match the committed end checkpoint');
  const stepOk = opts.reported.step === opts.replayed.step;
  if (!stepOk) reasons.push(`reported step ${opts.reported.step}, replay reached ${opts.replayed.step}`);
  const n = opts.start.params.length;
  if (opts.reported.params.length !== n || opts.replayed.params.length !== n) {
    throw new AgoraError('REPLAY_BAD_STATE', 'start, replayed and reported states have different sizes');
  }
  const paramDistance = relDistance(opts.replayed.params, opts.reported.params, opts.start.params);
  const momentDistance = relDistance(opts.replayed.m, opts.reported.m, opts.start.m);
  if (!(paramDistance <= tolerance))
    reasons.push(
      `params differ from the replay by ${paramDistance.toExponential(3)} (tolerance ${tolerance})`,
    );
  if (!(momentDistance <= tolerance))
    reasons.push(
      `AdamW moments differ from the replay by ${momentDistance.toExponential(3)} (tolerance ${tolerance})`,
    );
  return {
    ok: reasons.length === 0,
    reasons,
    startHashOk,
    endHashOk,
    stepOk,
    paramDistance,
    momentDistance,
    tolerance,
  };
}
