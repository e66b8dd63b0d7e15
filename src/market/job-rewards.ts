/**
 * A closed job's reward split from what was committed (pure): every party that co-signs or claims
 * recomputes it from the same inputs (the committed rounds' records, the reports on chain, the
 * funded escrow) and so arrives at the same root.
 *
 * - providers: one unit per committed round that includes their record and that some validator
 *   verified (a round every attesting validator names unverifiable — the worker was down, refused
 *   to serve its trace, or served data that did not match — earns nothing); reported providers get 0;
 * - data contributors: by samples used in the paid records;
 * - validators: by rounds checked.
 */
import type { Address } from 'viem';
import type { ProvenanceRecord } from '../data/provenance.ts';
import { samplesFromJson } from '../data/usage.ts';
import { unverifiedKey } from '../verify/check-attestation.ts';
import { datasetUsesFromRounds, type RewardSplit, splitRewards, type ValidatorWork } from './rewards.ts';

export type CommittedRound = { round: number; records: readonly ProvenanceRecord[] };

export type JobRewardInput = {
  funded: bigint;
  rounds: readonly CommittedRound[];
  /** Providers with a fraud report on the job (any case). */
  reported: ReadonlySet<string>;
  contributorOf: (datasetId: bigint) => Address;
  validators: readonly ValidatorWork[];
  /**
   * (round, worker) pairs no validator could verify, as keys `unverifiedKey(round, worker)`
   * (src/verify/check-attestation.ts: `unverifiedRounds` of the validators' signed attestations).
   */
  unverified?: ReadonlySet<string>;
};

export function jobRewardSplit(input: JobRewardInput): RewardSplit {
  const reported = new Set([...input.reported].map((a) => a.toLowerCase()));
  const unverified = input.unverified ?? new Set<string>();
  const paid = (round: number, worker: string) => !unverified.has(unverifiedKey(round, worker));
  const rounds = new Map<string, { account: Address; score: number }>();
  for (const r of input.rounds) {
    for (const rec of r.records) {
      if (!paid(r.round, rec.worker)) continue;
      const k = rec.worker.toLowerCase();
      const e = rounds.get(k) ?? { account: rec.worker, score: 0 };
      e.score += 1;
      rounds.set(k, e);
    }
  }
  const providers = [...rounds.values()]
    .sort((a, b) => (a.account.toLowerCase() < b.account.toLowerCase() ? -1 : 1))
    .map((p) => ({ ...p, byzantine: reported.has(p.account.toLowerCase()) }));
  const honest = input.rounds.map((r) =>
    r.records
      .filter((rec) => !reported.has(rec.worker.toLowerCase()) && paid(r.round, rec.worker))
      .map((rec) => samplesFromJson(rec.samplePairs)),
  );
  return splitRewards({
    funded: input.funded,
    providers,
    datasets: datasetUsesFromRounds(honest.flat(), input.contributorOf),
    validators: [...input.validators].sort((a, b) =>
      a.account.toLowerCase() < b.account.toLowerCase() ? -1 : 1,
    ),
  });
}
