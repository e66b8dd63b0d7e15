/**
 * Fixed classifier head (FedBABU, Oh et al. ICLR 2022; fixed classifiers under label skew, e.g.
 * FedETF, Li et al. 2023): the last `tensors` parameter tensors (the output layer's weight and
 * bias for an MLP) keep their seeded initial values; the inner steps train only the body
 * (RuntimeFreezing.setFrozenParams).
 *
 * Why it fights client drift: under label skew most of the drift sits in the output layer. A
 * worker that never sees class c drives c's output row and bias down for every input, so the
 * average of the local heads under-predicts each class on the workers that lack it. With the head
 * fixed, a worker can only move its features toward its classes' (fixed, shared) directions and
 * away from the others', which is also what the global objective asks. The head's pseudo-gradient
 * is exactly 0, so the global head stays at its init. Zero extra bytes; purely local.
 */
import { AgoraError } from '../../../errors.ts';
import { hasFreezing, type Runtime, type RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

/**
 * The `setFrozenParams` flags that fix the last `tensors` of `paramTensors` parameter tensors (the
 * output layer of an MLP for tensors = 2). What a node passes to `Runtime.setFrozenParams` before
 * its inner steps when it applies the default (FixedHead) outside `runDiloco`.
 */
export function fixedHeadFlags(paramTensors: number, tensors = 2): boolean[] {
  if (!(Number.isInteger(tensors) && tensors >= 1 && tensors < paramTensors)) {
    throw new AgoraError(
      'DRIFT_BAD_CONFIG',
      `FixedHead would freeze ${tensors} of ${paramTensors} tensors.`,
      {
        hint: 'the model needs at least one trainable tensor besides the head',
      },
    );
  }
  return Array.from({ length: paramTensors }, (_, i) => i >= paramTensors - tensors);
}

export class FixedHead implements DriftCorrection {
  readonly name: string;
  /** How many trailing parameter tensors are frozen (2: an MLP's last weight and bias). */
  readonly tensors: number;

  constructor(opts: { tensors?: number } = {}) {
    this.tensors = opts.tensors ?? 2;
    if (!(Number.isInteger(this.tensors) && this.tensors >= 1)) {
      throw new AgoraError(
        'DRIFT_BAD_CONFIG',
        `FixedHead tensors must be a positive integer, got ${this.tensors}.`,
      );
    }
    this.name = this.tensors === 2 ? 'fixed-head' : `fixed-head(${this.tensors})`;
  }

  init(_ctx: DriftContext): void {}

  beforeInner(_w: number, rt: Runtime & RuntimeCorrections): void {
    if (!hasFreezing(rt)) {
      throw new AgoraError('DRIFT_BAD_CONFIG', 'FixedHead needs a runtime with setFrozenParams.', {
        hint: 'use runtimes from createRuntime (src/train/onnx)',
      });
    }
    rt.setFrozenParams(fixedHeadFlags(rt.paramTensors, this.tensors));
  }

  afterInner(): undefined {
    return undefined;
  }

  afterAggregate(): void {}
}
