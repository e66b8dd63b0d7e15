import { encodeFunctionData, type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ComputeMarket, ReentrantToken } from '../../artifacts/index.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import type { RoundRecord } from '../../src/chain/round-record.ts';
import { readTx, sendTx } from '../../src/chain/tx.ts';
import { domains, signRoundRecord } from '../../src/chain/typed-data.ts';
import { expectRevert, type Fixture, h, REQUESTER, STAKE, setupJob, startFixture } from './fixture.ts';

describe('ComputeMarket', () => {
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

  const record = (jobId: bigint, worker: number, over: Partial<RoundRecord> = {}): RoundRecord => ({
    jobId,
    round: 0n,
    worker: f.accounts[worker].address,
    pseudoGradientHash: h(`pg${worker}`),
    sampleRoot: h(`samples${worker}`),
    lossBefore: 2_300_000n,
    lossAfter: 1_900_000n,
    samples: 512n,
    ...over,
  });

  it('registers providers with stake and enforces the minimum', async () => {
    const p = f.signers[1];
    await f.token.approve(p, f.market.address, STAKE * 10n);
    await expectRevert(f.market.registerProvider(p, h('hw'), 5n, STAKE - 1n), 'InsufficientStake');
    const before = await f.token.balanceOf(f.accounts[1].address);
    await f.market.registerProvider(p, h('hw'), 5n, STAKE);
    expect(await f.token.balanceOf(f.accounts[1].address)).toBe(before - STAKE);
    expect(await f.market.getProvider(f.accounts[1].address)).toMatchObject({
      stake: STAKE,
      active: true,
      pricePerRound: 5n,
    });
    await expectRevert(f.market.registerProvider(p, h('hw'), 5n, STAKE), 'ProviderState');
    await f.market.updateOffer(p, h('hw2'), 7n);
    expect((await f.market.getProvider(f.accounts[1].address)).hardwareHash).toBe(h('hw2'));
    await expectRevert(f.market.updateOffer(f.signers[2], h('hw2'), 7n), 'ProviderState');
    await f.market.addStake(p, STAKE);
    await expectRevert(f.market.addStake(p, 0n), 'Zero');
    // an active provider keeps at least the minimum
    await expectRevert(f.market.withdrawStake(p, STAKE + 1n), 'InsufficientStake');
    await f.market.withdrawStake(p, STAKE);
    await f.market.deregisterProvider(p);
    await f.market.withdrawStake(p, STAKE);
    expect(await f.token.balanceOf(f.accounts[1].address)).toBe(before);
    await expectRevert(f.market.withdrawStake(p, 1n), 'InsufficientStake');
  });

  it('creates jobs with escrow + fee and validates the spec', async () => {
    const r = f.signers[REQUESTER];
    await f.token.approve(r, f.market.address, parseEther('1000000'));
    const now = await f.now();
    const spec = {
      modelSpecHash: h('m'),
      datasetIds: [] as bigint[],
      workers: 4,
      innerSteps: 10,
      rounds: 5,
      pricePerRound: parseEther('2'),
      joinDeadline: now + 100n,
      completionDeadline: now + 1000n,
      challengePeriod: 60n,
    };
    await expectRevert(f.market.createJob(r, { ...spec, workers: 0 }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, workers: 65 }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, rounds: 0 }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, joinDeadline: now - 1n }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, completionDeadline: now + 50n }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, challengePeriod: 1n }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, challengePeriod: 8n * 86400n }), 'InvalidJob');
    await expectRevert(f.market.createJob(r, { ...spec, datasetIds: [1n] }), 'UnknownDataset');
    const { escrow, fee } = await f.market.quote(spec.pricePerRound, spec.rounds, spec.workers);
    expect(escrow).toBe(parseEther('40'));
    expect(fee).toBe(parseEther('0.4')); // 1% devnet fee
    const before = await f.token.balanceOf(f.accounts[REQUESTER].address);
    const { jobId } = await f.market.createJob(r, spec);
    expect(jobId).toBe(1n);
    expect(await f.token.balanceOf(f.accounts[REQUESTER].address)).toBe(before - escrow - fee);
    expect(await f.market.getJob(jobId)).toMatchObject({
      state: 'Open',
      escrow,
      fee,
      workers: 4,
      stakePerWorker: STAKE,
    });
    const { datasetId } = await f.registry.signAndRegister(f.accounts[3], f.signers[3], {
      root: h('d'),
      records: 1n,
      bytes: 1n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('dm'),
    });
    const j2 = await f.market.createJob(r, { ...spec, datasetIds: [datasetId] });
    expect(await f.market.datasetsOf(j2.jobId)).toEqual([datasetId]);
  });

  it('starts when K providers join; sends the fee to the treasury; guards joins', async () => {
    const { jobId } = await setupJob(f, { workers: 3, join: false });
    const treasury = f.addr('TimelockController');
    const t0 = await f.token.balanceOf(treasury);
    await expectRevert(f.market.joinJob(f.signers[5], jobId), 'ProviderState');
    await f.market.joinJob(f.signers[1], jobId);
    await expectRevert(f.market.joinJob(f.signers[1], jobId), 'AlreadyJoined');
    // a provider asking more than the job pays cannot join
    await f.market.updateOffer(f.signers[2], h('hw'), parseEther('5'));
    await expectRevert(f.market.joinJob(f.signers[2], jobId), 'PriceTooHigh');
    await f.market.updateOffer(f.signers[2], h('hw'), parseEther('1'));
    await f.market.joinJob(f.signers[2], jobId);
    expect((await f.market.getJob(jobId)).state).toBe('Open');
    await f.market.joinJob(f.signers[3], jobId);
    const job = await f.market.getJob(jobId);
    expect(job.state).toBe('Running');
    expect(await f.token.balanceOf(treasury)).toBe(t0 + job.fee);
    expect(await f.market.participants(jobId)).toEqual([1, 2, 3].map((i) => f.accounts[i].address));
    expect((await f.market.getProvider(f.accounts[1].address)).locked).toBe(STAKE);
    await expectRevert(f.market.joinJob(f.signers[4], jobId), 'WrongJobState');
    // locked stake cannot be withdrawn early, nor released while running
    await f.market.deregisterProvider(f.signers[1]);
    await expectRevert(f.market.withdrawStake(f.signers[1], STAKE * 3n), 'InsufficientStake');
    await f.market.withdrawStake(f.signers[1], STAKE * 2n);
    await expectRevert(f.market.releaseStake(f.signers[1], jobId, f.accounts[1].address), 'WrongJobState');
    await expectRevert(f.market.cancelJob(f.signers[REQUESTER], jobId), 'WrongJobState');
  });

  it('refuses joins without free stake and after the join deadline', async () => {
    const a = await setupJob(f, { workers: 2, providers: [1, 2], join: false });
    const b = await setupJob(f, { workers: 2, providers: [1, 2], join: false });
    const c = await setupJob(f, { workers: 2, providers: [1, 2], join: false });
    await f.market.joinJob(f.signers[1], a.jobId);
    await f.market.joinJob(f.signers[1], b.jobId);
    await f.market.joinJob(f.signers[1], c.jobId); // 3 × STAKE locked of 3 × STAKE
    const d = await setupJob(f, { workers: 2, providers: [1, 2], join: false });
    await expectRevert(f.market.joinJob(f.signers[1], d.jobId), 'InsufficientStake');
    await f.increaseTime(3601);
    await expectRevert(f.market.joinJob(f.signers[2], d.jobId), 'BadTiming');
  });

  it('cancel before start and unfilled jobs refund in full; stake is released at once', async () => {
    const { jobId } = await setupJob(f, { workers: 3, join: false });
    await f.market.joinJob(f.signers[1], jobId);
    const req = f.accounts[REQUESTER].address;
    const before = await f.token.balanceOf(req);
    const job = await f.market.getJob(jobId);
    await expectRevert(f.market.cancelJob(f.signers[1], jobId), 'Unauthorized');
    await f.market.cancelJob(f.signers[REQUESTER], jobId);
    expect(await f.token.balanceOf(req)).toBe(before + job.escrow + job.fee);
    await expectRevert(f.market.cancelJob(f.signers[REQUESTER], jobId), 'WrongJobState');
    await f.market.releaseStake(f.signers[9], jobId, f.accounts[1].address);
    expect((await f.market.getProvider(f.accounts[1].address)).locked).toBe(0n);
    await expectRevert(f.market.releaseStake(f.signers[1], jobId, f.accounts[1].address), 'SeatClosed');
    await expectRevert(f.market.releaseStake(f.signers[1], jobId, f.accounts[2].address), 'NotParticipant');

    const u = await setupJob(f, { workers: 3, join: false });
    await f.market.joinJob(f.signers[2], u.jobId);
    await expectRevert(f.market.refundUnfilled(f.signers[7], u.jobId), 'BadTiming');
    await f.increaseTime(3601);
    const b2 = await f.token.balanceOf(req);
    await f.market.refundUnfilled(f.signers[7], u.jobId);
    const uj = await f.market.getJob(u.jobId);
    expect(uj.state).toBe('Unfilled');
    expect(await f.token.balanceOf(req)).toBe(b2 + uj.escrow + uj.fee);
    await expectRevert(f.market.getJob(99n), 'UnknownJob');
  });

  it('only the ledger closes jobs; the ledger binding is one-shot', async () => {
    const { jobId } = await setupJob(f);
    const call = (fn: string, args: unknown[], who = 0) =>
      sendTx(f.conn, f.signers[who], {
        label: `ComputeMarket.${fn}`,
        address: f.market.address,
        abi: ComputeMarket.abi,
        functionName: fn,
        args,
      });
    await expectRevert(call('closeJob', [jobId, 3]), 'Unauthorized');
    await expectRevert(call('bindLedger', [f.accounts[5].address]), 'AlreadyBound');
    await expectRevert(call('bindLedger', [f.accounts[5].address], 3), 'Unauthorized');
    await expectRevert(call('dismissFraud', [1n]), 'Unauthorized');
  });

  it('slashes a worker that signed two different records for one round (equivocation)', async () => {
    const { jobId } = await setupJob(f, { workers: 3 });
    const w = f.accounts[2];
    const a = record(jobId, 2);
    const b = record(jobId, 2, { lossAfter: 1_000_000n });
    const sigA = await f.market.signRoundRecord(w, a);
    const sigB = await f.market.signRoundRecord(w, b);
    await expectRevert(f.market.proveEquivocation(f.signers[9], a, sigA, a, sigA), 'NotEquivocation');
    await expectRevert(
      f.market.proveEquivocation(f.signers[9], a, sigA, { ...b, round: 1n }, sigB),
      'NotEquivocation',
    );
    // forged: signed by someone else
    const forged = await f.market.signRoundRecord(f.accounts[3], b);
    await expectRevert(f.market.proveEquivocation(f.signers[9], a, sigA, b, forged), 'BadSignature');
    // replayed from another chain / deployment domain
    const otherChain = await signRoundRecord(w, domains.computeMarket(1, f.market.address), b);
    await expectRevert(f.market.proveEquivocation(f.signers[9], a, sigA, b, otherChain), 'BadSignature');
    // a non-participant cannot be slashed
    const x = record(jobId, 7);
    const y = record(jobId, 7, { samples: 1n });
    await expectRevert(
      f.market.proveEquivocation(
        f.signers[9],
        x,
        await f.market.signRoundRecord(f.accounts[7], x),
        y,
        await f.market.signRoundRecord(f.accounts[7], y),
      ),
      'NotParticipant',
    );
    const req = f.accounts[REQUESTER].address;
    const r0 = await f.token.balanceOf(req);
    await f.market.proveEquivocation(f.signers[9], a, sigA, b, sigB);
    const slashed = STAKE / 2n; // devnet slashBps = 5000
    expect(await f.token.balanceOf(req)).toBe(r0 + slashed);
    expect(await f.market.getProvider(w.address)).toMatchObject({
      stake: STAKE * 3n - slashed,
      locked: STAKE - slashed,
    });
    expect((await f.market.seatOf(jobId, w.address)).slashed).toBe(true);
    await expectRevert(f.market.proveEquivocation(f.signers[9], a, sigA, b, sigB), 'SeatClosed');
  });

  it('slashes after an undismissed validator fraud report and its challenge window', async () => {
    const { jobId } = await setupJob(f, { workers: 3, challengePeriod: 100n });
    const p = f.accounts[1].address;
    await expectRevert(f.market.reportFraud(f.signers[5], jobId, p, 0n, h('ev')), 'Unauthorized');
    await expectRevert(f.market.reportFraud(f.signers[19], jobId, p, 9n, h('ev')), 'InvalidJob');
    const { reportId } = await f.market.reportFraud(f.signers[19], jobId, p, 0n, h('ev'));
    expect(await f.market.getReport(reportId)).toMatchObject({
      state: 'Pending',
      provider: p,
      evidenceHash: h('ev'),
    });
    await expectRevert(f.market.executeFraudSlash(f.signers[5], reportId), 'BadTiming');
    await f.increaseTime(101);
    const r0 = await f.token.balanceOf(f.accounts[REQUESTER].address);
    await f.market.executeFraudSlash(f.signers[5], reportId);
    expect(await f.token.balanceOf(f.accounts[REQUESTER].address)).toBe(r0 + STAKE / 2n);
    expect((await f.market.getReport(reportId)).state).toBe('Executed');
    await expectRevert(f.market.executeFraudSlash(f.signers[5], reportId), 'BadReport');
    await expectRevert(f.market.reportFraud(f.signers[19], jobId, p, 0n, h('ev2')), 'SeatClosed');
  });

  it('blocks reentrancy through a malicious ERC-20', async () => {
    const deployer = f.signers[0];
    const evil = await deployContract(f.conn.publicClient, deployer, ReentrantToken, []);
    const market = await deployContract(f.conn.publicClient, deployer, ComputeMarket, [
      evil,
      f.addr('ProtocolParams'),
      f.addr('DataRegistry'),
    ]);
    const w = (
      who: number,
      address: `0x${string}`,
      abi: readonly unknown[],
      functionName: string,
      args: unknown[],
    ) => sendTx(f.conn, f.signers[who], { label: functionName, address, abi, functionName, args });
    const r = <T>(
      address: `0x${string}`,
      abi: readonly unknown[],
      functionName: string,
      args: unknown[] = [],
    ) => readTx<T>(f.conn, { label: functionName, address, abi, functionName, args });
    await w(1, evil, ReentrantToken.abi, 'mint', [f.accounts[1].address, STAKE * 10n]);
    await w(1, evil, ReentrantToken.abi, 'approve', [market, STAKE * 10n]);
    await w(1, market, ComputeMarket.abi, 'registerProvider', [h('hw'), 1n, STAKE * 3n]);
    // withdrawStake → token.transfer → re-enter withdrawStake
    const reenter = encodeFunctionData({
      abi: ComputeMarket.abi,
      functionName: 'withdrawStake',
      args: [STAKE],
    });
    await w(1, evil, ReentrantToken.abi, 'arm', [market, reenter]);
    await w(1, market, ComputeMarket.abi, 'withdrawStake', [STAKE]);
    expect(await r<bigint>(evil, ReentrantToken.abi, 'reentryAttempts')).toBe(1n);
    expect(await r<boolean>(evil, ReentrantToken.abi, 'lastReentrySucceeded')).toBe(false);
    // ReentrancyGuardReentrantCall() selector
    expect(await r<Hex>(evil, ReentrantToken.abi, 'lastReentryData')).toBe('0x3ee5aeb5');
    expect(await r<bigint>(evil, ReentrantToken.abi, 'balanceOf', [market])).toBe(STAKE * 2n);
    expect(
      (await r<{ stake: bigint }>(market, ComputeMarket.abi, 'getProvider', [f.accounts[1].address])).stake,
    ).toBe(STAKE * 2n);
    // cancelJob refund → re-enter cancelJob (double refund attempt)
    await w(1, evil, ReentrantToken.abi, 'mint', [f.accounts[REQUESTER].address, STAKE * 10n]);
    await w(REQUESTER, evil, ReentrantToken.abi, 'approve', [market, STAKE * 10n]);
    const now = await f.now();
    await w(REQUESTER, market, ComputeMarket.abi, 'createJob', [
      {
        modelSpecHash: h('m'),
        datasetIds: [],
        workers: 1,
        innerSteps: 1,
        rounds: 1,
        pricePerRound: STAKE,
        joinDeadline: now + 100n,
        completionDeadline: now + 200n,
        challengePeriod: 50n,
      },
    ]);
    const reCancel = encodeFunctionData({ abi: ComputeMarket.abi, functionName: 'cancelJob', args: [1n] });
    await w(REQUESTER, evil, ReentrantToken.abi, 'arm', [market, reCancel]);
    await w(REQUESTER, market, ComputeMarket.abi, 'cancelJob', [1n]);
    expect(await r<boolean>(evil, ReentrantToken.abi, 'lastReentrySucceeded')).toBe(false);
    expect(await r<bigint>(evil, ReentrantToken.abi, 'balanceOf', [market])).toBe(STAKE * 2n);
  });
});
