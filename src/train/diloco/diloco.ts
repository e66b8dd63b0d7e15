/**
 * DiLoCo (arXiv 2311.08105) simulated in one process, and FedAvg as its special case.
 *
 * K workers, each with its own `Runtime` (so each keeps its own AdamW state across rounds), start
 * every round from the global parameters θ, take H inner steps on batches from their own shard,
 * and send the pseudo-gradient Δ_i = θ − θ_i through the codec-compressed all-reduce
 * (AllReduceSim: exact wire bytes). The outer optimizer applies the mean Δ to θ:
 * DiLoCo = Nesterov SGD lr 0.7 momentum 0.9; FedAvg = SGD lr 1 without momentum (θ ← mean θ_i).
 */

import { AgoraError } from '../../errors.ts';
import type { Codec, CodecName } from '../codec.ts';
import { type CodecOptions, createCodec } from '../codecs/index.ts';
import { mixSeed } from '../data/rng.ts';
import { BatchSampler } from '../data/sampler.ts';
import { shardClassCounts } from '../data/sharding.ts';
import { DILOCO_OUTER, FEDAVG_OUTER, OuterOptimizer, type OuterOptimizerConfig } from '../outer-optimizer.ts';
import { hasCorrections, type InnerOptimizerConfig, type Runtime, type TensorBatch } from '../runtime.ts';
import { lrAt } from '../schedule.ts';
import { AllReduceSim } from './allreduce-sim.ts';
import { clearCorrections, type DriftCorrection } from './drift/types.ts';
import { ErrorFeedbackCodec } from './error-feedback.ts';
import { type Method, meanLoss, type RunPoint, type RunResult, type SimulationData } from './types.ts';

export type DilocoConfig = {
  /** 'diloco' (default outer: Nesterov 0.7/0.9) or 'fedavg' (outer SGD lr 1, no momentum). */
  method?: Exclude<Method, 'ddp'>;
  /** Inner steps per round (H). */
  innerSteps: number;
  rounds: number;
  /** Per-worker batch size. */
  batchSize: number;
  codec: CodecName;
  codecOptions?: CodecOptions;
  /** Override the outer optimizer (default by method). */
  outer?: OuterOptimizerConfig;
  /** Seeds parameter init and every worker's batch order. */
  seed: number;
  /** Evaluate the global model every this many rounds (default: 1, and always after the last). */
  evalEveryRounds?: number;
  /** Batches per `runtime.train` call (bounds memory; default 50). */
  chunk?: number;
  name?: string;
  onPoint?: (p: RunPoint) => void;
  /**
   * Optional drift correction (src/train/diloco/drift/, docs/drift-correction.md); default none.
   * Needs runtimes implementing `RuntimeCorrections` (createRuntime's do). Its extra payload goes
   * through its own compressed all-reduce (codec `driftCodec`, default `codec`); its bytes are
   * included in `bytesPerWorker`.
   */
  drift?: DriftCorrection;
  driftCodec?: CodecName;
  /**
   * Inner steps of each round (adaptive H), overriding `innerSteps` × `rounds` when given; e.g. a
   * short first round gives drift corrections their first estimates early. Default: H every round.
   */
  roundSteps?: readonly number[];
  /**
   * Error feedback around every lossy encode of the all-reduces (src/train/diloco/error-feedback.ts):
   * what int8/int4 did not transmit in one round is added to the next round's message (top-k has
   * its own). Default off.
   */
  errorFeedback?: boolean;
  /** The workers' inner optimizer config (for the lr schedule); required by SCAFFOLD in update space. */
  innerOptimizer?: InnerOptimizerConfig;
};

/** Fills batches for `steps` steps from `sampler` and trains, `chunk` batches per call. */
export async function trainSteps(
  rt: Runtime,
  data: SimulationData,
  sampler: BatchSampler,
  steps: number,
  chunk: number,
): Promise<number[]> {
  const losses: number[] = [];
  for (let done = 0; done < steps; ) {
    const n = Math.min(chunk, steps - done);
    const batches: TensorBatch[] = [];
    for (let b = 0; b < n; b++) batches.push(data.dataset.getBatch(sampler.next()));
    const r = await rt.train(batches);
    for (const l of r.losses) losses.push(l);
    done += n;
  }
  return losses;
}

export async function evaluateParams(
  rt: Runtime,
  params: Float32Array,
  evalBatches: readonly TensorBatch[],
): Promise<{ loss: number; accuracy?: number }> {
  rt.setParams(params);
  const r = await rt.evaluate(evalBatches);
  return r.accuracy === undefined ? { loss: r.loss } : { loss: r.loss, accuracy: r.accuracy };
}

export async function runDiloco(
  runtimes: readonly Runtime[],
  data: SimulationData,
  cfg: DilocoConfig,
): Promise<RunResult> {
  const K = runtimes.length;
  const method = cfg.method ?? 'diloco';
  if (data.shards.length !== K) {
    throw new AgoraError('DILOCO_BAD_CONFIG', `${K} runtimes but ${data.shards.length} data shards.`, {
      hint: 'Give every worker one runtime and one shard.',
    });
  }
  if (!(cfg.innerSteps >= 1 && cfg.rounds >= 1)) {
    throw new AgoraError(
      'DILOCO_BAD_CONFIG',
      `innerSteps and rounds must be ≥ 1 (got ${cfg.innerSteps}, ${cfg.rounds}).`,
    );
  }
  const schedule = cfg.roundSteps ?? Array.from({ length: cfg.rounds }, () => cfg.innerSteps);
  if (schedule.length === 0 || !schedule.every((h) => Number.isInteger(h) && h >= 1)) {
    throw new AgoraError('DILOCO_BAD_CONFIG', `roundSteps must be positive integers, got [${schedule}].`);
  }
  const roundStart: number[] = [0];
  for (const h of schedule) roundStart.push(roundStart[roundStart.length - 1] + h);
  const rounds = schedule.length;
  const t0 = performance.now();
  const drift = cfg.drift;
  for (const rt of runtimes) {
    rt.init(cfg.seed);
    if (hasCorrections(rt)) clearCorrections(rt);
    else if (drift) {
      throw new AgoraError('DILOCO_BAD_CONFIG', `Drift correction ${drift.name} needs RuntimeCorrections.`, {
        hint: 'use runtimes from createRuntime (src/train/onnx)',
      });
    }
  }
  const inner = cfg.innerOptimizer;
  const ds = data.dataset;
  drift?.init({
    ...(ds.kind === 'classification'
      ? { classCounts: shardClassCounts(data.shards, ds.labels, ds.numClasses) }
      : {}),
    workers: K,
    seed: cfg.seed,
    paramCount: runtimes[0].paramCount,
    innerSteps: cfg.innerSteps,
    roundSteps: (round: number) => ({ fromStep: roundStart[round - 1], steps: schedule[round - 1] }),
    lrSum(fromStep: number, steps: number): number {
      if (!inner) {
        throw new AgoraError('DILOCO_BAD_CONFIG', `Drift correction ${drift.name} needs innerOptimizer.`, {
          hint: 'pass the workers’ InnerOptimizerConfig as innerOptimizer',
        });
      }
      let sum = 0;
      for (let t = fromStep; t < fromStep + steps; t++) sum += lrAt(t, inner);
      return sum;
    },
  });
  // top-k keeps its own error-feedback residual: wrapping it would feed the error back twice.
  const wrap = (c: Codec): Codec => (cfg.errorFeedback && c.name !== 'topk' ? new ErrorFeedbackCodec(c) : c);
  const driftAllreduce = new AllReduceSim(K, () =>
    wrap(createCodec(cfg.driftCodec ?? cfg.codec, cfg.codecOptions)),
  );
  const theta = runtimes[0].getParams();
  drift?.initParams?.(theta);
  const outer = new OuterOptimizer(cfg.outer ?? (method === 'fedavg' ? FEDAVG_OUTER : DILOCO_OUTER));
  const samplers = data.shards.map((s, w) => new BatchSampler(s, cfg.batchSize, mixSeed(cfg.seed, w)));
  const allreduce = new AllReduceSim(K, () => wrap(createCodec(cfg.codec, cfg.codecOptions)));
  const chunk = cfg.chunk ?? 50;
  const every = cfg.evalEveryRounds ?? 1;
  const bytes = new Array<number>(K).fill(0);
  const history: RunPoint[] = [];
  let pendingLosses: number[] = [];
  const deltas: Float32Array[] = [];
  const extras: (Float32Array | undefined)[] = [];
  for (let round = 1; round <= rounds; round++) {
    deltas.length = 0;
    extras.length = 0;
    for (let w = 0; w < K; w++) {
      const rt = runtimes[w];
      rt.setParams(theta);
      if (drift && hasCorrections(rt)) drift.beforeInner(w, rt, theta, round);
      const losses = await trainSteps(rt, data, samplers[w], schedule[round - 1], chunk);
      pendingLosses = pendingLosses.concat(losses);
      const local = rt.getParams();
      const delta = new Float32Array(theta.length);
      for (let i = 0; i < delta.length; i++) delta[i] = theta[i] - local[i];
      deltas.push(delta);
      if (drift && hasCorrections(rt)) extras.push(drift.afterInner(w, rt, theta, delta, round));
    }
    const { mean, bytesSent } = allreduce.run(deltas);
    for (let w = 0; w < K; w++) bytes[w] += bytesSent[w];
    let meanExtra: Float32Array | undefined;
    if (drift && extras.some((e) => e !== undefined)) {
      const xs = extras.map((e) => e ?? new Float32Array(theta.length));
      const r = driftAllreduce.run(xs);
      for (let w = 0; w < K; w++) bytes[w] += r.bytesSent[w];
      meanExtra = r.mean;
    }
    drift?.afterAggregate(mean, meanExtra, round);
    outer.apply(theta, mean);
    if (round % every === 0 || round === rounds) {
      const ev = await evaluateParams(runtimes[0], theta, data.evalBatches);
      const p: RunPoint = {
        step: roundStart[round],
        bytesPerWorker: meanLoss(bytes),
        evalLoss: ev.loss,
        ...(ev.accuracy === undefined ? {} : { evalAccuracy: ev.accuracy }),
        trainLoss: meanLoss(pendingLosses),
      };
      pendingLosses = [];
      history.push(p);
      cfg.onPoint?.(p);
    }
  }
  if (drift) for (const rt of runtimes) if (hasCorrections(rt)) clearCorrections(rt);
  const last = history[history.length - 1];
  const steps = roundStart[rounds];
  return {
    name: cfg.name ?? `${method}${drift ? `+${drift.name}` : ''} H=${cfg.innerSteps} ${cfg.codec}`,
    method,
    H: cfg.innerSteps,
    codec: cfg.codec,
    workers: K,
    batchSize: cfg.batchSize,
    stepsPerWorker: steps,
    totalSamples: K * cfg.batchSize * steps,
    bytesPerWorker: meanLoss(bytes),
    maxBytesPerWorker: Math.max(...bytes),
    evalLoss: last.evalLoss,
    ...(last.evalAccuracy === undefined ? {} : { evalAccuracy: last.evalAccuracy }),
    wallSeconds: (performance.now() - t0) / 1000,
    history,
    params: theta,
  };
}
