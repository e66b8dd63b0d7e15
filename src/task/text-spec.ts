/**
 * A text job spec (`agora job create --task text`, `agora devnet --task text`): a byte-level GPT
 * (`TEXT_LM_DEFAULT` unless sized otherwise) over windows of context + 1 bytes, bits per byte.
 * DiLoCo settings of the paper (outer Nesterov lr 0.7, momentum 0.9) with a long H: the transformer
 * sends one int8 pseudo-gradient per H inner steps, ≥ 100× fewer bytes than DDP for H ≥ 30
 * (docs/tasks.md). No drift heads (they are for classifiers).
 */
import { TEXT_LM_DEFAULT } from '../train/data/text-lm.ts';
import type { TransformerSpec } from '../train/models/spec.ts';
import { validateJobSpec } from './registry.ts';
import { defaultWarmup, JOB_SPEC_VERSION, type JobSpec } from './spec.ts';

/** The text task's defaults: H, rounds, per-worker batch (windows) and inner lr. */
export const TEXT_JOB_DEFAULTS = { innerSteps: 50, rounds: 20, batchSize: 16, lr: 3e-3 } as const;

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
  const dModel = o.dModel ?? TEXT_LM_DEFAULT.dModel;
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
    outer: { lr: 0.7, momentum: 0.9, nesterov: true },
    codec: 'int8',
    seed: 1,
    drift: 'none',
    aggregator: 'mean',
    calibration: 'none',
    metric: 'bpb',
    export: ['safetensors', 'onnx'],
  });
}
