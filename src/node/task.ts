/**
 * Training tasks a node knows how to run (pure). A job's `modelSpecHash` names its task: keccak256 of
 * the canonical JSON of the task's model and hyper-parameters, so every provider can check it runs the
 * task the requester paid for.
 */
import { type Hex, keccak256, toBytes } from 'viem';
import { AgoraError } from '../errors.ts';
import type { CodecName } from '../train/codec.ts';
import type { MlpSpec } from '../train/models/spec.ts';
import type { OuterOptimizerConfig } from '../train/outer-optimizer.ts';
import type { InnerOptimizerConfig } from '../train/runtime.ts';
import { innerConfig } from '../train/schedule.ts';

export type TaskSpec = {
  task: 'mnist-mlp';
  model: MlpSpec;
  /** Per-worker batch size. */
  batchSize: number;
  lr: number;
  codec: CodecName;
  outer: OuterOptimizerConfig;
  /** Seeds the initial parameters (same on every provider). */
  seed: number;
  /**
   * Drift correction every provider's inner steps use, so a validator's replay uses it too.
   * `fixed-head`: the output layer keeps its seeded init; `etf-head`: the output layer is set to a
   * seeded simplex-ETF head before round 0 and then kept fixed (src/train/diloco/drift/; measurements
   * in docs/drift-correction.md). Part of the task, so of its `modelSpecHash`.
   */
  drift: TaskDrift;
  /**
   * How each shard owner combines the providers' Δ slices in the all-reduce (`taskAggregator`):
   * `mean`, `centered-clip` (τ = median distance, 3 iterations) or `trimmed-mean` (β 0.25).
   * Measurements in docs/swarm.md ("Aggregation"). Part of the task, so of its `modelSpecHash`.
   */
  aggregator: TaskAggregatorName;
  /**
   * What the last round does after its outer step. `lda-head`: the providers replace the output
   * layer with the closed-form LDA head of their last round's samples under the final body (two
   * small fp32 all-reduces; src/verify/lda-calibration.ts; measurements in docs/drift-correction.md);
   * validators recompute each provider's statistics. `none`: the model is the last outer step's.
   * Part of the task, so of its `modelSpecHash`.
   */
  calibration: TaskCalibration;
};

export const TASKS = ['mnist-mlp'] as const;
/** The drift corrections a job can ask for (`agora job create --drift`). */
export const TASK_DRIFTS = ['fixed-head', 'etf-head', 'none'] as const;
export type TaskDrift = (typeof TASK_DRIFTS)[number];
/** The all-reduce aggregators a job can ask for (`agora job create --aggregator`). */
export const TASK_AGGREGATORS = ['mean', 'centered-clip', 'trimmed-mean'] as const;
export type TaskAggregatorName = (typeof TASK_AGGREGATORS)[number];
/** What the last round does to the output layer (`agora job create --calibration`). */
export const TASK_CALIBRATIONS = ['lda-head', 'none'] as const;
export type TaskCalibration = (typeof TASK_CALIBRATIONS)[number];

/**
 * mnist-mlp: MLP 784-64-10, batch 32, AdamW 3e-3, int8 all-reduce, outer Nesterov SGD lr 1,
 * momentum 0.7 (DiLoCo's 0.7/0.9 overshoots under label skew), and a fixed classifier head (the
 * default drift correction for classification, `defaultDriftCorrection`). Small H (10) is what
 * keeps the label-skewed workers from drifting apart; the sweep behind these numbers is in
 * docs/swarm.md.
 */
export function taskSpec(
  task: string,
  opts: { drift?: string; aggregator?: string; calibration?: string } = {},
): TaskSpec {
  if (task !== 'mnist-mlp') {
    throw new AgoraError('UNKNOWN_TASK', `unknown task "${task}"`, {
      hint: `use one of: ${TASKS.join(', ')}`,
    });
  }
  const drift = opts.drift ?? 'fixed-head';
  if (!(TASK_DRIFTS as readonly string[]).includes(drift)) {
    throw new AgoraError('UNKNOWN_DRIFT', `unknown drift correction "${drift}"`, {
      hint: `use one of: ${TASK_DRIFTS.join(', ')}`,
    });
  }
  const aggregator = opts.aggregator ?? 'mean';
  if (!(TASK_AGGREGATORS as readonly string[]).includes(aggregator)) {
    throw new AgoraError('UNKNOWN_AGGREGATOR', `unknown aggregator "${aggregator}"`, {
      hint: `use one of: ${TASK_AGGREGATORS.join(', ')}`,
    });
  }
  const calibration = opts.calibration ?? 'lda-head';
  if (!(TASK_CALIBRATIONS as readonly string[]).includes(calibration)) {
    throw new AgoraError('UNKNOWN_CALIBRATION', `unknown calibration "${calibration}"`, {
      hint: `use one of: ${TASK_CALIBRATIONS.join(', ')}`,
    });
  }
  return {
    task,
    model: { kind: 'mlp', sizes: [784, 64, 10] },
    batchSize: 32,
    lr: 3e-3,
    codec: 'int8',
    outer: { lr: 1, momentum: 0.7, nesterov: true },
    seed: 1,
    drift: drift as TaskDrift,
    aggregator: aggregator as TaskAggregatorName,
    calibration: calibration as TaskCalibration,
  };
}

/** Every task spec this node can run: each task with each drift correction, aggregator and calibration. */
export function knownTaskSpecs(): TaskSpec[] {
  return TASKS.flatMap((t) =>
    TASK_DRIFTS.flatMap((drift) =>
      TASK_AGGREGATORS.flatMap((aggregator) =>
        TASK_CALIBRATIONS.map((calibration) => taskSpec(t, { drift, aggregator, calibration })),
      ),
    ),
  );
}

/** The task spec a job's `modelSpecHash` names, or undefined when this node does not know it. */
export function taskSpecOf(hash: Hex): TaskSpec | undefined {
  return knownTaskSpecs().find((s) => modelSpecHash(s) === hash.toLowerCase());
}

/** Canonical JSON (sorted keys, recursively). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function modelSpecHash(spec: TaskSpec): Hex {
  return keccak256(toBytes(canonical(spec)));
}

/** The inner AdamW schedule for a whole job (`totalSteps` = rounds × H). */
export function innerOptimizerFor(spec: TaskSpec, totalSteps: number): InnerOptimizerConfig {
  return innerConfig({
    lr: spec.lr,
    totalSteps,
    warmupSteps: Math.min(50, Math.floor(totalSteps / 20)),
    minLrRatio: 0.1,
  });
}
