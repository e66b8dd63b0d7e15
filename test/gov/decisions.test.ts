/**
 * What governance decides, end to end on the embedded chain, through src/gov (propose → vote → queue →
 * execute): a sector opened by vote takes dataset registrations, a fee change applies to the next job, a
 * validator approved by vote is paid for its checks in the next job, a treasury grant pays its recipient;
 * `agora gov show`'s view says every kind of action in words; and the devnet's power needs two voters.
 */
import { type Address, formatEther, parseEther } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GovAction } from '../../src/gov/actions.ts';
import { proposalDescription } from '../../src/gov/description.ts';
import * as member from '../../src/gov/member.ts';
import { readGovernedState } from '../../src/gov/param-state.ts';
import { type GovChain, govChain } from '../../src/gov/proposals.ts';
import { proposalView } from '../../src/gov/view.ts';
import { approvedValidators } from '../../src/node/job-chain.ts';
import { jobSplitFromChain } from '../../src/node/job-sync.ts';
import { checkAttestationToJson, signCheckAttestation } from '../../src/verify/check-attestation.ts';
import { expectRevert, type Fixture, h, setupJob, startFixture } from '../contracts/fixture.ts';

describe('what governance decides, end to end', () => {
  let f: Fixture;
  let g: GovChain;
  let snap: `0x${string}`;
  beforeAll(async () => {
    f = await startFixture();
    g = govChain(f.conn, f.deployment);
    snap = await f.snapshot();
  });
  afterAll(async () => f?.stop());
  beforeEach(async () => {
    await f.revert(snap);
    snap = await f.snapshot();
  });

  /** propose (account 1) → accounts 1 and 2 vote for → queue → execute, skipping the devnet's periods. */
  async function pass(actions: GovAction[], title: string) {
    const { proposal } = await member.propose(g, f.signers[1], actions, proposalDescription(title));
    const ref = proposal.id.toString();
    await f.increaseTime(2);
    for (const i of [1, 2]) await member.vote(g, f.signers[i], ref, 'for');
    await f.increaseTime(121);
    await member.queue(g, f.signers[5], ref);
    await f.increaseTime(31);
    await member.execute(g, f.signers[5], ref);
    return proposal;
  }

  const dataset = (i: number, sector: string) => ({
    root: h(`gov-root-${i}`),
    records: 10n,
    bytes: 100n,
    licence: 'MIT',
    sector,
    manifestHash: h(`gov-manifest-${i}`),
  });

  it('a sector opened by vote takes dataset registrations; retired, it takes no new ones', async () => {
    let refused: unknown;
    await f.registry.signAndRegister(f.accounts[6], f.signers[6], dataset(1, 'audio')).catch((e) => {
      refused = e;
    });
    expect((refused as Error).message).toMatch(/SectorNotAllowed\(audio\)/);
    expect((refused as { hint?: string }).hint).toMatch(/agora gov propose --admit-sector/);

    await pass([{ kind: 'admit-sector', sector: 'audio' }], 'Open the audio sector');
    const { datasetId } = await f.registry.signAndRegister(f.accounts[6], f.signers[6], dataset(1, 'audio'));
    expect((await f.registry.getDataset(datasetId)).sector).toBe('audio');
    expect((await readGovernedState(g)).sectors).toContain('audio');

    await pass([{ kind: 'retire-sector', sector: 'audio' }], 'Retire the audio sector');
    await expectRevert(
      f.registry.signAndRegister(f.accounts[7], f.signers[7], dataset(2, 'audio')),
      'SectorNotAllowed',
    );
    expect((await f.registry.getDataset(datasetId)).sector).toBe('audio'); // registered data stays
  });

  it('a fee change applies to the next job: its quote and the fee the treasury receives when it starts', async () => {
    const treasury = f.addr('TimelockController');
    const feeOfNextJob = async () => {
      const before = await f.token.balanceOf(treasury);
      await setupJob(f, { workers: 2, providers: [6, 7], rounds: 3 }); // 2 × 3 × 1 AGORA escrow, starts
      return (await f.token.balanceOf(treasury)) - before;
    };
    expect(await feeOfNextJob()).toBe(parseEther('0.06')); // 1% of 6 AGORA
    await pass([{ kind: 'set', param: 'protocolFeeBps', value: 300n }], 'Fee to 3%');
    expect((await f.market.quote(parseEther('1'), 3, 2)).fee).toBe(parseEther('0.18'));
    expect(await feeOfNextJob()).toBe(parseEther('0.18')); // 3%
  });

  it('a validator approved by vote is paid for its checks in the next job (the reward path the coordinator runs)', async () => {
    const v = f.accounts[12];
    const contracts = {
      market: f.addr('ComputeMarket'),
      ledger: f.addr('TrainingLedger'),
      registry: f.addr('DataRegistry'),
      params: f.addr('ProtocolParams'),
    };
    const { datasetId } = await f.registry.signAndRegister(f.accounts[8], f.signers[8], dataset(3, 'vision'));
    // one job, one round, committed by its two providers and closed
    const runJob = async () => {
      const { jobId } = await setupJob(f, { workers: 2, providers: [6, 7], rounds: 1 });
      const sigs = await Promise.all(
        [6, 7].map((i) => f.ledger.signRoundCommit(f.accounts[i], jobId, 0n, h('rr'), h('mh'))),
      );
      await f.ledger.commitRound(f.signers[0], jobId, 0n, h('rr'), h('mh'), sigs);
      await f.ledger.closeJob(f.signers[0], jobId);
      const record = (i: number) => ({
        worker: f.accounts[i].address,
        pseudoGradientHash: h(`pg${i}`),
        sampleRoot: h(`s${i}`),
        lossBefore: '2000000',
        lossAfter: '1500000',
        samples: '2',
        samplePairs: { [datasetId.toString()]: [i, i + 1] },
      });
      return { jobId, rounds: [{ round: 0, records: [record(6), record(7)] }] };
    };
    const attestation = async (jobId: bigint) =>
      checkAttestationToJson(await signCheckAttestation(v, jobId, 0, []));

    // before the vote: not a validator; its check attestation makes the split fail
    expect(await approvedValidators(f.conn, contracts.params)).not.toContain(v.address);
    const early = await runJob();
    await expect(
      jobSplitFromChain({
        conn: f.conn,
        contracts,
        jobId: early.jobId,
        rounds: early.rounds,
        validators: [{ account: v.address, checks: 1 }],
        attestations: [await attestation(early.jobId)],
      }),
    ).rejects.toThrow(/not a valid one/);

    await pass([{ kind: 'add-validator', account: v.address }], 'Approve a second validator');
    expect(await approvedValidators(f.conn, contracts.params)).toContain(v.address);
    await f.registry.attestQuality(f.signers[12], datasetId, 8000, h('report')); // a validator's right now

    const next = await runJob();
    const split = await jobSplitFromChain({
      conn: f.conn,
      contracts,
      jobId: next.jobId,
      rounds: next.rounds,
      validators: [
        { account: v.address, checks: 1 },
        { account: f.validator.address, checks: 1 },
      ],
      attestations: [await attestation(next.jobId)],
    });
    const tree = split.tree!;
    const owed = tree.proofFor(v.address).amount;
    expect(owed).toBeGreaterThan(0n);
    const rsigs = await Promise.all(
      [6, 7].map((i) => f.ledger.signRewardRoot(f.accounts[i], next.jobId, tree.root, tree.total)),
    );
    await f.ledger.postRewardRoot(f.signers[0], next.jobId, tree.root, tree.total, rsigs);
    const before = await f.token.balanceOf(v.address);
    await f.ledger.claimFromTree(f.signers[12], next.jobId, tree, v.address);
    expect((await f.token.balanceOf(v.address)) - before).toBe(owed);
  });

  it('a treasury grant pays its recipient from the timelock', async () => {
    const to = f.accounts[13].address;
    const treasury = f.addr('TimelockController');
    const [b0, t0] = [await f.token.balanceOf(to), await f.token.balanceOf(treasury)];
    await pass([{ kind: 'grant', to, amount: parseEther('5000') }], 'Grant for the audio data drive');
    expect((await f.token.balanceOf(to)) - b0).toBe(parseEther('5000'));
    expect(t0 - (await f.token.balanceOf(treasury))).toBe(parseEther('5000'));
  });

  it('`gov show` says every kind of action in words, before and after execution', async () => {
    const acct = (i: number): Address => f.accounts[i].address;
    const actions: GovAction[] = [
      { kind: 'set', param: 'minStake', value: parseEther('250') },
      { kind: 'set', param: 'slashBps', value: 2500n },
      { kind: 'set', param: 'protocolFeeBps', value: 200n },
      { kind: 'set', param: 'maxChallengePeriod', value: 86_400n },
      { kind: 'set', param: 'treasury', value: acct(18) },
      { kind: 'set', param: 'votingPeriod', value: 300n },
      { kind: 'set', param: 'quorumNumerator', value: 5n },
      { kind: 'set', param: 'minDelay', value: 60n },
      { kind: 'add-validator', account: acct(12) },
      { kind: 'remove-validator', account: f.validator.address },
      { kind: 'admit-sector', sector: 'audio' },
      { kind: 'retire-sector', sector: 'text' },
      { kind: 'grant', to: acct(13), amount: parseEther('5000') },
      {
        kind: 'call',
        target: f.addr('DataRegistry'),
        functionName: 'admitToSector',
        signature: 'admitToSector(uint256,string)',
        args: [1n, 'audio'],
        value: 0n,
      },
      {
        kind: 'call',
        target: acct(17),
        functionName: 'poke',
        signature: 'poke(uint256)',
        args: [7n],
        value: 0n,
      },
    ];
    const { proposal } = await member.propose(g, f.signers[1], actions, proposalDescription('Everything'));
    const v = await proposalView(g, '1');
    expect(v.proposalId).toBe(proposal.id);
    expect(v.actions.map((a) => a.words)).toEqual([
      'set minStake from 100 to 250 AGORA',
      'set slashBps from 5000 to 2500 bps (25%)',
      'set protocolFeeBps from 100 to 200 bps (2%)',
      'keep minChallengePeriod at 10 s',
      'set maxChallengePeriod from 604800 to 86400 s (1 d)',
      `set treasury from ${f.addr('TimelockController')} to ${acct(18)}`,
      'set votingPeriod from 120 to 300 s (5 min)',
      'set quorumNumerator from 4 to 5%',
      'set minDelay from 30 to 60 s (1 min)',
      `approve validator ${acct(12)}`,
      `remove validator ${f.validator.address}`,
      'open sector "audio" to new datasets',
      'retire sector "text" (no new datasets)',
      `grant 5000 AGORA from the treasury to ${acct(13)}`,
      'admit dataset 1 to sector "audio"',
      expect.stringMatching(
        new RegExp(`^call ${acct(17)} with 36 bytes of data \\(function 0x[0-9a-f]{8}, not decoded\\)$`),
      ),
    ]);
    expect(v.state).toBe('Pending');
    expect(v.phases.map((p) => p.name)).toEqual(['voting delay', 'voting', 'timelock']);

    // an executed proposal keeps saying what it changed, from the values before its execution
    const executed = await pass([{ kind: 'set', param: 'minStake', value: parseEther('300') }], 'Stake 300');
    const after = await proposalView(g, executed.id.toString());
    expect(after.state).toBe('Executed');
    expect(after.actions[0].words).toBe('set minStake from 100 to 300 AGORA');
    expect(after.votes).toEqual({ for: '2000000', against: '0', abstain: '0' });
    expect(after.quorumReached).toBe(true);
    const s = await readGovernedState(g);
    expect(formatEther(s.values.minStake as bigint)).toBe('300');
    expect(s.changedBy.minStake?.proposalId).toBe(executed.id);
    expect(s.changedBy.slashBps?.proposalId).toBeNull();
  });

  it('on the devnet one member cannot reach quorum alone: two can', async () => {
    expect(await f.token.getVotes(f.accounts[0].address)).toBe(0n); // the deployer kept no votes
    const alone = await member.propose(
      g,
      f.signers[3],
      [{ kind: 'set', param: 'slashBps', value: 1000n }],
      proposalDescription('Lower the slash'),
    );
    await f.increaseTime(2);
    await member.vote(g, f.signers[3], alone.proposal.id.toString(), 'for');
    await f.increaseTime(121);
    const v = await proposalView(g, alone.proposal.id.toString());
    expect(v.state).toBe('Defeated');
    expect(v.next).toMatch(/quorum not reached/);
    await expect(member.queue(g, f.signers[3], alone.proposal.id.toString())).rejects.toThrow(
      /defeated \(quorum not reached: 1000000 AGORA for \+ abstain, 1200000 AGORA needed\)/,
    );
    // the same with a second member: passes (pass() votes with accounts 1 and 2)
    await pass([{ kind: 'set', param: 'slashBps', value: 1000n }], 'Lower the slash, again');
    expect((await readGovernedState(g)).values.slashBps).toBe(1000n);
  });
});
