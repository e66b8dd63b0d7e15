/**
 * Link check (pure): is the pseudo-gradient a worker sent the one its signed round trace says it
 * trained? A worker computes Δ = f32(θ_start − θ_final) (`theta[i] - local[i]` into a Float32Array),
 * and its trace commits to θ_final through the last checkpoint hash. So given the final inner state
 * (hashing to that checkpoint), θ_start (the committed model the round started from) and Δ (hashing
 * to the signed pseudo-gradient hash), the check is bit-exact: any sign flip, scaling, added noise,
 * replayed old update or zeros shows as a mismatch, and all three inputs are signed or on chain, so
 * anyone holding the bytes can verify the claim. docs/validation-and-rewards.md §3.
 */
import type { Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import { buildEvidence, type FraudEvidence } from './evidence.ts';
import { type InnerState, innerStateHash, type RoundTrace, roundTraceHash } from './replay.ts';

export type LinkCheck = {
  ok: boolean;
  reasons: string[];
  /** The final state hashes to the trace's last checkpoint. */
  finalHashOk: boolean;
  /** Coordinates where Δ differs (bitwise) from f32(θ_start − θ_final). */
  mismatched: number;
  maxAbsDiff: number;
  /** cos(Δ, θ_start − θ_final): −1 for a sign flip, 1 for a scaled copy. */
  cosine: number;
  /** ‖Δ‖ / ‖θ_start − θ_final‖. */
  normRatio: number;
};

/** True when the two arrays hold exactly the same float32 bit patterns. */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function checkDeltaLink(opts: {
  delta: Float32Array;
  thetaStart: Float32Array;
  final: InnerState;
  committedFinal: Hex;
}): LinkCheck {
  const { delta, thetaStart, final } = opts;
  const n = thetaStart.length;
  if (delta.length !== n || final.params.length !== n) {
    throw new AgoraError(
      'LINK_BAD_SIZE',
      `Δ has ${delta.length} values, θ_start ${n}, the final state ${final.params.length}`,
      { hint: 'all three must come from the same task model' },
    );
  }
  const reasons: string[] = [];
  const finalHashOk = innerStateHash(final) === opts.committedFinal.toLowerCase();
  if (!finalHashOk) reasons.push("the final state does not hash to the trace's last checkpoint");
  const expected = new Float32Array(n);
  for (let i = 0; i < n; i++) expected[i] = thetaStart[i] - final.params[i];
  const xe = new Uint32Array(expected.buffer);
  const xd = new Uint32Array(delta.buffer, delta.byteOffset, n);
  let mismatched = 0;
  let maxAbsDiff = 0;
  let dot = 0;
  let dd = 0;
  let ee = 0;
  for (let i = 0; i < n; i++) {
    if (xe[i] !== xd[i]) {
      mismatched++;
      const d = Math.abs(delta[i] - expected[i]);
      if (!(d <= maxAbsDiff)) maxAbsDiff = d;
    }
    dot += delta[i] * expected[i];
    dd += delta[i] * delta[i];
    ee += expected[i] * expected[i];
  }
  if (mismatched > 0)
    reasons.push(
      `Δ differs from θ_start − θ_final in ${mismatched} of ${n} values (max |diff| ${maxAbsDiff})`,
    );
  const cosine = dd > 0 && ee > 0 ? dot / Math.sqrt(dd * ee) : 0;
  const normRatio = ee > 0 ? Math.sqrt(dd / ee) : dd > 0 ? Number.POSITIVE_INFINITY : 1;
  return { ok: reasons.length === 0, reasons, finalHashOk, mismatched, maxAbsDiff, cosine, normRatio };
}

/** Fraud evidence from a failed link check (the sent Δ is not what the signed trace trained). */
export function evidenceFromLink(
  c: LinkCheck,
  trace: RoundTrace,
  ctx: { pseudoGradientHash: Hex; traceSignature: Hex; startModelHash: Hex },
): FraudEvidence {
  if (c.ok) throw new AgoraError('FRAUD_NOT_FLAGGED', 'the link check passed; there is nothing to report');
  return buildEvidence({
    kind: 'commitment-mismatch',
    jobId: trace.jobId,
    round: trace.round,
    worker: trace.worker,
    details: {
      check: 'link',
      reasons: c.reasons,
      mismatched: c.mismatched,
      maxAbsDiff: c.maxAbsDiff,
      cosine: c.cosine,
      normRatio: c.normRatio,
      traceSignature: ctx.traceSignature,
      H: trace.innerSteps,
      W: trace.window,
    },
    hashes: {
      pseudoGradient: ctx.pseudoGradientHash,
      trace: roundTraceHash(trace),
      finalCheckpoint: trace.checkpoints[trace.checkpoints.length - 1],
      startModel: ctx.startModelHash,
    },
  });
}
