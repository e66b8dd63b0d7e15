/**
 * Runs several drift corrections together (e.g. SCAFFOLD + FedProx), calling each hook of each in
 * order. They must set different runtime corrections, and at most one may send an extra payload.
 */
import { AgoraError } from '../../../errors.ts';
import type { Runtime, RuntimeCorrections } from '../../runtime.ts';
import type { DriftContext, DriftCorrection } from './types.ts';

export class ComposedDrift implements DriftCorrection {
  readonly name: string;
  readonly parts: readonly DriftCorrection[];

  constructor(parts: readonly DriftCorrection[]) {
    if (parts.length === 0)
      throw new AgoraError('DRIFT_BAD_CONFIG', 'ComposedDrift needs at least one part.');
    this.parts = parts;
    this.name = parts.map((p) => p.name).join('+');
  }

  init(ctx: DriftContext): void {
    for (const p of this.parts) p.init(ctx);
  }

  initParams(theta: Float32Array): void {
    for (const p of this.parts) p.initParams?.(theta);
  }

  beforeInner(w: number, rt: Runtime & RuntimeCorrections, theta: Float32Array, round: number): void {
    for (const p of this.parts) p.beforeInner(w, rt, theta, round);
  }

  afterInner(
    w: number,
    rt: Runtime & RuntimeCorrections,
    theta: Float32Array,
    delta: Float32Array,
    round: number,
  ): Float32Array | undefined {
    let extra: Float32Array | undefined;
    for (const p of this.parts) {
      const e = p.afterInner(w, rt, theta, delta, round);
      if (e !== undefined) {
        if (extra !== undefined) {
          throw new AgoraError(
            'DRIFT_BAD_CONFIG',
            `${this.name}: more than one part sends an extra payload.`,
          );
        }
        extra = e;
      }
    }
    return extra;
  }

  afterAggregate(meanDelta: Float32Array, meanExtra: Float32Array | undefined, round: number): void {
    for (const p of this.parts) p.afterAggregate(meanDelta, meanExtra, round);
  }
}
