import { type Address, getAddress, parseEther } from 'viem';
import { describe, expect, it } from 'vitest';
import { rewardLeaf, verifyMerkleProof } from '../../src/chain/merkle.ts';
import { datasetUsesFromRounds, splitByWeight, splitRewards } from '../../src/market/rewards.ts';
import { createRng } from '../../src/train/data/rng.ts';

const A = (n: number): Address => getAddress(`0x${n.toString(16).padStart(40, '0')}`);

describe('reward split (pure)', () => {
  it('splits 70/20/10 exactly, by score / uses / checks; Byzantine unpaid; roles merged', () => {
    const funded = parseEther('6'); // 3 workers × 2 rounds × 1 AGORA
    const s = splitRewards({
      funded,
      providers: [
        { account: A(1), score: 0.5 },
        { account: A(2), score: 0.25 },
        { account: A(3), score: 0.9, byzantine: true },
        { account: A(4), score: 0.25 },
      ],
      datasets: [
        { datasetId: 1n, contributor: A(11), uses: 300 },
        { datasetId: 2n, contributor: A(2), uses: 100 }, // provider 2 is also a data contributor
      ],
      validators: [{ account: A(19), checks: 6 }],
    });
    expect(s.pools).toEqual({
      providers: parseEther('4.2'),
      data: parseEther('1.2'),
      validators: parseEther('0.6'),
    });
    expect(s.total).toBe(funded);
    expect(s.unallocated).toBe(0n);
    const by = Object.fromEntries(s.entries.map((e) => [e.account, e.amount]));
    expect(by).toEqual({
      [A(1)]: parseEther('2.1'),
      [A(2)]: parseEther('1.05') + parseEther('0.3'),
      [A(4)]: parseEther('1.05'),
      [A(11)]: parseEther('0.9'),
      [A(19)]: parseEther('0.6'),
    });
    expect(A(3) in by).toBe(false);
    expect(new Set(s.entries.map((e) => e.account)).size).toBe(s.entries.length);
    expect(s.lines.filter((l) => l.account === A(2)).map((l) => l.role)).toEqual(['provider', 'data']);
    // Merkle leaves and proofs, as the ledger checks them
    for (const e of s.entries) {
      const { amount, proof } = s.tree!.proofFor(e.account);
      expect(verifyMerkleProof(rewardLeaf(e.account, amount), proof, s.root!)).toBe(true);
    }
    expect(s.tree!.total).toBe(funded);
  });

  it('totals are exact for random awkward inputs (fuzz, 300 cases); remainders are deterministic', () => {
    const rng = createRng(42);
    for (let c = 0; c < 300; c++) {
      const funded = BigInt(Math.floor(rng.next() * 1e12)) * 1_000_003n + BigInt(rng.int(1000));
      const np = 1 + rng.int(9);
      const input = {
        funded,
        shares: { providersBps: 6000 + rng.int(2000), dataBps: 1500, validatorsBps: 0 },
        providers: Array.from({ length: np }, (_, i) => ({
          account: A(100 + rng.int(20)),
          score: rng.next() < 0.1 ? 0 : rng.next() / 3,
          byzantine: rng.next() < 0.2 && i > 0,
        })),
        datasets: Array.from({ length: rng.int(4) }, (_, i) => ({
          datasetId: BigInt(i + 1),
          contributor: A(100 + rng.int(20)),
          uses: rng.int(1000),
        })),
        validators: Array.from({ length: rng.int(3) }, () => ({
          account: A(100 + rng.int(20)),
          checks: rng.int(5),
        })),
      };
      input.shares.validatorsBps = 10_000 - input.shares.providersBps - input.shares.dataBps;
      const s = splitRewards(input);
      const anyone =
        input.providers.some((p) => !p.byzantine && Math.round(p.score * 1e9) > 0) ||
        input.datasets.some((d) => d.uses > 0) ||
        input.validators.some((v) => v.checks > 0);
      expect(s.total + s.unallocated).toBe(funded);
      expect(s.unallocated).toBe(anyone ? 0n : funded);
      expect(s.entries.every((e) => e.amount > 0n)).toBe(true);
      expect(new Set(s.entries.map((e) => e.account.toLowerCase())).size).toBe(s.entries.length);
      for (const p of input.providers)
        if (p.byzantine)
          expect(s.lines.some((l) => l.role === 'provider' && l.account === p.account && l.amount > 0n)).toBe(
            input.providers.some(
              (q) => q.account === p.account && !q.byzantine && Math.round(q.score * 1e9) > 0,
            ),
          );
      expect(splitRewards(input).root).toBe(s.root);
    }
  });

  it('largest remainder: 10 wei over three equal weights → 4/3/3 with the tie to the lowest address', () => {
    expect(
      splitByWeight(
        10n,
        [A(3), A(1), A(2)].map((account) => ({ account, weight: 1n })),
      ),
    ).toEqual([3n, 4n, 3n]);
    expect(
      splitByWeight(7n, [
        { account: A(1), weight: 0n },
        { account: A(2), weight: 5n },
      ]),
    ).toEqual([0n, 7n]);
  });

  it('an empty pool goes to the other pools; nobody eligible → everything unallocated', () => {
    const s = splitRewards({
      funded: 1000n,
      providers: [{ account: A(1), score: 1 }],
      datasets: [],
      validators: [{ account: A(9), checks: 1 }],
    });
    // data's 20% is shared 70:10 between providers and validators
    expect(s.pools).toEqual({ providers: 875n, data: 0n, validators: 125n });
    expect(s.total).toBe(1000n);
    const none = splitRewards({
      funded: 1000n,
      providers: [{ account: A(1), score: 1, byzantine: true }],
      datasets: [],
      validators: [],
    });
    expect(none.entries).toEqual([]);
    expect(none.root).toBeNull();
    expect(none.unallocated).toBe(1000n);
  });

  it('counts dataset uses from round sample lists', () => {
    const uses = datasetUsesFromRounds(
      [
        [
          [1n, 0],
          [1n, 1],
          [2n, 5],
        ],
        [
          [1n, 1],
          [1n, 1],
        ],
      ],
      (id) => A(Number(id) + 50),
    );
    expect(uses).toEqual([
      { datasetId: 1n, contributor: A(51), uses: 3 },
      { datasetId: 2n, contributor: A(52), uses: 1 },
    ]);
  });

  it('rejects bad shares and scores', () => {
    const base = { funded: 1n, providers: [], datasets: [], validators: [] };
    expect(() =>
      splitRewards({ ...base, shares: { providersBps: 7000, dataBps: 2000, validatorsBps: 999 } }),
    ).toThrow(/10000 bps/);
    expect(() => splitRewards({ ...base, providers: [{ account: A(1), score: Number.NaN }] })).toThrow(
      /score NaN/,
    );
  });
});
