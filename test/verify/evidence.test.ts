import { getAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoundRecord } from '../../src/chain/round-record.ts';
import { checkContributions } from '../../src/verify/contribution-checks.ts';
import {
  buildEvidence,
  evidenceFromVerdict,
  evidenceHash,
  evidenceJson,
  executeFraudSlashWhenDue,
  proveEquivocationChecked,
  submitFraudReport,
} from '../../src/verify/evidence.ts';
import {
  expectRevert,
  type Fixture,
  h,
  REQUESTER,
  STAKE,
  setupJob,
  startFixture,
} from '../contracts/fixture.ts';
import { attack, honestDeltas } from './byzantine.ts';

describe('fraud evidence (pure)', () => {
  it('canonical JSON: key order does not matter; any change changes the hash', () => {
    const a = buildEvidence({
      kind: 'scaled',
      jobId: 1n,
      round: 2n,
      worker: '0x00000000000000000000000000000000000000aa',
      details: { b: 1, a: [1n, Number.POSITIVE_INFINITY] },
      hashes: { delta: h('d') },
    });
    const b = { ...a, details: { a: [1n, Number.POSITIVE_INFINITY], b: 1 } };
    expect(evidenceJson(a)).toBe(evidenceJson(b as typeof a));
    expect(JSON.parse(evidenceJson(a)).worker).toBe(getAddress('0x00000000000000000000000000000000000000aa'));
    expect(evidenceHash(a)).toBe(evidenceHash(b as typeof a));
    expect(evidenceHash({ ...a, round: '3' })).not.toBe(evidenceHash(a));
    expect(JSON.parse(evidenceJson(a)).details.a).toEqual(['1', 'Infinity']);
  });
});

describe('fraud evidence on the real chain', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => f?.stop());

  it('flags a sign-flipping worker, reports it, waits out the window and slashes its stake', async () => {
    const { jobId } = await setupJob(f, { workers: 3, challengePeriod: 100n });
    const deltas = honestDeltas(3, 512, 4);
    deltas[2] = attack('sign-flip', deltas[2], 1);
    const verdicts = checkContributions({
      current: deltas.map((delta, i) => ({ worker: f.accounts[i + 1].address, delta })),
    });
    expect(verdicts.map((v) => v.kinds)).toEqual([[], [], ['sign-flip']]);
    const bad = f.accounts[3].address;
    const ev = evidenceFromVerdict(verdicts[2], { jobId, round: 0n, worker: bad });
    expect(() => evidenceFromVerdict(verdicts[0], { jobId, round: 0n, worker: bad })).toThrow(/not flagged/);
    // only approved validators may report
    await expectRevert(submitFraudReport(f.market, f.signers[5], ev), 'Unauthorized');
    const { reportId, evidenceHash: eh } = await submitFraudReport(f.market, f.signers[19], ev);
    expect(eh).toBe(evidenceHash(ev));
    expect(await f.market.getReport(reportId)).toMatchObject({
      state: 'Pending',
      provider: bad,
      evidenceHash: eh,
    });
    expect((await f.market.seatOf(jobId, bad)).pendingReports).toBe(1);
    const early = await executeFraudSlashWhenDue(f.market, f.signers[7], reportId, await f.now());
    expect(early.status).toBe('not-due');
    const stake0 = (await f.market.getProvider(bad)).stake;
    const req0 = await f.token.balanceOf(f.accounts[REQUESTER].address);
    await f.increaseTime(101);
    const done = await executeFraudSlashWhenDue(f.market, f.signers[7], reportId, await f.now());
    expect(done.status).toBe('slashed');
    expect((await f.market.getProvider(bad)).stake).toBe(stake0 - STAKE / 2n); // devnet slashBps 5000
    expect(await f.token.balanceOf(f.accounts[REQUESTER].address)).toBe(req0 + STAKE / 2n);
    expect((await f.market.seatOf(jobId, bad)).slashed).toBe(true);
    expect((await executeFraudSlashWhenDue(f.market, f.signers[7], reportId, await f.now())).status).toBe(
      'executed',
    );
  });

  it('proves equivocation from two different signed records (checked locally first)', async () => {
    const { jobId } = await setupJob(f, { workers: 3 });
    const w = f.accounts[2];
    const rec: RoundRecord = {
      jobId,
      round: 0n,
      worker: w.address,
      pseudoGradientHash: h('pg'),
      sampleRoot: h('s'),
      lossBefore: 2_000_000n,
      lossAfter: 1_000_000n,
      samples: 64n,
    };
    const other = { ...rec, pseudoGradientHash: h('pg-other') };
    const sigA = await f.market.signRoundRecord(w, rec);
    const sigB = await f.market.signRoundRecord(w, other);
    await expect(proveEquivocationChecked(f.market, f.signers[9], rec, sigA, rec, sigA)).rejects.toThrow(
      /identical/,
    );
    const forged = await f.market.signRoundRecord(f.accounts[4], other);
    await expect(proveEquivocationChecked(f.market, f.signers[9], rec, sigA, other, forged)).rejects.toThrow(
      /signature b/,
    );
    const stake0 = (await f.market.getProvider(w.address)).stake;
    await proveEquivocationChecked(f.market, f.signers[9], rec, sigA, other, sigB);
    expect((await f.market.getProvider(w.address)).stake).toBe(stake0 - STAKE / 2n);
    expect((await f.market.seatOf(jobId, w.address)).slashed).toBe(true);
  });
});
