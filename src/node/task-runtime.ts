/**
 * The tensor runtime a task trains with: the task's model and inner AdamW schedule, plus its drift
 * correction's runtime flags (`fixed-head` freezes the output layer). Providers train with it and
 * validators replay with it, so a replay takes the very steps the provider took.
 */
import { fixedHeadFlags } from '../train/diloco/drift/fixed-head.ts';
import { createRuntime } from '../train/onnx/index.ts';
import { innerOptimizerFor, type TaskSpec } from './task.ts';

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
  if (spec.drift === 'fixed-head') runtime.setFrozenParams(fixedHeadFlags(runtime.paramTensors));
  return runtime;
}
