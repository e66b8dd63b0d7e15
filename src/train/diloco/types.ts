/** Shared types of the simulated training algorithms (DiLoCo, FedAvg, DDP). */
import type { CodecName } from '../codec.ts';
import type { Dataset } from '../data/dataset.ts';
import type { TensorBatch } from '../runtime.ts';

export type Method = 'ddp' | 'fedavg' | 'diloco';

/** What every simulated run trains and evaluates on. */
export type SimulationData = {
  dataset: Dataset;
  /** One shard (global sample indices) per worker. */
  shards: readonly Int32Array[];
  /** Held-out batches for evaluation of the global model. */
  evalBatches: readonly TensorBatch[];
};

/** One evaluation of the global model during a run. */
export type RunPoint = {
  /** Inner optimizer steps per worker so far (= DDP steps). */
  step: number;
  /** Mean over workers of bytes sent so far. */
  bytesPerWorker: number;
  evalLoss: number;
  evalAccuracy?: number;
  /** Mean training loss over the steps since the previous point. */
  trainLoss: number;
};

export type RunResult = {
  name: string;
  method: Method;
  /** Inner steps per round (1 for DDP). */
  H: number;
  codec: CodecName;
  workers: number;
  /** Per-worker batch size (DDP's global batch is workers × batchSize). */
  batchSize: number;
  stepsPerWorker: number;
  /** Samples processed by all workers together. */
  totalSamples: number;
  /** Mean over workers of the total bytes sent. */
  bytesPerWorker: number;
  maxBytesPerWorker: number;
  evalLoss: number;
  evalAccuracy?: number;
  wallSeconds: number;
  history: RunPoint[];
  /** Final global parameters. */
  params: Float32Array;
};

export function meanLoss(losses: readonly number[]): number {
  if (losses.length === 0) return Number.NaN;
  let s = 0;
  for (const l of losses) s += l;
  return s / losses.length;
}
