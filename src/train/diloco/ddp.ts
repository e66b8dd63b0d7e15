/**
 * The data-parallel (DDP) baseline, simulated exactly: with gradients averaged every step, K
 * workers each computing the mean-loss gradient of their own batch of B and averaging equals one
 * model taking a step on the K·B concatenated batch with mean loss. So one runtime trains on the
 * concatenation of the K workers' batches (drawn from the same shards and samplers as DiLoCo,
 * hence the same samples), and bytes are counted as a ring all-reduce of fp32 gradients every
 * step (`ddpBytesPerStep`).
 *
 * (Exact up to AdamW being applied once to the averaged gradient — which is what DDP does — and
 * gradient clipping acting on the global-batch gradient, as in DDP.)
 */
import { mixSeed } from '../data/rng.ts';
import { BatchSampler } from '../data/sampler.ts';
import type { Runtime, TensorBatch } from '../runtime.ts';
import { ddpBytesPerStep } from './bytes.ts';
import { evaluateParams } from './diloco.ts';
import { meanLoss, type RunPoint, type RunResult, type SimulationData } from './types.ts';

export type DdpConfig = {
  workers: number;
  steps: number;
  /** Per-worker batch size (the runtime sees workers × batchSize). */
  batchSize: number;
  seed: number;
  /** Evaluate every this many steps (and after the last). */
  evalEverySteps: number;
  chunk?: number;
  name?: string;
  onPoint?: (p: RunPoint) => void;
};

export async function runDdp(rt: Runtime, data: SimulationData, cfg: DdpConfig): Promise<RunResult> {
  const t0 = performance.now();
  const K = cfg.workers;
  rt.init(cfg.seed);
  const samplers = data.shards.map((s, w) => new BatchSampler(s, cfg.batchSize, mixSeed(cfg.seed, w)));
  const perStep = ddpBytesPerStep(rt.paramCount, K);
  const chunk = cfg.chunk ?? 50;
  const history: RunPoint[] = [];
  let pending: number[] = [];
  let done = 0;
  const idx = new Int32Array(K * cfg.batchSize);
  while (done < cfg.steps) {
    const untilEval = cfg.evalEverySteps - (done % cfg.evalEverySteps);
    const n = Math.min(chunk, cfg.steps - done, untilEval);
    const batches: TensorBatch[] = [];
    for (let b = 0; b < n; b++) {
      for (let w = 0; w < K; w++) idx.set(samplers[w].next(), w * cfg.batchSize);
      batches.push(data.dataset.getBatch(idx));
    }
    const r = await rt.train(batches);
    pending = pending.concat(r.losses);
    done += n;
    if (done % cfg.evalEverySteps === 0 || done === cfg.steps) {
      const params = rt.getParams();
      const ev = await evaluateParams(rt, params, data.evalBatches);
      const p: RunPoint = {
        step: done,
        bytesPerWorker: perStep * done,
        evalLoss: ev.loss,
        ...(ev.accuracy === undefined ? {} : { evalAccuracy: ev.accuracy }),
        trainLoss: meanLoss(pending),
      };
      pending = [];
      history.push(p);
      cfg.onPoint?.(p);
    }
  }
  const last = history[history.length - 1];
  return {
    name: cfg.name ?? 'ddp',
    method: 'ddp',
    H: 1,
    codec: 'fp32',
    workers: K,
    batchSize: cfg.batchSize,
    stepsPerWorker: cfg.steps,
    totalSamples: K * cfg.batchSize * cfg.steps,
    bytesPerWorker: perStep * cfg.steps,
    maxBytesPerWorker: perStep * cfg.steps,
    evalLoss: last.evalLoss,
    ...(last.evalAccuracy === undefined ? {} : { evalAccuracy: last.evalAccuracy }),
    wallSeconds: (performance.now() - t0) / 1000,
    history,
    params: rt.getParams(),
  };
}
