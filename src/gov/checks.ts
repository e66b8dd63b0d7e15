/**
 * Whether a member can propose, vote, queue or execute right now, and if not, an error saying why, what
 * to do and when (pure: from the proposal's facts, the chain's clock and the member's votes). Checked
 * before a transaction is sent, so nobody pays gas for a revert; `governorError` translates the governor's
 * own reverts the same way for the races a check cannot see.
 */
import { formatEther } from 'viem';
import { revertName } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { ProposalVotes, VoteSupport } from './governance.ts';
import { formatDuration } from './params.ts';
import { type ProposalFacts, proposalState } from './phases.ts';

const at = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');
const inTime = (t: bigint, now: bigint) => `in ${formatDuration(t - now)} (at ${at(t)})`;
const agora = (v: bigint) => `${formatEther(v)} AGORA`;

/** Ref is how the member named the proposal (its number or id), reused in the hints' commands. */
export type Ctx = { ref: string; facts: ProposalFacts; now: bigint };

export function proposeProblem(votes: bigint, threshold: bigint, balance: bigint): AgoraError | undefined {
  if (votes >= threshold) return undefined;
  const hint =
    balance >= threshold
      ? `you hold ${agora(balance)} but have not delegated its votes: run \`agora gov delegate <your address>\`, then propose (votes count from the next block)`
      : 'ask holders to delegate their votes to you (`agora gov delegate <your address>` from their account), or ask a member with enough votes to propose it';
  return new AgoraError(
    'GOV_BELOW_THRESHOLD',
    `proposing needs ${agora(threshold)} of votes (proposalThreshold); you have ${agora(votes)}`,
    { hint },
  );
}

export function voteProblem(
  c: Ctx,
  voter: { hasVoted: boolean; previous?: VoteSupport; weight: bigint },
): AgoraError | undefined {
  const { ref, facts: f, now } = c;
  const state = proposalState(f, now);
  if (state === 'Pending') {
    return new AgoraError(
      'GOV_VOTING_NOT_OPEN',
      `voting on proposal ${ref} opens ${inTime(f.snapshot + 1n, now)}`,
      { hint: `run \`agora gov vote ${ref} …\` again then, or add --wait to wait for it` },
    );
  }
  if (state !== 'Active') {
    return new AgoraError(
      'GOV_VOTING_CLOSED',
      `voting on proposal ${ref} closed ${formatDuration(now - f.deadline - 1n)} ago (at ${at(f.deadline + 1n)}); it is ${state}`,
      { hint: nextCommand(ref, state) },
    );
  }
  if (voter.hasVoted) {
    return new AgoraError(
      'GOV_ALREADY_VOTED',
      `you already voted on proposal ${ref}${voter.previous ? ` (${voter.previous})` : ''}; a vote cannot be changed`,
      {
        hint: `see the tally with \`agora gov show ${ref}\`; voting closes ${inTime(f.deadline + 1n, now)}`,
      },
    );
  }
  if (voter.weight === 0n) {
    return new AgoraError(
      'GOV_NO_VOTES',
      `you had no votes when proposal ${ref} was made (snapshot ${at(f.snapshot)}), so your vote would count for nothing`,
      {
        hint: 'votes are counted as delegated at the snapshot: delegate now (`agora gov delegate <your address>`) to vote on the next proposals',
      },
    );
  }
  return undefined;
}

export function queueProblem(c: Ctx): AgoraError | undefined {
  const { ref, facts: f, now } = c;
  const state = proposalState(f, now);
  if (state === 'Succeeded') return undefined;
  if (state === 'Pending' || state === 'Active') {
    return new AgoraError(
      'GOV_VOTE_NOT_OVER',
      `the vote on proposal ${ref} ends ${inTime(f.deadline + 1n, now)}; it can be queued only after it passed`,
      { hint: `add --wait to wait for the end of the vote: \`agora gov queue ${ref} --wait\`` },
    );
  }
  if (state === 'Defeated') return defeated(ref, f.votes, f.quorum);
  return new AgoraError('GOV_CANNOT_QUEUE', `proposal ${ref} is ${state}, not waiting to be queued`, {
    hint: nextCommand(ref, state),
  });
}

export function executeProblem(c: Ctx): AgoraError | undefined {
  const { ref, facts: f, now } = c;
  const state = proposalState(f, now);
  if (state === 'Queued') {
    if (now >= f.eta) return undefined;
    return new AgoraError(
      'GOV_TIMELOCK',
      `proposal ${ref} is in the timelock: it can be executed ${inTime(f.eta, now)}`,
      { hint: `run \`agora gov execute ${ref}\` then, or \`agora gov execute ${ref} --wait\`` },
    );
  }
  if (state === 'Succeeded') {
    return new AgoraError('GOV_NOT_QUEUED', `proposal ${ref} passed but is not queued in the timelock yet`, {
      hint: `queue it first: \`agora gov queue ${ref}\` (or \`agora gov execute ${ref} --wait\` does both)`,
    });
  }
  if (state === 'Pending' || state === 'Active') {
    return new AgoraError(
      'GOV_VOTE_NOT_OVER',
      `the vote on proposal ${ref} ends ${inTime(f.deadline + 1n, now)}; then it must be queued and wait ${formatDuration(f.minDelay)} in the timelock`,
      { hint: `\`agora gov execute ${ref} --wait\` follows it to the end (wait, queue, wait, execute)` },
    );
  }
  if (state === 'Defeated') return defeated(ref, f.votes, f.quorum);
  return new AgoraError('GOV_CANNOT_EXECUTE', `proposal ${ref} is ${state}`, {
    hint: nextCommand(ref, state),
  });
}

function defeated(ref: string, v: ProposalVotes, quorum: bigint): AgoraError {
  const why =
    v.for + v.abstain < quorum
      ? `quorum not reached: ${agora(v.for + v.abstain)} for + abstain, ${agora(quorum)} needed`
      : `${agora(v.against)} against, ${agora(v.for)} for`;
  return new AgoraError('GOV_DEFEATED', `proposal ${ref} was defeated (${why})`, {
    hint: 'it cannot be queued or executed; propose it again to hold a new vote',
  });
}

/** A proposal can be withdrawn by its proposer while voting has not opened (the governor's rule). */
export function cancelProblem(c: Ctx, proposer: string, canceller: string): AgoraError | undefined {
  const { ref, facts: f, now } = c;
  const state = proposalState(f, now);
  if (canceller.toLowerCase() !== proposer.toLowerCase()) {
    return new AgoraError(
      'GOV_NOT_PROPOSER',
      `only the proposer of proposal ${ref} (${proposer}) can cancel it; you are ${canceller}`,
      {
        hint:
          state === 'Pending' || state === 'Active'
            ? `vote against it instead: \`agora gov vote ${ref} against\``
            : nextCommand(ref, state),
      },
    );
  }
  if (state === 'Pending') return undefined;
  if (state === 'Canceled') {
    return new AgoraError('GOV_CANCELED', `proposal ${ref} is already canceled`, {
      hint: 'propose it again (with a new description) if it is wanted after all',
    });
  }
  return new AgoraError(
    'GOV_CANCEL_TOO_LATE',
    `proposal ${ref} can no longer be canceled: voting opened at ${at(f.snapshot + 1n)} and it is ${state}`,
    {
      hint:
        state === 'Active'
          ? `vote against it instead: \`agora gov vote ${ref} against\``
          : nextCommand(ref, state),
    },
  );
}

function nextCommand(ref: string, state: string): string {
  switch (state) {
    case 'Succeeded':
      return `next: \`agora gov queue ${ref}\``;
    case 'Queued':
      return `next: \`agora gov execute ${ref}\` (after the timelock; --wait waits for it)`;
    case 'Executed':
      return 'it is done: see the result with `agora gov params`';
    default:
      return `see \`agora gov show ${ref}\``;
  }
}

/** The governor's or timelock's revert as the same clear errors (races a check could not see). */
export function governorError(e: unknown, ref: string): unknown {
  const name = revertName(e);
  if (!name) return e;
  switch (name) {
    case 'GovernorAlreadyCastVote':
      return new AgoraError(
        'GOV_ALREADY_VOTED',
        `you already voted on proposal ${ref}; a vote cannot be changed`,
        {
          hint: `see the tally with \`agora gov show ${ref}\``,
          cause: e,
        },
      );
    case 'GovernorInsufficientProposerVotes':
      return new AgoraError('GOV_BELOW_THRESHOLD', (e as Error).message, {
        hint: 'get votes delegated to you (`agora gov delegate <your address>`), then propose again',
        cause: e,
      });
    case 'GovernorUnableToCancel':
      return new AgoraError('GOV_CANCEL_TOO_LATE', `proposal ${ref} can no longer be canceled`, {
        hint: `only its proposer can, and only before voting opens; see \`agora gov show ${ref}\``,
        cause: e,
      });
    case 'GovernorUnexpectedProposalState':
    case 'TimelockUnexpectedOperationState':
      return new AgoraError(
        'GOV_WRONG_STATE',
        `proposal ${ref} is not in the state for this step (${(e as Error).message})`,
        { hint: `see where it stands with \`agora gov show ${ref}\``, cause: e },
      );
  }
  return e;
}
