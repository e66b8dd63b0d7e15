/**
 * Validators' signed check attestations (src/verify/check-attestation.ts) and what they do to the
 * reward split (src/market/job-rewards.ts): a round no validator could verify earns its worker
 * nothing, and its samples earn their data contributor nothing.
 */
import { type Address, getAddress, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { provenanceRecord } from '../../src/data/provenance.ts';
import { type CommittedRound, jobRewardSplit } from '../../src/market/job-rewards.ts';
import {
  checkAttestationFromJson,
  checkAttestationToJson,
  checkAttestationValid,
  signCheckAttestation,
  unverifiedKey,
  unverifiedRounds,
} from '../../src/verify/check-attestation.ts';

const v1 = privateKeyToAccount(`0x${'11'.repeat(32)}`);
const v2 = privateKeyToAccount(`0x${'22'.repeat(32)}`);
const A = getAddress(`0x${'a1'.repeat(20)}`);
const B = getAddress(`0x${'b2'.repeat(20)}`);
const contributorA = getAddress(`0x${'c3'.repeat(20)}`);
const contributorB = getAddress(`0x${'d4'.repeat(20)}`);

describe('check attestations', () => {
  it('verify only with the signer, job, round and workers they were signed for', async () => {
    const a = await signCheckAttestation(v1, 7n, 3, [B, A, A]);
    expect(a.unverifiable).toEqual([A, B].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1)));
    expect(await checkAttestationValid(a)).toBe(true);
    // JSON round trip (what the coordinator stores and serves)
    expect(await checkAttestationValid(checkAttestationFromJson(checkAttestationToJson(a)))).toBe(true);
    expect(await checkAttestationValid({ ...a, round: 4 })).toBe(false);
    expect(await checkAttestationValid({ ...a, jobId: 8n })).toBe(false);
    expect(await checkAttestationValid({ ...a, unverifiable: [A] })).toBe(false);
    expect(await checkAttestationValid({ ...a, validator: getAddress(v2.address) })).toBe(false);
    expect(await checkAttestationValid({ ...a, signature: '0x1234' as Hex })).toBe(false);
  });

  it('a worker is unverified in a round only if every validator that attested it says so', async () => {
    const atts = [
      await signCheckAttestation(v1, 1n, 0, [A]),
      await signCheckAttestation(v2, 1n, 0, [A, B]),
      await signCheckAttestation(v1, 1n, 1, [B]),
      // a second word from v1 on round 1 does not count twice
      await signCheckAttestation(v1, 1n, 1, [A]),
    ];
    expect([...unverifiedRounds(atts)].sort()).toEqual([unverifiedKey(0, A), unverifiedKey(1, B)].sort());
    expect(unverifiedRounds([]).size).toBe(0);
  });
});

describe('jobRewardSplit with unverified rounds', () => {
  const rec = (worker: Address, dataset: bigint, round: number) =>
    provenanceRecord({
      worker,
      pseudoGradientHash: `0x${round.toString(16).padStart(64, '0')}`,
      lossBefore: 2_000_000n,
      lossAfter: 1_000_000n,
      samples: 10n,
      pairs: Array.from({ length: 10 }, (_, i) => [dataset, round * 10 + i] as const),
    });
  const rounds: CommittedRound[] = [0, 1, 2, 3].map((r) => ({
    round: r,
    records: [rec(A, 1n, r), rec(B, 2n, r)],
  }));
  const base = {
    funded: 1_000_000n,
    rounds,
    reported: new Set<string>(),
    contributorOf: (id: bigint) => (id === 1n ? contributorA : contributorB),
    validators: [{ account: getAddress(v1.address), checks: 4 }],
  };
  const amount = (split: ReturnType<typeof jobRewardSplit>, role: string, who: Address) =>
    split.lines.find((l) => l.role === role && l.account === who)?.amount ?? 0n;

  it('pays a worker for the rounds a validator verified, and its data for those rounds only', () => {
    const all = jobRewardSplit(base);
    expect(amount(all, 'provider', A)).toBe(amount(all, 'provider', B));
    const unverified = new Set([unverifiedKey(1, B), unverifiedKey(2, B), unverifiedKey(3, B)]);
    const split = jobRewardSplit({ ...base, unverified });
    // B: 1 paid round of 4 against A's 4
    expect(amount(split, 'provider', A)).toBe(4n * amount(split, 'provider', B));
    expect(amount(split, 'data', contributorA)).toBe(4n * amount(split, 'data', contributorB));
    // the whole escrow is still split
    expect(split.total).toBe(all.total);
  });

  it('a worker no validator could verify in any round earns nothing', () => {
    const unverified = new Set([0, 1, 2, 3].map((r) => unverifiedKey(r, B)));
    const split = jobRewardSplit({ ...base, unverified });
    expect(split.lines.filter((l) => l.account === B || l.account === contributorB)).toEqual([]);
    expect(amount(split, 'provider', A)).toBeGreaterThan(0n);
  });
});
