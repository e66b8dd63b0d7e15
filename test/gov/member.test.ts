/**
 * A member's steps on the embedded chain: the clear errors (proposing below the threshold, voting early,
 * late, twice or without votes, queueing or executing too soon) and the real waits of `--wait`
 * (voting delay, voting period, timelock) after governance shortened its own periods by vote.
 */
import { parseEther } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AgoraError } from '../../src/errors.ts';
import type { GovAction } from '../../src/gov/actions.ts';
import { proposalDescription } from '../../src/gov/description.ts';
import * as member from '../../src/gov/member.ts';
import { readGovernedState } from '../../src/gov/param-state.ts';
import { type GovChain, govChain } from '../../src/gov/proposals.ts';
import { proposalView } from '../../src/gov/view.ts';
import { type Fixture, startFixture } from '../contracts/fixture.ts';

async function failure(p: Promise<unknown>): Promise<AgoraError> {
  try {
    await p;
  } catch (e) {
    return e as AgoraError;
  }
  throw new Error('expected a failure');
}

describe('a member proposing, voting, queueing and executing', () => {
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

  async function pass(actions: GovAction[], title: string) {
    const { proposal } = await member.propose(g, f.signers[1], actions, proposalDescription(title));
    const ref = proposal.id.toString();
    await f.increaseTime(2);
    for (const i of [1, 2]) await member.vote(g, f.signers[i], ref, 'for');
    await f.increaseTime(121);
    await member.queue(g, f.signers[5], ref);
    await f.increaseTime(31);
    await member.execute(g, f.signers[5], ref);
  }

  it('gets an error saying what to do and when at every wrong step', async () => {
    await pass(
      [
        { kind: 'set', param: 'votingDelay', value: 60n },
        { kind: 'set', param: 'proposalThreshold', value: parseEther('1500000') },
      ],
      'Slower, more deliberate proposals',
    );
    const action: GovAction[] = [{ kind: 'set', param: 'minStake', value: parseEther('250') }];
    const description = proposalDescription('Raise the stake');

    const below = await failure(member.propose(g, f.signers[1], action, description));
    expect(below.code).toBe('GOV_BELOW_THRESHOLD');
    expect(below.message).toBe(
      'proposing needs 1500000 AGORA of votes (proposalThreshold); you have 1000000 AGORA',
    );
    expect(below.hint).toMatch(/ask holders to delegate their votes to you/);

    // account 3 gives its votes to account 1, which now clears the threshold
    await member.delegate(g, f.signers[3], f.accounts[1].address);
    expect(await f.token.getVotes(f.accounts[1].address)).toBe(parseEther('2000000'));
    const { proposal } = await member.propose(g, f.signers[1], action, description);
    const ref = String(proposal.number);

    const early = await failure(member.vote(g, f.signers[1], ref, 'for'));
    expect(early.code).toBe('GOV_VOTING_NOT_OPEN');
    expect(early.message).toMatch(/^voting on proposal 2 opens in (59 s|1 min|1 min 1 s) \(at 20\d\d-/);
    expect(early.hint).toMatch(/--wait/);

    await f.increaseTime(61);
    const voted = await member.vote(g, f.signers[1], ref, 'for', { reason: 'more skin in the game' });
    expect(voted.weight).toBe(parseEther('2000000'));
    const twice = await failure(member.vote(g, f.signers[1], ref, 'against'));
    expect(twice.code).toBe('GOV_ALREADY_VOTED');
    expect(twice.message).toBe('you already voted on proposal 2 (for); a vote cannot be changed');
    expect(twice.hint).toMatch(/voting closes in/);
    const empty = await failure(member.vote(g, f.signers[3], ref, 'for'));
    expect(empty.code).toBe('GOV_NO_VOTES');

    const tooSoon = await failure(member.queue(g, f.signers[5], ref));
    expect(tooSoon.code).toBe('GOV_VOTE_NOT_OVER');
    expect(tooSoon.hint).toMatch(/agora gov queue 2 --wait/);
    expect((await failure(member.execute(g, f.signers[5], ref))).code).toBe('GOV_VOTE_NOT_OVER');

    await f.increaseTime(121);
    const late = await failure(member.vote(g, f.signers[4], ref, 'against'));
    expect(late.code).toBe('GOV_VOTING_CLOSED');
    expect(late.message).toMatch(/closed .* ago .*; it is Succeeded/);
    expect(late.hint).toBe('next: `agora gov queue 2`');
    expect((await failure(member.execute(g, f.signers[5], ref))).code).toBe('GOV_NOT_QUEUED');

    await member.queue(g, f.signers[5], ref);
    const locked = await failure(member.execute(g, f.signers[5], ref));
    expect(locked.code).toBe('GOV_TIMELOCK');
    expect(locked.message).toMatch(/is in the timelock: it can be executed in (29|30|31) s/);
    expect(locked.hint).toMatch(/agora gov execute 2 --wait/);
    await f.increaseTime(31);
    await member.execute(g, f.signers[5], ref);
    expect((await readGovernedState(g)).values.minStake).toBe(parseEther('250'));

    const dup = await failure(member.propose(g, f.signers[1], action, description));
    expect(dup.code).toBe('GOV_DUPLICATE');
  });

  it('lets the proposer alone withdraw a proposal, and only before voting opens', async () => {
    const action: GovAction[] = [{ kind: 'set', param: 'protocolFeeBps', value: 175n }];
    const { proposal } = await member.propose(g, f.signers[1], action, proposalDescription('Fee to 1.75%'));
    const ref = String(proposal.number);
    const other = await failure(member.cancel(g, f.signers[2], ref));
    expect(other.code).toBe('GOV_NOT_PROPOSER');
    expect(other.message).toContain(f.accounts[1].address);
    expect(other.hint).toBe(`vote against it instead: \`agora gov vote ${ref} against\``);
    const r = await member.cancel(g, f.signers[1], ref);
    expect(r.receipt.status).toBe('success');
    expect((await proposalView(g, ref)).state).toBe('Canceled');
    expect((await failure(member.cancel(g, f.signers[1], ref))).code).toBe('GOV_CANCELED');
    expect((await failure(member.vote(g, f.signers[2], ref, 'for'))).code).toBe('GOV_VOTING_CLOSED');

    const second = await member.propose(g, f.signers[1], action, proposalDescription('Fee to 1.75%, again'));
    await f.increaseTime(2);
    const late = await failure(member.cancel(g, f.signers[1], String(second.proposal.number)));
    expect(late.code).toBe('GOV_CANCEL_TOO_LATE');
    expect(late.message).toMatch(/voting opened at .* and it is Active/);
  });

  it('waits for voting to open, for the vote to end and for the timelock, with progress', async () => {
    await pass(
      [
        { kind: 'set', param: 'votingPeriod', value: 4n },
        { kind: 'set', param: 'minDelay', value: 2n },
      ],
      'Short periods for this test',
    );
    const { proposal } = await member.propose(
      g,
      f.signers[1],
      [{ kind: 'set', param: 'protocolFeeBps', value: 150n }],
      proposalDescription('Fee to 1.5%'),
    );
    const ref = proposal.id.toString();
    const lines: string[] = [];
    const o = { wait: true, pollMs: 200, progressEvery: 0, onProgress: (m: string) => lines.push(m) };
    const started = Date.now();
    await member.vote(g, f.signers[1], ref, 'for', o);
    await member.vote(g, f.signers[2], ref, 'abstain', o);
    const r = await member.execute(g, f.signers[5], ref, o);
    expect(r.queued).toBe(true);
    expect((await readGovernedState(g)).values.protocolFeeBps).toBe(150n);
    expect(Date.now() - started).toBeGreaterThan(4000); // the vote and the timelock were really waited out
    expect(
      lines.some((l) =>
        /^the vote on proposal \d+ ends in \d+ s: for 1000000 AGORA, against 0 AGORA, abstain 1000000 AGORA; quorum 1200000 AGORA reached…$/.test(
          l,
        ),
      ),
    ).toBe(true);
    expect(lines.some((l) => /^the timelock releases proposal \d+ in \d+ s…$/.test(l))).toBe(true);
  }, 60_000);
});
