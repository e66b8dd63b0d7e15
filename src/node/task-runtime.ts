/**
 * The tensor runtime a task trains with: the task's model and inner AdamW schedule, plus its drift
 * correction's runtime flags (`fixed-head` and `etf-head` freeze the output layer), and the task's
 * initial parameters θ0 (`etf-head` writes its designed head into them). Providers train with it
 * and validators replay with it, so a replay takes the very steps the provider took.
 */
import { type Aggregator, meanAggregator } from '../net/aggregate.ts';
import { innerOptimizerFor, type TaskSpec } from '../task/spec.ts';
import { applyEtfHead } from '../train/diloco/drift/etf-head.ts';
import { fixedHeadFlags } from '../train/diloco/drift/fixed-head.ts';
import { cnnHeadFeatures } from '../train/models/cnn.ts';
import type { MlpSpec } from '../train/models/spec.ts';
import { createRuntime } from '../train/onnx/index.ts';
import type { Runtime } from '../train/runtime.ts';
import { centeredClipAggregator, trimmedMeanAggregator } from '../verify/robust-aggregate.ts';

export type TaskRuntimeOptions = {
  /** Inner steps of the whole job (rounds × H): the length of the lr schedule. */
  totalSteps: number;
  threads?: number;
  stepsPerCall?: number;
};

export function createTaskRuntime(spec: TaskSpec, o: TaskRuntimeOptions): ReturnType<typeof createRuntime> {
  const runtime = createRuntime({
    model: spec.model,
    optimizer: innerOptimizerFor(spec, o.totalSteps),
    threads: o.threads ?? 1,
    ...(o.stepsPerCall !== undefined ? { stepsPerCall: o.stepsPerCall } : {}),
  });
  if (spec.drift === 'fixed-head' || spec.drift === 'etf-head') {
    runtime.setFrozenParams(fixedHeadFlags(runtime.paramTensors));
  }
  return runtime;
}

/**
 * Sets `runtime` to the task's initial parameters θ0 (the same on every provider and validator)
 * and returns them: the seeded init, with the simplex-ETF head for `etf-head`.
 */
export function initTaskParams(spec: TaskSpec, runtime: Runtime): Float32Array {
  runtime.init(spec.seed);
  const theta = runtime.getParams();
  if (spec.drift === 'etf-head') {
    const head =
      spec.model.kind === 'cnn'
        ? { features: cnnHeadFeatures(spec.model), classes: spec.model.classes }
        : (() => {
            const sizes = (spec.model as MlpSpec).sizes;
            return { features: sizes[sizes.length - 2], classes: sizes[sizes.length - 1] };
          })();
    applyEtfHead(theta, { ...head, seed: spec.seed });
    runtime.setParams(theta);
  }
  return theta;
}

/** The all-reduce aggregator of a task (every shard owner of the job uses the same). */
export function taskAggregator(spec: TaskSpec): Aggregator {
  switch (spec.aggregator) {
    case 'mean':
      return meanAggregator;
    case 'centered-clip':
      return centeredClipAggregator();
    case 'trimmed-mean':
      return trimmedMeanAggregator(0.25);
  }
}
