import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundRecordsTree } from '../../src/chain/round-record.ts';
import { datasetUsesFromRounds, splitRewards } from '../../src/market/rewards.ts';
import { expectRevert, type Fixture, h, setupJob, startFixture } from '../contracts/fixture.ts';

describe('reward split on the real ledger', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => f?.stop());

  it('posts the co-signed root; every party claims its exact amount once; the ledger ends empty', async () => {
    const workers = [1, 2, 3];
    const { jobId } = await setupJob(f, { workers: 3, rounds: 2 });
    for (const round of [0n, 1n]) {
      const tree = roundRecordsTree(
        workers.map((w) => ({
          jobId,
          round,
          worker: f.accounts[w].address,
          pseudoGradientHash: h(`pg${round}-${w}`),
          sampleRoot: h(`s${round}-${w}`),
          lossBefore: 2_000_000n,
          lossAfter: 1_500_000n,
          samples: 64n,
        })),
      );
      const modelHash = h(`m${round}`);
      const sigs = await Promise.all(
        workers.map((w) => f.ledger.signRoundCommit(f.accounts[w], jobId, round, tree.root, modelHash)),
      );
      await f.ledger.commitRound(f.signers[0], jobId, round, tree.root, modelHash, sigs);
    }
    await f.ledger.closeJob(f.signers[0], jobId);
    const { funded } = await f.ledger.getJobLedger(jobId);
    expect(funded).toBe(parseEther('6'));
    // worker 3 was flagged Byzantine; worker 2 also contributed dataset 2; account 11 owns dataset 1
    const datasets = datasetUsesFromRounds(
      [
        [
          [1n, 0],
          [1n, 1],
          [2n, 0],
        ],
        [
          [1n, 2],
          [2n, 1],
        ],
      ],
      (id) => (id === 1n ? f.accounts[11].address : f.accounts[2].address),
    );
    const split = splitRewards({
      funded,
      providers: [
        { account: f.accounts[1].address, score: 0.7 },
        { account: f.accounts[2].address, score: 0.3 },
        { account: f.accounts[3].address, score: 0.9, byzantine: true },
      ],
      datasets,
      validators: [{ account: f.validator.address, checks: 2 }],
    });
    expect(split.total).toBe(funded);
    const tree = split.tree!;
    // ⌈2K/3⌉ = 2 of the 3 participants co-sign (the Byzantine one need not)
    const sigs = await Promise.all(
      [1, 2].map((w) => f.ledger.signRewardRoot(f.accounts[w], jobId, tree.root, tree.total)),
    );
    await f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, sigs);
    for (const e of split.entries) {
      const before = await f.token.balanceOf(e.account);
      await f.ledger.claimFromTree(f.signers[9], jobId, tree, e.account); // anyone may relay
      expect(await f.token.balanceOf(e.account)).toBe(before + e.amount);
      await expectRevert(f.ledger.claimFromTree(f.signers[9], jobId, tree, e.account), 'AlreadyClaimed');
    }
    const l = await f.ledger.getJobLedger(jobId);
    expect(l.claimed).toBe(funded);
    expect(split.entries.some((e) => e.account === f.accounts[3].address)).toBe(false);
  });
});
