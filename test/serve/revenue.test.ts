/**
 * Revenue back to the makers: a model's sales split by its provenance (protocol fee, then the job's
 * reward proportions: providers by rounds, data contributors by samples, validators by checks; a
 * reported provider gets nothing), posted as a cumulative Merkle root to ModelRevenue, claimed by
 * every maker, exact to the wei, twice (the second post pays only the increase).
 */
import { type Hex, parseEther, zeroHash } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelRevenue } from '../../artifacts/index.ts';
import { walletClientFor } from '../../src/chain/connect.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import type { ProvenanceManifest, ProvenanceRecord } from '../../src/data/provenance.ts';
import { ModelRevenueClient, modelRevenueSplit, type RevenueFacts } from '../../src/serve/revenue.ts';
import { balanceOf, type PayFixture, startPayFixture } from '../pay/fixture.ts';

let fx: PayFixture;
let revenue: ModelRevenueClient;
const MODEL = `0x${'5a'.repeat(32)}` as Hex;

beforeAll(async () => {
  fx = await startPayFixture(10);
  const address = await deployContract(
    fx.conn.publicClient,
    walletClientFor(fx.conn, fx.accounts[0]),
    ModelRevenue,
    [fx.token],
  );
  revenue = new ModelRevenueClient(fx.conn, address);
}, 60_000);
afterAll(async () => {
  await fx?.stop();
});

const rec = (worker: Hex, pairs: Record<string, number[]>): ProvenanceRecord => ({
  worker,
  pseudoGradientHash: zeroHash,
  sampleRoot: zeroHash,
  lossBefore: '0',
  lossAfter: '0',
  samples: String(Object.values(pairs).flat().length),
  samplePairs: pairs,
});

describe('model revenue to its makers', () => {
  it('splits sales by provenance, posts cumulative roots and pays every maker exactly', async () => {
    const a = fx.accounts;
    const [seller, p1, p2, p3, data1, data2, treasury, validator] = [
      a[1],
      a[2],
      a[3],
      a[4],
      a[5],
      a[6],
      a[7],
      a[8],
    ];
    const manifest: ProvenanceManifest = {
      version: 1,
      kind: 'agora-provenance',
      chainId: 31337,
      trainingLedger: a[0].address,
      jobId: '3',
      modelHash: MODEL,
      datasets: [],
      rounds: [
        {
          round: 0,
          modelHash: MODEL,
          records: [
            rec(p1.address, { '1': [0, 1, 2] }),
            rec(p2.address, { '2': [0] }),
            rec(p3.address, { '1': [3] }),
          ],
        },
        {
          round: 1,
          modelHash: MODEL,
          records: [rec(p1.address, { '1': [4, 5] }), rec(p2.address, { '2': [1, 2] })],
        },
      ],
    };
    const facts: RevenueFacts = {
      feeBps: 100,
      treasury: treasury.address,
      reported: new Set([p3.address.toLowerCase()]), // reported for fraud: earns nothing
      contributorOf: (id) => (id === 1n ? data1.address : data2.address),
      validators: [{ account: validator.address, checks: 2 }],
    };
    // 1,000 predictions at 0.001 AGORA.
    const earned1 = parseEther('1');
    const s1 = modelRevenueSplit(manifest, earned1, facts);
    expect(s1.tree.total).toBe(earned1);
    expect(s1.fee).toBe(parseEther('0.01'));
    const byRole = (role: string) =>
      s1.lines.filter((l) => l.role === role).reduce((x, l) => x + l.amount, 0n);
    const rest = earned1 - s1.fee;
    expect(byRole('provider')).toBe((rest * 7000n) / 10000n);
    expect(byRole('validator')).toBe((rest * 1000n) / 10000n);
    expect(byRole('data') + byRole('provider') + byRole('validator') + byRole('protocol')).toBe(earned1);
    expect(s1.lines.find((l) => l.account === p3.address)).toBeUndefined();
    // p1 and p2 each have 2 paid rounds: equal provider shares; data by samples: dataset 1 has 5 honest uses, dataset 2 has 3.
    const amt = (who: Hex, role: string) =>
      s1.lines.find((l) => l.account === who && l.role === role)!.amount;
    expect(amt(p1.address, 'provider')).toBe(amt(p2.address, 'provider'));
    expect(amt(data1.address, 'data') * 3n).toBeGreaterThan(amt(data2.address, 'data') * 5n - 5n);
    expect(amt(data1.address, 'data') * 3n).toBeLessThan(amt(data2.address, 'data') * 5n + 5n);

    const seller0 = await balanceOf(fx.conn, fx.token, seller.address);
    await revenue.post(walletClientFor(fx.conn, seller), fx.token, MODEL, s1);
    expect(await revenue.distribution(seller.address, MODEL)).toEqual({
      root: s1.root,
      funded: earned1,
      paid: 0n,
    });
    const makers = s1.entries.map((e) => e.account);
    const before = new Map<string, bigint>();
    for (const m of makers) before.set(m, await balanceOf(fx.conn, fx.token, m));
    for (const m of makers) await revenue.claim(walletClientFor(fx.conn, a[9]), seller.address, MODEL, s1, m); // anyone submits
    for (const e of s1.entries)
      expect(await balanceOf(fx.conn, fx.token, e.account)).toBe(before.get(e.account)! + e.amount);
    expect(await balanceOf(fx.conn, fx.token, revenue.address)).toBe(0n);
    await expect(
      revenue.claim(walletClientFor(fx.conn, a[9]), seller.address, MODEL, s1, p1.address),
    ).rejects.toThrow(/NothingToClaim/);

    // More sales: the new cumulative root pays only the increase.
    const earned2 = parseEther('1.5');
    const s2 = modelRevenueSplit(manifest, earned2, facts);
    await revenue.post(walletClientFor(fx.conn, seller), fx.token, MODEL, s2);
    expect(await balanceOf(fx.conn, fx.token, seller.address)).toBe(seller0 - earned2);
    for (const m of makers) await revenue.claim(walletClientFor(fx.conn, a[9]), seller.address, MODEL, s2, m);
    for (const e of s2.entries)
      expect(await balanceOf(fx.conn, fx.token, e.account)).toBe(before.get(e.account)! + e.amount);
    expect(await balanceOf(fx.conn, fx.token, revenue.address)).toBe(0n);
    expect((await revenue.distribution(seller.address, MODEL)).paid).toBe(earned2);

    // A lower cumulative total cannot be posted; a forged leaf cannot be claimed.
    await expect(revenue.post(walletClientFor(fx.conn, seller), fx.token, MODEL, s1)).rejects.toThrow(
      /below/,
    );
    const forged = modelRevenueSplit(manifest, parseEther('100'), facts);
    await expect(
      revenue.claim(walletClientFor(fx.conn, a[9]), seller.address, MODEL, forged, p1.address),
    ).rejects.toThrow(/InvalidProof/);
  }, 90_000);
});
