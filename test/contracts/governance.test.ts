import { type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgoraTimelock, ProtocolParams } from '../../artifacts/index.ts';
import {
  isSectorAllowed,
  isValidator,
  paramActions,
  readProtocolParams,
} from '../../src/chain/protocol-params.ts';
import { readTx, sendTx } from '../../src/chain/tx.ts';
import type { ProposalAction } from '../../src/gov/governance.ts';
import { expectRevert, type Fixture, h, startFixture } from './fixture.ts';

describe('governance: AgoraGovernor + TimelockController own the protocol parameters', () => {
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

  /** propose → vote (accounts 1..3 for) → queue → execute, with time travel in between. */
  async function pass(actions: ProposalAction[], description: string) {
    const { proposalId } = await f.gov.propose(f.signers[1], actions, description);
    expect(await f.gov.state(proposalId)).toBe('Pending');
    await f.increaseTime(2);
    expect(await f.gov.state(proposalId)).toBe('Active');
    for (const i of [1, 2, 3]) await f.gov.castVote(f.signers[i], proposalId, 'for');
    await f.gov.castVote(f.signers[4], proposalId, 'against');
    await f.increaseTime(121);
    expect(await f.gov.state(proposalId)).toBe('Succeeded');
    await f.gov.queue(f.signers[5], actions, description);
    expect(await f.gov.state(proposalId)).toBe('Queued');
    await expectRevert(f.gov.execute(f.signers[5], actions, description), 'TimelockUnexpectedOperationState');
    await f.increaseTime(31);
    return {
      proposalId,
      execute: async () => {
        await f.gov.execute(f.signers[5], actions, description);
        expect(await f.gov.state(proposalId)).toBe('Executed');
      },
    };
  }

  it('passes a parameter change end to end: propose → vote → queue → execute', async () => {
    const params = f.addr('ProtocolParams');
    const { datasetId } = await f.registry.signAndRegister(f.accounts[6], f.signers[6], {
      root: h('gov-ds'),
      records: 10n,
      bytes: 100n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('gov-m'),
    });
    const actions = [
      paramActions.setMinStake(params, parseEther('250')),
      paramActions.setSlashBps(params, 2_500),
      paramActions.setProtocolFeeBps(params, 300),
      paramActions.setChallengePeriodBounds(params, 60n, 86_400n),
      paramActions.setValidator(params, f.accounts[7].address, true),
      paramActions.setSector(params, 'audio', true),
      paramActions.admitToSector(f.registry.address, datasetId, 'audio'),
    ];
    const p = await pass(actions, 'Raise stake, lower slash, approve validator 7, admit dataset to audio');
    expect((await readProtocolParams(f.conn, params)).minStake).toBe(parseEther('100'));
    await p.execute();
    expect(await readProtocolParams(f.conn, params)).toMatchObject({
      minStake: parseEther('250'),
      slashBps: 2_500,
      protocolFeeBps: 300,
      minChallengePeriod: 60n,
      maxChallengePeriod: 86_400n,
      governance: f.addr('TimelockController'),
      treasury: f.addr('TimelockController'),
    });
    expect(await isValidator(f.conn, params, f.accounts[7].address)).toBe(true);
    expect(await isSectorAllowed(f.conn, params, 'audio')).toBe(true);
    expect(await f.registry.isAdmitted(datasetId, 'audio')).toBe(true);
    // the new validator can now attest
    await f.registry.attestQuality(f.signers[7], datasetId, 7000, h('r'));
  });

  it('governance dismisses a validator fraud report inside its challenge window; removes sector admission', async () => {
    const { setupJob } = await import('./fixture.ts');
    const { jobId } = await setupJob(f, { workers: 2, providers: [6, 7], challengePeriod: 1000n });
    const accused = f.accounts[6].address;
    const { reportId } = await f.market.reportFraud(f.signers[19], jobId, accused, 0n, h('weak evidence'));
    const { datasetId } = await f.registry.signAndRegister(f.accounts[8], f.signers[8], {
      root: h('gov-ds3'),
      records: 1n,
      bytes: 1n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('gov-m3'),
    });
    const admit = await pass(
      [paramActions.admitToSector(f.registry.address, datasetId, 'vision')],
      'admit vision',
    );
    await admit.execute();
    expect(await f.registry.isAdmitted(datasetId, 'vision')).toBe(true);
    const { action } = await import('../../src/gov/governance.ts');
    const { ComputeMarket } = await import('../../artifacts/index.ts');
    const treasury = f.accounts[18].address;
    const p = await pass(
      [
        action(f.market.address, ComputeMarket.abi, 'dismissFraud', [reportId]),
        paramActions.removeFromSector(f.registry.address, datasetId, 'vision'),
        paramActions.setTreasury(f.addr('ProtocolParams'), treasury),
      ],
      'dismiss report 1, remove vision admission, move treasury',
    );
    await p.execute();
    expect((await f.market.getReport(reportId)).state).toBe('Dismissed');
    expect((await f.market.seatOf(jobId, accused)).pendingReports).toBe(0);
    await expectRevert(f.market.executeFraudSlash(f.signers[1], reportId), 'BadReport');
    expect(await f.registry.isAdmitted(datasetId, 'vision')).toBe(false);
    expect((await readProtocolParams(f.conn, f.addr('ProtocolParams'))).treasury).toBe(treasury);
  });

  it('governance can post a reward root for a job whose participants never agreed (solvency still checked)', async () => {
    const { setupJob, REQUESTER } = await import('./fixture.ts');
    const { buildRewardTree } = await import('../../src/chain/merkle.ts');
    const { postRewardRootByGovernanceAction } = await import('../../src/chain/training-ledger.ts');
    const { jobId } = await setupJob(f, { workers: 1, providers: [6], rounds: 1 });
    const sig = await f.ledger.signRoundCommit(f.accounts[6], jobId, 0n, h('rr'), h('mh'));
    await f.ledger.commitRound(f.signers[0], jobId, 0n, h('rr'), h('mh'), [sig]);
    await f.ledger.closeJob(f.signers[0], jobId);
    const funded = (await f.ledger.getJobLedger(jobId)).funded;
    const tree = buildRewardTree([
      { account: f.accounts[6].address, amount: funded / 2n },
      { account: f.accounts[REQUESTER].address, amount: funded / 2n },
    ]);
    const { TrainingLedger } = await import('../../artifacts/index.ts');
    await expectRevert(
      sendTx(f.conn, f.signers[0], {
        label: 'TrainingLedger.postRewardRootByGovernance',
        address: f.ledger.address,
        abi: TrainingLedger.abi,
        functionName: 'postRewardRootByGovernance',
        args: [jobId, tree.root, tree.total],
      }),
      'NotGovernance',
    );
    const greedy = await pass(
      [postRewardRootByGovernanceAction(f.ledger.address, jobId, tree.root, funded + 1n)],
      'greedy',
    );
    await expectRevert(greedy.execute(), 'Insolvent');
    const p = await pass(
      [postRewardRootByGovernanceAction(f.ledger.address, jobId, tree.root, tree.total)],
      'split',
    );
    await p.execute();
    await f.ledger.claimFromTree(f.signers[1], jobId, tree, f.accounts[6].address);
    expect((await f.ledger.getJobLedger(jobId)).claimed).toBe(funded / 2n);
  });

  it('refuses admission into a sector governance has not allowed (execution reverts)', async () => {
    const { datasetId } = await f.registry.signAndRegister(f.accounts[6], f.signers[6], {
      root: h('gov-ds2'),
      records: 10n,
      bytes: 100n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('gov-m2'),
    });
    const p = await pass(
      [paramActions.admitToSector(f.registry.address, datasetId, 'audio')],
      'admit to audio',
    );
    await expectRevert(p.execute(), 'SectorNotAllowed');
  });

  it('a defeated proposal cannot be queued', async () => {
    const actions = [paramActions.setSlashBps(f.addr('ProtocolParams'), 10_000)];
    const { proposalId } = await f.gov.propose(f.signers[1], actions, 'max slash');
    await f.increaseTime(2);
    for (const i of [1, 2, 3]) await f.gov.castVote(f.signers[i], proposalId, 'against');
    await f.increaseTime(121);
    expect(await f.gov.state(proposalId)).toBe('Defeated');
    await expectRevert(f.gov.queue(f.signers[1], actions, 'max slash'), 'GovernorUnexpectedProposalState');
    expect(await f.gov.proposalId(actions, 'max slash')).toBe(proposalId);
  });

  it('nobody but the timelock can call a parameter setter (the deployer kept no power)', async () => {
    const params = f.addr('ProtocolParams');
    const calls: [string, unknown[]][] = [
      ['setMinStake', [1n]],
      ['setSlashBps', [1]],
      ['setProtocolFeeBps', [1]],
      ['setChallengePeriodBounds', [1n, 2n]],
      ['setTreasury', [f.accounts[0].address]],
      ['setValidator', [f.accounts[0].address, true]],
      ['setSector', ['x', true]],
      ['transferOwnership', [f.accounts[0].address]],
    ];
    for (const who of [0, 19]) {
      for (const [fn, args] of calls) {
        await expectRevert(
          sendTx(f.conn, f.signers[who], {
            label: `ProtocolParams.${fn}`,
            address: params,
            abi: ProtocolParams.abi,
            functionName: fn,
            args,
          }),
          'OwnableUnauthorizedAccount',
        );
      }
    }
    const timelock = f.addr('TimelockController');
    const role = (name: string) =>
      readTx<Hex>(f.conn, { label: name, address: timelock, abi: AgoraTimelock.abi, functionName: name });
    const hasRole = (r: Hex, a: string) =>
      readTx<boolean>(f.conn, {
        label: 'hasRole',
        address: timelock,
        abi: AgoraTimelock.abi,
        functionName: 'hasRole',
        args: [r, a],
      });
    expect(await hasRole(await role('DEFAULT_ADMIN_ROLE'), f.accounts[0].address)).toBe(false);
    expect(await hasRole(await role('PROPOSER_ROLE'), f.accounts[0].address)).toBe(false);
    expect(await hasRole(await role('PROPOSER_ROLE'), f.gov.address)).toBe(true);
    expect(await hasRole(await role('EXECUTOR_ROLE'), f.gov.address)).toBe(true);
    expect(await hasRole(await role('CANCELLER_ROLE'), f.gov.address)).toBe(true);
    // governance's own bounds checks
    const p = await pass([paramActions.setSlashBps(f.addr('ProtocolParams'), 10_001)], 'bad slash');
    await expectRevert(p.execute(), 'InvalidParam');
  });

  it('the treasury holds its devnet AGORA and votes are delegated at deploy', async () => {
    expect(await f.token.balanceOf(f.addr('TimelockController'))).toBe(parseEther('10000000'));
    expect(await f.token.getVotes(f.accounts[3].address)).toBe(parseEther('1000000'));
  });
});
