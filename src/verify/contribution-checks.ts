/**
 * Contribution checks (pure): flags Byzantine pseudo-gradients in one round from the decoded deltas of
 * all workers (and the previous round's). See docs/validation-and-rewards.md §2 for the reasoning.
 *
 * Per worker i with Δ_i: hash h_i = keccak256(float32 LE bytes), norm ‖Δ_i‖, cosine c_i against the
 * robust reference r (coordinate-wise median of this round's deltas: robust while < n/2 are Byzantine),
 * norm ratio ρ_i = ‖Δ_i‖ / median_j ‖Δ_j‖. Kinds, checked in this order (several may apply):
 *
 * - `zero`      ‖Δ_i‖ ≤ zeroRatio · median norm (1e-6), or non-finite → nothing was trained (free rider).
 * - `replay`    h_i equals any previous-round hash (that worker's or anyone's), or cos(Δ_i, Δ_prev) ≥
 *               replayCos (0.9999) with a norm within 1%: an honest worker starting from a new θ on new
 *               batches never reproduces an old update that closely (measured honest cross-round cosines
 *               are far lower).
 * - `sign-flip` c_i ≤ signFlipCos (−0.2): pointing away from the consensus direction.
 * - `scaled`    ρ_i ≥ maxNormRatio (4) or ρ_i ≤ 1/maxNormRatio with c_i > noiseCos (a ×λ update keeps its
 *               direction but not its size).
 * - `noise`     c_i < noiseCos (0.3) and ρ_i ≥ noiseNormRatio (1.5): large and unrelated to the consensus.
 * - `duplicate` h_i equals another worker's hash this round (copying a peer's update); all but the
 *               first in worker order are flagged.
 *
 * Score (for unflagged workers): max(0, c_i) · min(1, 1/ρ_i) ∈ [0, 1] — agreement with the consensus,
 * discounted when the update is larger than typical. Flagged workers score 0.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, type Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import { coordinateMedian } from './robust-aggregate.ts';

export type ByzantineKind = 'zero' | 'replay' | 'sign-flip' | 'scaled' | 'noise' | 'duplicate';

export type WorkerDelta = { worker: string; delta: Float32Array };

export type CheckThresholds = {
  zeroRatio: number;
  replayCos: number;
  signFlipCos: number;
  maxNormRatio: number;
  noiseCos: number;
  noiseNormRatio: number;
};

export const DEFAULT_THRESHOLDS: CheckThresholds = {
  zeroRatio: 1e-6,
  replayCos: 0.9999,
  signFlipCos: -0.2,
  maxNormRatio: 4,
  noiseCos: 0.3,
  noiseNormRatio: 1.5,
};

export type WorkerVerdict = {
  worker: string;
  byzantine: boolean;
  kinds: ByzantineKind[];
  /** Human-readable reasons, one per kind. */
  reasons: string[];
  /** In [0, 1]; 0 when flagged. */
  score: number;
  hash: Hex;
  norm: number;
  cosine: number;
  normRatio: number;
};

export type CheckInput = {
  current: readonly WorkerDelta[];
  previous?: readonly WorkerDelta[];
  /** Consensus direction; default: coordinate-wise median of `current`. */
  reference?: Float32Array;
  thresholds?: Partial<CheckThresholds>;
};

/** keccak256 of the vector's float32 little-endian bytes. */
export function deltaHash(v: Float32Array): Hex {
  const le = new Float32Array(v);
  return bytesToHex(keccak_256(new Uint8Array(le.buffer, le.byteOffset, le.byteLength)));
}

export function l2(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const den = Math.sqrt(na * nb);
  return den > 0 ? d / den : 0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const k = s.length;
  return k === 0 ? 0 : (s[(k - 1) >> 1] + s[k >> 1]) / 2;
}

export function checkContributions(input: CheckInput): WorkerVerdict[] {
  const t = { ...DEFAULT_THRESHOLDS, ...input.thresholds };
  const cur = input.current;
  if (cur.length === 0) throw new AgoraError('CHECK_EMPTY', 'no contributions to check');
  const dim = cur[0].delta.length;
  for (const c of [...cur, ...(input.previous ?? [])]) {
    if (c.delta.length !== dim) {
      throw new AgoraError(
        'CHECK_SHAPE',
        `delta of ${c.worker} has ${c.delta.length} elements, expected ${dim}`,
        {
          hint: 'all pseudo-gradients of one job have the model parameter count',
        },
      );
    }
  }
  const finite = cur.map((c) => c.delta.every(Number.isFinite));
  const sane = cur.filter((_, i) => finite[i]).map((c) => c.delta);
  const reference = input.reference ?? (sane.length > 0 ? coordinateMedian(sane) : new Float32Array(dim));
  const norms = cur.map((c, i) => (finite[i] ? l2(c.delta) : Number.POSITIVE_INFINITY));
  const medNorm = median(norms.filter(Number.isFinite));
  const prev = (input.previous ?? []).map((p) => ({ ...p, hash: deltaHash(p.delta), norm: l2(p.delta) }));
  const prevHashes = new Map(prev.map((p) => [p.hash, p.worker]));
  const seenHashes = new Map<Hex, string>();
  return cur.map((c, i) => {
    const hash = deltaHash(c.delta);
    const norm = norms[i];
    const cos = finite[i] ? cosine(c.delta, reference) : 0;
    const ratio = medNorm > 0 ? norm / medNorm : norm > 0 ? Number.POSITIVE_INFINITY : 1;
    const kinds: ByzantineKind[] = [];
    const reasons: string[] = [];
    const flag = (k: ByzantineKind, why: string) => {
      kinds.push(k);
      reasons.push(why);
    };
    if (!finite[i]) flag('noise', 'non-finite values in the update');
    else if (norm <= t.zeroRatio * medNorm || norm === 0)
      flag('zero', `norm ${norm.toExponential(2)} ≤ ${t.zeroRatio} × median ${medNorm.toExponential(2)}`);
    if (kinds.length === 0) {
      const same = prevHashes.get(hash);
      if (same !== undefined) flag('replay', `identical to ${same}'s previous-round update (hash ${hash})`);
      else
        for (const p of prev) {
          const pc = cosine(c.delta, p.delta);
          if (pc >= t.replayCos && Math.abs(norm / p.norm - 1) <= 0.01) {
            flag('replay', `cosine ${pc.toFixed(6)} with ${p.worker}'s previous-round update`);
            break;
          }
        }
      const dup = seenHashes.get(hash);
      if (dup !== undefined) flag('duplicate', `identical to ${dup}'s update this round`);
      if (cos <= t.signFlipCos)
        flag('sign-flip', `cosine ${cos.toFixed(3)} with the consensus ≤ ${t.signFlipCos}`);
      else if ((ratio >= t.maxNormRatio || ratio <= 1 / t.maxNormRatio) && cos > t.noiseCos)
        flag('scaled', `norm ${ratio.toFixed(2)}× the median (bound ${t.maxNormRatio}×)`);
      else if (cos < t.noiseCos && ratio >= t.noiseNormRatio)
        flag('noise', `cosine ${cos.toFixed(3)} < ${t.noiseCos} with norm ${ratio.toFixed(2)}× the median`);
    }
    if (!seenHashes.has(hash)) seenHashes.set(hash, c.worker);
    const byzantine = kinds.length > 0;
    const score = byzantine ? 0 : Math.max(0, cos) * Math.min(1, 1 / Math.max(ratio, 1e-12));
    return { worker: c.worker, byzantine, kinds, reasons, score, hash, norm, cosine: cos, normRatio: ratio };
  });
}
