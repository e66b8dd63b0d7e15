/**
 * A text job spec (`agora job create --task text`, `agora devnet --task text`): a byte-level GPT
 * (`TEXT_LM_DEFAULT`'s shape at width 64 unless sized otherwise) over windows of context + 1 bytes,
 * bits per byte.
 *
 * The defaults are chosen for DiLoCo to stay near the centralized model at equal tokens on a few
 * CPU minutes (measured in docs/tasks.md):
 * - batch 32 windows per worker: with 8 the workers' gradients are noise-dominated, each worker's
 *   AdamW step is mostly noise that averaging cancels, and the swarm lagged data parallel (batch
 *   4 × 8) by 22% at H 25, 7% even at H 2; with 32 the gap was 2%.
 * - outer step = the plain mean of the pseudo-gradients (outer lr 1, no momentum): the paper's outer
 *   Nesterov 0.7/0.9 (tuned for long H after a pretrained start) amplified the early, noisy deltas
 *   and left the swarm near the unigram entropy (4.3 bits/byte against 3.65 with the mean).
 * - H 26 with int8: one int8 pseudo-gradient per 26 inner steps, ≥ 100× fewer bytes than DDP.
 * Parity holds at the default 20 rounds but not with longer training: at 40 rounds (1,040 steps)
 * the swarm was 8–13% behind the centralized model with contiguous shards (iid: 4–8%), with these
 * and every other setting tried (`scripts/text-parity.ts`; docs/tasks.md "Open").
 * No drift heads (they are for classifiers).
 */
import { TEXT_LM_DEFAULT } from '../train/data/text-lm.ts';
import type { TransformerSpec } from '../train/models/spec.ts';
import { validateJobSpec } from './registry.ts';
import { defaultWarmup, JOB_SPEC_VERSION, type JobSpec } from './spec.ts';

/** The text task's defaults: model width, H, rounds, per-worker batch (windows), inner lr, outer step. */
export const TEXT_JOB_DEFAULTS = {
  dModel: 64,
  innerSteps: 26,
  rounds: 20,
  batchSize: 32,
  lr: 3e-3,
  outer: { lr: 1, momentum: 0, nesterov: false },
} as const;

export function textSpec(
  o: {
    context?: number;
    layers?: number;
    dModel?: number;
    heads?: number;
    innerSteps?: number;
    rounds?: number;
    batchSize?: number;
  } = {},
): JobSpec {
  const dModel = o.dModel ?? TEXT_JOB_DEFAULTS.dModel;
  const model: TransformerSpec = {
    ...TEXT_LM_DEFAULT,
    context: o.context ?? TEXT_LM_DEFAULT.context,
    layers: o.layers ?? TEXT_LM_DEFAULT.layers,
    dModel,
    heads: o.heads ?? TEXT_LM_DEFAULT.heads,
    dFF: 4 * dModel,
  };
  const innerSteps = o.innerSteps ?? TEXT_JOB_DEFAULTS.innerSteps;
  const rounds = o.rounds ?? TEXT_JOB_DEFAULTS.rounds;
  return validateJobSpec({
    version: JOB_SPEC_VERSION,
    name: 'text-byte-lm',
    kind: 'text',
    objective: 'lm',
    data: { format: 'text', window: model.context + 1 },
    preprocessing: { bytes: 'raw' },
    model,
    innerSteps,
    rounds,
    batchSize: o.batchSize ?? TEXT_JOB_DEFAULTS.batchSize,
    lr: TEXT_JOB_DEFAULTS.lr,
    schedule: { kind: 'warmup-cosine', warmupSteps: defaultWarmup(rounds * innerSteps), minLrRatio: 0.1 },
    outer: { ...TEXT_JOB_DEFAULTS.outer },
    codec: 'int8',
    seed: 1,
    drift: 'none',
    aggregator: 'mean',
    calibration: 'none',
    metric: 'bpb',
    export: ['safetensors', 'onnx'],
  });
}
