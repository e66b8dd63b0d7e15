/**
 * The validator's per-round pass, composing the pieces: contribution checks → loss-reduction scores
 * (flagged workers score 0) → fraud evidence for every flagged worker; and the job-level fold of the
 * rounds into the reward split's provider inputs. The caller (the `agora node` validator role) decodes
 * the pseudo-gradients, submits the evidence (`submitFraudReport`) and runs the replay check.
 */
import type { Address, Hex } from 'viem';
import type { ProviderContribution } from '../market/rewards.ts';
import type { Runtime, TensorBatch } from '../train/runtime.ts';
import { type CheckThresholds, checkContributions, type WorkerVerdict } from './contribution-checks.ts';
import { evidenceFromVerdict, type FraudEvidence } from './evidence.ts';
import { type ScoreResult, scoreByLossReduction } from './scoring.ts';

export type RoundValidation = {
  jobId: bigint;
  round: bigint;
  verdicts: WorkerVerdict[];
  scores: ScoreResult;
  evidence: FraudEvidence[];
};

export async function validateRound(opts: {
  jobId: bigint;
  round: bigint;
  /** Decoded pseudo-gradients Δ = θ − θ_worker, keyed by worker address. */
  current: readonly { worker: Address; delta: Float32Array; pseudoGradientHash?: Hex }[];
  previous?: readonly { worker: Address; delta: Float32Array }[];
  theta: Float32Array;
  runtime: Runtime;
  heldOut: readonly TensorBatch[];
  thresholds?: Partial<CheckThresholds>;
}): Promise<RoundValidation> {
  const verdicts = checkContributions({
    current: opts.current,
    previous: opts.previous,
    thresholds: opts.thresholds,
  });
  const flagged = new Set(verdicts.filter((v) => v.byzantine).map((v) => v.worker));
  const scores = await scoreByLossReduction({
    runtime: opts.runtime,
    theta: opts.theta,
    contributions: opts.current,
    heldOut: opts.heldOut,
    byzantine: flagged,
  });
  const evidence = verdicts.flatMap((v, i) =>
    v.byzantine
      ? [
          evidenceFromVerdict(v, {
            jobId: opts.jobId,
            round: opts.round,
            worker: opts.current[i].worker,
            pseudoGradientHash: opts.current[i].pseudoGradientHash,
          }),
        ]
      : [],
  );
  return { jobId: opts.jobId, round: opts.round, verdicts, scores, evidence };
}

/**
 * Folds a job's rounds into provider inputs for `splitRewards`: score = Σ over rounds of the worker's
 * normalized weight; `byzantine` if flagged in any round (or listed in `alsoByzantine`, e.g. failed
 * replays or slashed seats). Workers are listed in first-seen order.
 */
export function providerContributions(
  rounds: readonly Pick<RoundValidation, 'scores'>[],
  alsoByzantine: ReadonlySet<string> = new Set(),
): ProviderContribution[] {
  const acc = new Map<string, { account: Address; score: number; byzantine: boolean }>();
  const bad = new Set([...alsoByzantine].map((a) => a.toLowerCase()));
  for (const r of rounds) {
    for (const s of r.scores.scores) {
      const k = s.worker.toLowerCase();
      const e = acc.get(k) ?? { account: s.worker as Address, score: 0, byzantine: bad.has(k) };
      e.score += s.weight;
      e.byzantine ||= s.byzantine;
      acc.set(k, e);
    }
  }
  return [...acc.values()];
}
