/**
 * A proposal's life as data (pure): from the chain facts (snapshot, deadline, eta, votes, quorum, whether
 * it was executed or canceled) and the chain's clock, its state exactly as the governor computes it, each
 * phase (voting delay, voting, timelock) with the time left, and what a member can do next.
 *
 * `now` is the timestamp the next block will carry (the pending block): what the governor will see when a
 * transaction sent now executes. Voting opens when now > snapshot and closes after now > deadline; a
 * queued proposal executes when now >= eta.
 */
import type { ProposalState, ProposalVotes } from './governance.ts';

export type ProposalFacts = {
  /** Block timestamp of the proposal (voting delay starts). */
  createdAt: bigint;
  snapshot: bigint;
  deadline: bigint;
  /** When the timelock releases it (0 until queued). */
  eta: bigint;
  executed: boolean;
  canceled: boolean;
  votes: ProposalVotes;
  /** Votes needed (for + abstain); an estimate until the snapshot has passed. */
  quorum: bigint;
  /** The timelock's delay now (what queueing will add). */
  minDelay: bigint;
};

export type PhaseName = 'voting delay' | 'voting' | 'timelock';
export type Phase = {
  name: PhaseName;
  /** Timestamps; `end` of the timelock is an estimate until queued. */
  start: bigint;
  end: bigint;
  status: 'done' | 'now' | 'upcoming' | 'skipped';
  /** Seconds until the phase ends (0 once done). */
  secondsLeft: number;
};

export type ProposalStatus = {
  state: ProposalState;
  quorumReached: boolean;
  passing: boolean;
  phases: Phase[];
  /** What happens next, in words ("voting opens in 5 s", "ready to queue", …). */
  next: string;
};

/** The governor's state function over facts (OpenZeppelin Governor 5 + TimelockControl). */
export function proposalState(f: ProposalFacts, now: bigint): ProposalState {
  if (f.executed) return 'Executed';
  if (f.canceled) return 'Canceled';
  if (f.snapshot >= now) return 'Pending';
  if (f.deadline >= now) return 'Active';
  if (!reached(f) || !(f.votes.for > f.votes.against)) return 'Defeated';
  if (f.eta === 0n) return 'Succeeded';
  return 'Queued';
}

const reached = (f: ProposalFacts) => f.quorum <= f.votes.for + f.votes.abstain;

export function proposalStatus(f: ProposalFacts, now: bigint, fmt: (s: bigint) => string): ProposalStatus {
  const state = proposalState(f, now);
  const left = (t: bigint) => Number(t > now ? t - now : 0n);
  const votingEnd = f.deadline + 1n;
  const timelockStart = f.eta > 0n ? f.eta - f.minDelay : votingEnd;
  const timelockEnd = f.eta > 0n ? f.eta : votingEnd + f.minDelay;
  const over = state === 'Defeated' || state === 'Canceled';
  const phase = (name: PhaseName, start: bigint, end: bigint, current: boolean, done: boolean): Phase => ({
    name,
    start,
    end,
    status: done ? 'done' : current ? 'now' : over ? 'skipped' : 'upcoming',
    secondsLeft: done ? 0 : left(end),
  });
  const phases = [
    phase('voting delay', f.createdAt, f.snapshot + 1n, state === 'Pending', state !== 'Pending'),
    phase(
      'voting',
      f.snapshot + 1n,
      votingEnd,
      state === 'Active',
      !['Pending', 'Active', 'Canceled'].includes(state),
    ),
    phase(
      'timelock',
      timelockStart,
      timelockEnd,
      state === 'Queued',
      state === 'Executed' || (state === 'Queued' && now >= f.eta),
    ),
  ];
  return {
    state,
    quorumReached: reached(f),
    passing: reached(f) && f.votes.for > f.votes.against,
    phases,
    next: nextStep(f, state, now, fmt),
  };
}

function nextStep(f: ProposalFacts, state: ProposalState, now: bigint, fmt: (s: bigint) => string): string {
  switch (state) {
    case 'Pending':
      return `voting opens in ${fmt(f.snapshot + 1n - now)}`;
    case 'Active':
      return `voting closes in ${fmt(f.deadline + 1n - now)}`;
    case 'Succeeded':
      return 'passed: ready to queue in the timelock';
    case 'Queued':
      return now >= f.eta ? 'ready to execute' : `executable in ${fmt(f.eta - now)}`;
    case 'Defeated':
      return reached(f)
        ? 'more votes against than for'
        : 'quorum not reached (for + abstain below the quorum)';
    case 'Executed':
      return 'executed';
    case 'Canceled':
      return 'canceled';
    case 'Expired':
      return 'expired';
  }
}

/** The timestamp a member waiting for `target` state must reach (undefined: no waiting gets there). */
export function waitTarget(
  f: ProposalFacts,
  now: bigint,
  target: 'voting' | 'decided' | 'executable',
): bigint | undefined {
  const state = proposalState(f, now);
  if (target === 'voting') return state === 'Pending' ? f.snapshot + 1n : undefined;
  if (target === 'decided') return state === 'Pending' || state === 'Active' ? f.deadline + 1n : undefined;
  return state === 'Queued' && now < f.eta ? f.eta : undefined;
}
