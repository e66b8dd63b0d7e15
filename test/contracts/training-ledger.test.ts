import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { encodeFunctionData, type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ComputeMarket, ReentrantToken, TrainingLedger } from '../../artifacts/index.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import { buildRewardTree, type RewardEntry } from '../../src/chain/merkle.ts';
import { type RoundRecord, roundRecordLeaf, roundRecordsTree } from '../../src/chain/round-record.ts';
import { readTx, sendTx } from '../../src/chain/tx.ts';
import { domains, signRoundCommit } from '../../src/chain/typed-data.ts';
import { expectRevert, type Fixture, h, REQUESTER, STAKE, setupJob, startFixture } from './fixture.ts';

describe('TrainingLedger', () => {
  let f: Fixture;
  let snap: Hex;
  beforeAll(async () => {
    f = await startFixture();
    snap = await f.snapshot();
  });
  afterAll(async () => f?.stop());
  beforeEach(async () => {
    await f.revert(snap);
    snap = await f.snapshot();
  });

  const records = (jobId: bigint, round: bigint, workers: number[]): RoundRecord[] =>
    workers.map((w) => ({
      jobId,
      round,
      worker: f.accounts[w].address,
      pseudoGradientHash: h(`pg${jobId}-${round}-${w}`),
      sampleRoot: h(`s${w}`),
      lossBefore: 2_000_000n + BigInt(w),
      lossAfter: 1_500_000n,
      samples: 256n,
    }));

  async function commit(jobId: bigint, round: bigint, workers: number[], signerIdx = workers) {
    const tree = roundRecordsTree(records(jobId, round, workers));
    const modelHash = h(`model-${jobId}-${round}`);
    const sigs = await Promise.all(
      signerIdx.map((i) => f.ledger.signRoundCommit(f.accounts[i], jobId, round, tree.root, modelHash)),
    );
    return {
      tree,
      modelHash,
      sigs,
      send: () => f.ledger.commitRound(f.signers[0], jobId, round, tree.root, modelHash, sigs),
    };
  }

  it('round-record leaves match StandardMerkleTree and verify on-chain after commit', async () => {
    const workers = [1, 2, 3, 4, 5, 6, 7, 8];
    const { jobId } = await setupJob(f, { workers: 8, providers: workers });
    const recs = records(jobId, 0n, workers);
    const oz = StandardMerkleTree.of(
      recs.map((r) => [
        r.jobId,
        r.round,
        r.worker,
        r.pseudoGradientHash,
        r.sampleRoot,
        r.lossBefore,
        r.lossAfter,
        r.samples,
      ]),
      ['uint256', 'uint256', 'address', 'bytes32', 'bytes32', 'uint256', 'uint256', 'uint64'],
    );
    const c = await commit(jobId, 0n, workers);
    expect(c.tree.root).toBe(oz.root);
    const receipt = await c.send();
    expect(receipt.gasUsed).toBeLessThan(250_000n);
    for (let i = 0; i < recs.length; i++) {
      expect(oz.leafHash(oz.at(i) as never)).toBe(roundRecordLeaf(recs[i]));
      const ok = await readTx<boolean>(f.conn, {
        label: 'verifyRoundRecord',
        address: f.ledger.address,
        abi: TrainingLedger.abi,
        functionName: 'verifyRoundRecord',
        args: [jobId, 0n, roundRecordLeaf(recs[i]), c.tree.proof(i)],
      });
      expect(ok).toBe(true);
    }
    expect(await f.ledger.getRound(jobId, 0n)).toMatchObject({
      recordsRoot: c.tree.root,
      modelHash: c.modelHash,
    });
  });

  it('requires 2/3 distinct participants and the next round; rejects replays', async () => {
    const { jobId } = await setupJob(f, { workers: 3, rounds: 3 });
    const other = await setupJob(f, { workers: 3, rounds: 3, providers: [4, 5, 6] });
    // 1 of 3 is not enough (needs 2)
    await expectRevert((await commit(jobId, 0n, [1, 2, 3], [1])).send(), 'NotEnoughSigners');
    await expectRevert((await commit(jobId, 0n, [1, 2, 3], [1, 1])).send(), 'DuplicateSigner');
    await expectRevert((await commit(jobId, 0n, [1, 2, 3], [1, 9])).send(), 'NotParticipant');
    await expectRevert((await commit(jobId, 1n, [1, 2, 3], [1, 2])).send(), 'WrongRound');
    const ok = await commit(jobId, 0n, [1, 2, 3], [3, 1]);
    await ok.send();
    await expectRevert(ok.send(), 'WrongRound');
    // round-0 signatures replayed for round 1 recover other addresses
    await expectRevert(
      f.ledger.commitRound(f.signers[0], jobId, 1n, ok.tree.root, ok.modelHash, ok.sigs),
      'NotParticipant',
    );
    // replayed to another job
    await expectRevert(
      f.ledger.commitRound(f.signers[0], other.jobId, 0n, ok.tree.root, ok.modelHash, ok.sigs),
      'NotParticipant',
    );
    // signed for another chain
    const foreign = await Promise.all(
      [1, 2].map((i) =>
        signRoundCommit(f.accounts[i], domains.trainingLedger(1, f.ledger.address), {
          jobId,
          round: 1n,
          recordsRoot: ok.tree.root,
          modelHash: ok.modelHash,
        }),
      ),
    );
    await expectRevert(
      f.ledger.commitRound(f.signers[0], jobId, 1n, ok.tree.root, ok.modelHash, foreign),
      'NotParticipant',
    );
    await expectRevert(
      f.ledger.commitRound(f.signers[0], jobId, 1n, `0x${'00'.repeat(32)}`, ok.modelHash, []),
      'ZeroValue',
    );
    expect(await f.ledger.roundsCommitted(jobId)).toBe(1);
  });

  it('on-chain digests equal the EIP-712 hashes the TS helpers sign', async () => {
    const { hashTypedData } = await import('viem');
    const { REWARD_ROOT_TYPES, ROUND_COMMIT_TYPES } = await import('../../src/chain/typed-data.ts');
    const { ROUND_RECORD_TYPES } = await import('../../src/chain/round-record.ts');
    const rd = <T>(address: `0x${string}`, abi: readonly unknown[], functionName: string, args: unknown[]) =>
      readTx<T>(f.conn, { label: functionName, address, abi, functionName, args });
    const msg = { jobId: 5n, round: 2n, recordsRoot: h('rr'), modelHash: h('mh') };
    expect(
      await rd(f.ledger.address, TrainingLedger.abi, 'roundCommitDigest', [5n, 2n, h('rr'), h('mh')]),
    ).toBe(
      hashTypedData({
        domain: f.ledger.domain(),
        types: ROUND_COMMIT_TYPES,
        primaryType: 'RoundCommit',
        message: msg,
      }),
    );
    const rr = { jobId: 5n, root: h('root'), total: 77n };
    expect(await rd(f.ledger.address, TrainingLedger.abi, 'rewardRootDigest', [5n, h('root'), 77n])).toBe(
      hashTypedData({
        domain: f.ledger.domain(),
        types: REWARD_ROOT_TYPES,
        primaryType: 'RewardRoot',
        message: rr,
      }),
    );
    const rec = records(5n, 2n, [1])[0];
    expect(await rd(f.market.address, ComputeMarket.abi, 'roundRecordDigest', [rec])).toBe(
      hashTypedData({
        domain: f.market.domain(),
        types: ROUND_RECORD_TYPES,
        primaryType: 'RoundRecord',
        message: rec,
      }),
    );
  });

  it('refuses commits for jobs that are not running or past their deadline', async () => {
    const open = await setupJob(f, { workers: 3, join: false });
    await expectRevert((await commit(open.jobId, 0n, [1, 2, 3])).send(), 'JobNotRunning');
    const { jobId } = await setupJob(f, { workers: 3 });
    await f.increaseTime(7201);
    await expectRevert((await commit(jobId, 0n, [1, 2, 3])).send(), 'PastDeadline');
  });

  it('closes a complete job, records the final model, and pays rewards by Merkle claims', async () => {
    const { jobId } = await setupJob(f, { workers: 3, rounds: 2 });
    await expectRevert(f.ledger.closeJob(f.signers[0], jobId), 'BadTiming');
    await (await commit(jobId, 0n, [1, 2, 3])).send();
    const last = await commit(jobId, 1n, [1, 2, 3]);
    await last.send();
    const job = await f.market.getJob(jobId);
    const entries: RewardEntry[] = [
      { account: f.accounts[1].address, amount: parseEther('1.5') },
      { account: f.accounts[2].address, amount: parseEther('1.5') },
      { account: f.accounts[3].address, amount: parseEther('1') },
      { account: f.accounts[11].address, amount: parseEther('1') }, // data contributor
      { account: f.accounts[19].address, amount: parseEther('0.5') }, // validator
    ];
    const tree = buildRewardTree(entries);
    const sign = (total: bigint, root = tree.root) =>
      Promise.all([1, 2].map((i) => f.ledger.signRewardRoot(f.accounts[i], jobId, root, total)));
    await expectRevert(
      f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, await sign(tree.total)),
      'ClosedState',
    );
    await f.ledger.closeJob(f.signers[4], jobId);
    await expectRevert(f.ledger.closeJob(f.signers[4], jobId), 'ClosedState');
    const l = await f.ledger.getJobLedger(jobId);
    expect(l).toMatchObject({
      closed: true,
      complete: true,
      funded: job.escrow,
      finalModelHash: last.modelHash,
    });
    expect(await f.ledger.finalModelHash(jobId)).toBe(last.modelHash);
    expect((await f.market.getJob(jobId)).state).toBe('Completed');
    // solvency: a root promising more than the escrow is refused
    const greedy = buildRewardTree([{ account: f.accounts[1].address, amount: job.escrow + 1n }]);
    await expectRevert(
      f.ledger.postRewardRoot(
        f.signers[0],
        jobId,
        greedy.root,
        greedy.total,
        await sign(greedy.total, greedy.root),
      ),
      'Insolvent',
    );
    await expectRevert(
      f.ledger.postRewardRoot(
        f.signers[0],
        jobId,
        tree.root,
        tree.total,
        (await sign(tree.total)).slice(0, 1),
      ),
      'NotEnoughSigners',
    );
    // signatures over a different total do not authorize this one
    await expectRevert(
      f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, await sign(tree.total - 1n)),
      'NotParticipant',
    );
    await expectRevert(
      f.ledger.claim(f.signers[0], jobId, entries[0].account, entries[0].amount, []),
      'NoRoot',
    );
    await f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, await sign(tree.total));
    await expectRevert(
      f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, await sign(tree.total)),
      'RootAlreadyPosted',
    );
    // OZ compatibility of reward leaves and proofs
    const oz = StandardMerkleTree.of(
      entries.map((e) => [e.account, e.amount]),
      ['address', 'uint256'],
    );
    expect(tree.root).toBe(oz.root);
    for (const e of entries) {
      const b0 = await f.token.balanceOf(e.account);
      await f.ledger.claimFromTree(f.signers[7], jobId, tree, e.account); // relayed; paid to the account
      expect(await f.token.balanceOf(e.account)).toBe(b0 + e.amount);
    }
    await expectRevert(
      f.ledger.claimFromTree(f.signers[1], jobId, tree, entries[0].account),
      'AlreadyClaimed',
    );
    const p = tree.proofFor(entries[3].account);
    await expectRevert(
      f.ledger.claim(f.signers[9], jobId, f.accounts[9].address, p.amount, p.proof),
      'InvalidProof',
    );
    // the unallocated rest goes to the treasury, once
    const treasury = f.addr('TimelockController');
    const t0 = await f.token.balanceOf(treasury);
    await f.ledger.sweepUnallocated(f.signers[5], jobId);
    expect(await f.token.balanceOf(treasury)).toBe(t0 + job.escrow - tree.total);
    await expectRevert(f.ledger.sweepUnallocated(f.signers[5], jobId), 'NothingToSweep');
    expect(await f.token.balanceOf(f.ledger.address)).toBe(0n);
  });

  it('expires an unfinished job: pays committed rounds, refunds the rest; stake unlocks after the window', async () => {
    const { jobId } = await setupJob(f, { workers: 3, rounds: 4, challengePeriod: 100n });
    await (await commit(jobId, 0n, [1, 2, 3])).send();
    const job = await f.market.getJob(jobId);
    await f.increaseTime(7201);
    const req = f.accounts[REQUESTER].address;
    const r0 = await f.token.balanceOf(req);
    await f.ledger.closeJob(f.signers[9], jobId);
    const l = await f.ledger.getJobLedger(jobId);
    expect(l).toMatchObject({ complete: false, roundsCommitted: 1, funded: job.escrow / 4n });
    expect(await f.token.balanceOf(req)).toBe(r0 + job.escrow - job.escrow / 4n);
    expect((await f.market.getJob(jobId)).state).toBe('Expired');
    const p1 = f.accounts[1].address;
    await expectRevert(f.market.releaseStake(f.signers[1], jobId, p1), 'BadTiming');
    await f.increaseTime(101);
    await f.market.releaseStake(f.signers[1], jobId, p1);
    expect((await f.market.getProvider(p1)).locked).toBe(0n);
    // after the window a fraud report is too late
    await expectRevert(
      f.market.reportFraud(f.signers[19], jobId, f.accounts[2].address, 0n, h('late')),
      'BadTiming',
    );
  });

  it('blocks reentrant double claims through a malicious ERC-20', async () => {
    const d = f.signers[0];
    const evil = await deployContract(f.conn.publicClient, d, ReentrantToken, []);
    const market = await deployContract(f.conn.publicClient, d, ComputeMarket, [
      evil,
      f.addr('ProtocolParams'),
      f.addr('DataRegistry'),
    ]);
    const ledger = await deployContract(f.conn.publicClient, d, TrainingLedger, [
      evil,
      f.addr('ProtocolParams'),
      market,
    ]);
    const w = (
      who: number,
      address: `0x${string}`,
      abi: readonly unknown[],
      functionName: string,
      args: unknown[],
    ) => sendTx(f.conn, f.signers[who], { label: functionName, address, abi, functionName, args });
    const bal = (who: `0x${string}`) =>
      readTx<bigint>(f.conn, {
        label: 'balanceOf',
        address: evil,
        abi: ReentrantToken.abi,
        functionName: 'balanceOf',
        args: [who],
      });
    await w(0, market, ComputeMarket.abi, 'bindLedger', [ledger]);
    for (const i of [1, REQUESTER]) {
      await w(i, evil, ReentrantToken.abi, 'mint', [f.accounts[i].address, STAKE * 10n]);
      await w(i, evil, ReentrantToken.abi, 'approve', [market, STAKE * 10n]);
    }
    await w(1, market, ComputeMarket.abi, 'registerProvider', [h('hw'), 1n, STAKE]);
    const now = await f.now();
    await w(REQUESTER, market, ComputeMarket.abi, 'createJob', [
      {
        modelSpecHash: h('m'),
        datasetIds: [],
        workers: 1,
        innerSteps: 1,
        rounds: 1,
        pricePerRound: parseEther('10'),
        joinDeadline: now + 100n,
        completionDeadline: now + 200n,
        challengePeriod: 50n,
      },
    ]);
    await w(1, market, ComputeMarket.abi, 'joinJob', [1n]);
    const dom = domains.trainingLedger(f.conn.chainId, ledger);
    const sig = await signRoundCommit(f.accounts[1], dom, {
      jobId: 1n,
      round: 0n,
      recordsRoot: h('r'),
      modelHash: h('mh'),
    });
    await w(0, ledger, TrainingLedger.abi, 'commitRound', [1n, 0n, h('r'), h('mh'), [sig]]);
    await w(0, ledger, TrainingLedger.abi, 'closeJob', [1n]);
    const a = f.accounts[1].address;
    const b = f.accounts[2].address;
    const tree = buildRewardTree([
      { account: a, amount: parseEther('4') },
      { account: b, amount: parseEther('4') },
    ]);
    const { signRewardRoot } = await import('../../src/chain/typed-data.ts');
    const rs = await signRewardRoot(f.accounts[1], dom, { jobId: 1n, root: tree.root, total: tree.total });
    await w(0, ledger, TrainingLedger.abi, 'postRewardRoot', [1n, tree.root, tree.total, [rs]]);
    const pb = tree.proofFor(b);
    const reClaim = encodeFunctionData({
      abi: TrainingLedger.abi,
      functionName: 'claim',
      args: [1n, b, pb.amount, pb.proof],
    });
    await w(0, evil, ReentrantToken.abi, 'arm', [ledger, reClaim]);
    const pa = tree.proofFor(a);
    const before = await bal(ledger);
    await w(0, ledger, TrainingLedger.abi, 'claim', [1n, a, pa.amount, pa.proof]);
    const last = await readTx<boolean>(f.conn, {
      label: 'x',
      address: evil,
      abi: ReentrantToken.abi,
      functionName: 'lastReentrySucceeded',
    });
    expect(last).toBe(false);
    expect(await bal(ledger)).toBe(before - parseEther('4'));
    // b can still claim normally afterwards
    await w(0, ledger, TrainingLedger.abi, 'claim', [1n, b, pb.amount, pb.proof]);
    expect(await bal(b)).toBe(parseEther('4'));
  });
});
