/**
 * Named job specs (`agora job create --preset NAME`, `agora job spec --preset NAME`). `mnist-mlp`
 * is the job every earlier version of agora ran: MLP 784-64-10 on IDX digits, batch 32, AdamW 3e-3
 * (warmup 5% up to 50 steps, cosine to 0.1×), int8 all-reduce, outer Nesterov SGD lr 1 momentum 0.7
 * (DiLoCo's 0.7/0.9 overshoots under label skew), a fixed classifier head and the LDA head in the
 * last round; small H (10) is what keeps label-skewed workers from drifting apart (docs/swarm.md).
 */
import { AgoraError } from '../errors.ts';
import { validateJobSpec } from './registry.ts';
import {
  defaultDilocoSettings,
  JOB_SPEC_VERSION,
  type JobSpec,
  TASK_AGGREGATORS,
  TASK_CALIBRATIONS,
  TASK_DRIFTS,
  type TaskAggregatorName,
  type TaskCalibration,
  type TaskDrift,
} from './spec.ts';

export const PRESETS = ['mnist-mlp'] as const;

/** Options every preset takes (the job's DiLoCo size and its robustness choices). */
export type PresetOptions = {
  innerSteps?: number;
  rounds?: number;
  drift?: string;
  aggregator?: string;
  calibration?: string;
};

function pick<T extends string>(
  v: string | undefined,
  all: readonly T[],
  fallback: T,
  what: string,
  code: string,
): T {
  const x = v ?? fallback;
  if (!(all as readonly string[]).includes(x)) {
    throw new AgoraError(code, `unknown ${what} "${x}"`, { hint: `use one of: ${all.join(', ')}` });
  }
  return x as T;
}

/** The common robustness options of a preset, checked. */
export function presetChoices(
  o: PresetOptions,
  defaults: { drift: TaskDrift; calibration: TaskCalibration },
) {
  return {
    drift: pick(o.drift, TASK_DRIFTS, defaults.drift, 'drift correction', 'UNKNOWN_DRIFT'),
    aggregator: pick<TaskAggregatorName>(
      o.aggregator,
      TASK_AGGREGATORS,
      'mean',
      'aggregator',
      'UNKNOWN_AGGREGATOR',
    ),
    calibration: pick(
      o.calibration,
      TASK_CALIBRATIONS,
      defaults.calibration,
      'calibration',
      'UNKNOWN_CALIBRATION',
    ),
  };
}

export function mnistMlpPreset(o: PresetOptions = {}): JobSpec {
  const innerSteps = o.innerSteps ?? 10;
  const rounds = o.rounds ?? 100;
  return validateJobSpec({
    version: JOB_SPEC_VERSION,
    name: 'mnist-mlp',
    kind: 'image',
    objective: 'classification',
    data: { format: 'idx', shape: [28, 28], classes: 10 },
    preprocessing: { scale: 'unit' },
    model: { kind: 'mlp', sizes: [784, 64, 10] },
    ...defaultDilocoSettings(innerSteps, rounds),
    ...presetChoices(o, { drift: 'fixed-head', calibration: 'lda-head' }),
    metric: 'accuracy',
    export: ['safetensors', 'onnx'],
  });
}

/** A preset by name. */
export function presetSpec(name: string, o: PresetOptions = {}): JobSpec {
  if (name === 'mnist-mlp') return mnistMlpPreset(o);
  throw new AgoraError('UNKNOWN_TASK', `unknown preset "${name}"`, {
    hint: `use one of: ${PRESETS.join(', ')}, or write a spec file (docs/tasks.md) and pass --spec FILE`,
  });
}
