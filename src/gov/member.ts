/**
 * What a member does (adapter over the governor, the token and the clock): propose typed actions, vote,
 * queue, execute, delegate. Each step checks first (`checks.ts`) so a member who is early, late or
 * voting twice gets a clear error instead of a paid revert; `wait` waits for the phase the step needs
 * (voting delay, voting period, timelock) with progress lines, so `execute --wait` follows a proposal
 * to its end.
 */
import { type Address, formatEther, type TransactionReceipt } from 'viem';
import { tokenClient } from '../chain/token.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { encodeActions, type GovAction } from './actions.ts';
import {
  cancelProblem,
  executeProblem,
  governorError,
  proposeProblem,
  queueProblem,
  voteProblem,
} from './checks.ts';
import { governanceClient, type VoteSupport } from './governance.ts';
import { readParamValues } from './param-state.ts';
import { formatDuration, type ParamValues } from './params.ts';
import { type ProposalFacts, proposalState, waitTarget } from './phases.ts';
import {
  chainNow,
  findProposal,
  type GovChain,
  listProposals,
  type ProposalRecord,
  proposalFacts,
  votesOf,
} from './proposals.ts';

export type MemberOptions = {
  onProgress?: (message: string) => void;
  /** How often a wait reads the chain (ms, default 1000). */
  pollMs?: number;
  /** Seconds between progress lines while waiting (default 10). */
  progressEvery?: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const agora = (v: bigint) => `${formatEther(v)} AGORA`;

/** Waits until the chain's clock reaches `target`, reporting the time left (and `detail()`). */
export async function waitUntil(
  g: GovChain,
  target: bigint,
  what: string,
  o: MemberOptions = {},
  detail?: () => Promise<string>,
): Promise<void> {
  let lastReport = 0;
  for (;;) {
    const now = await chainNow(g.conn);
    if (now >= target) return;
    if (Date.now() - lastReport >= (o.progressEvery ?? 10) * 1000) {
      lastReport = Date.now();
      const extra = detail ? `: ${await detail()}` : '';
      o.onProgress?.(`${what} in ${formatDuration(target - now)}${extra}…`);
    }
    await sleep(Math.min(o.pollMs ?? 1000, Number(target - now) * 1000));
  }
}

async function factsNow(g: GovChain, p: ProposalRecord): Promise<{ facts: ProposalFacts; now: bigint }> {
  const now = await chainNow(g.conn);
  return { facts: await proposalFacts(g, p, now), now };
}

function tally(f: ProposalFacts): string {
  const v = f.votes;
  const reached = v.for + v.abstain >= f.quorum ? 'reached' : 'not reached';
  return `for ${agora(v.for)}, against ${agora(v.against)}, abstain ${agora(v.abstain)}; quorum ${agora(f.quorum)} ${reached}`;
}

/** Proposes `actions` (checked against the contracts' bounds and the proposal threshold first). */
export async function propose(
  g: GovChain,
  signer: Signer,
  actions: readonly GovAction[],
  description: string,
): Promise<{ proposal: ProposalRecord; receipt: TransactionReceipt; before: ParamValues }> {
  if (actions.length === 0) {
    throw new AgoraError('GOV_NO_ACTIONS', 'a proposal needs at least one action', {
      hint: 'e.g. --set minStake=250, --admit-sector audio, --grant 0x… 5000 (see `agora gov propose --help`)',
    });
  }
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  const token = tokenClient(g.conn, g.contracts.AgoraToken);
  const before = await readParamValues(g);
  const calls = encodeActions(actions, g.contracts, before);
  const me = signer.account.address;
  const [votes, threshold, balance] = await Promise.all([
    token.getVotes(me),
    gov.proposalThreshold(),
    token.balanceOf(me),
  ]);
  const problem = proposeProblem(votes, threshold, balance);
  if (problem) throw problem;
  const id = await gov.proposalId(calls, description);
  if ((await gov.proposalSnapshot(id)) !== 0n) {
    const existing = (await listProposals(g)).find((p) => p.id === id);
    throw new AgoraError(
      'GOV_DUPLICATE',
      `the same proposal (same actions and description) already exists${existing ? ` as number ${existing.number}` : ''}`,
      {
        hint: `see it with \`agora gov show ${existing?.number ?? id}\`, or change the title or description`,
      },
    );
  }
  let receipt: TransactionReceipt;
  try {
    ({ receipt } = await gov.propose(signer, calls, description));
  } catch (e) {
    throw governorError(e, 'new');
  }
  return { proposal: await findProposal(g, id.toString()), receipt, before };
}

export type VoteResult = {
  proposal: ProposalRecord;
  support: VoteSupport;
  weight: bigint;
  receipt: TransactionReceipt;
};

/** Votes on a proposal; with `wait`, waits for the vote to open first. */
export async function vote(
  g: GovChain,
  signer: Signer,
  ref: string,
  support: VoteSupport,
  o: MemberOptions & { reason?: string; wait?: boolean } = {},
): Promise<VoteResult> {
  const p = await findProposal(g, ref);
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  const me = signer.account.address;
  let { facts, now } = await factsNow(g, p);
  const opens = waitTarget(facts, now, 'voting');
  if (o.wait && opens !== undefined) {
    await waitUntil(g, opens, `voting on proposal ${ref} opens`, o);
    ({ facts, now } = await factsNow(g, p));
  }
  const hasVoted = await gov.hasVoted(p.id, me);
  const previous = hasVoted ? (await votesOf(g, p.id)).find((v) => v.voter === me)?.support : undefined;
  // votes count as delegated at the snapshot (readable once the clock has passed it)
  const weight = now > facts.snapshot ? await gov.getVotes(me, facts.snapshot) : 1n;
  const problem = voteProblem({ ref, facts, now }, { hasVoted, previous, weight });
  if (problem) throw problem;
  try {
    const receipt = await gov.castVote(signer, p.id, support, o.reason);
    return { proposal: p, support, weight, receipt };
  } catch (e) {
    throw governorError(e, ref);
  }
}

/** Queues a passed proposal in the timelock; with `wait`, waits for the end of the vote first. */
export async function queue(
  g: GovChain,
  signer: Signer,
  ref: string,
  o: MemberOptions & { wait?: boolean } = {},
): Promise<{ proposal: ProposalRecord; eta: bigint; receipt: TransactionReceipt }> {
  const p = await findProposal(g, ref);
  let { facts, now } = await factsNow(g, p);
  const ends = waitTarget(facts, now, 'decided');
  if (o.wait && ends !== undefined) {
    await waitUntil(g, ends, `the vote on proposal ${ref} ends`, o, async () =>
      tally((await factsNow(g, p)).facts),
    );
    ({ facts, now } = await factsNow(g, p));
  }
  const problem = queueProblem({ ref, facts, now });
  if (problem) throw problem;
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  try {
    const receipt = await gov.queue(signer, p.calls, p.description);
    return { proposal: p, eta: await gov.proposalEta(p.id), receipt };
  } catch (e) {
    throw governorError(e, ref);
  }
}

/** Withdraws the signer's own proposal before voting opens. */
export async function cancel(
  g: GovChain,
  signer: Signer,
  ref: string,
): Promise<{ proposal: ProposalRecord; receipt: TransactionReceipt }> {
  const p = await findProposal(g, ref);
  const { facts, now } = await factsNow(g, p);
  const problem = cancelProblem({ ref, facts, now }, p.proposer, signer.account.address);
  if (problem) throw problem;
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  try {
    return { proposal: p, receipt: await gov.cancel(signer, p.calls, p.description) };
  } catch (e) {
    throw governorError(e, ref);
  }
}

/**
 * Executes a queued proposal once the timelock releases it. With `wait`, follows it to the end: waits
 * for the vote to end, queues it if nobody has, waits out the timelock, executes.
 */
export async function execute(
  g: GovChain,
  signer: Signer,
  ref: string,
  o: MemberOptions & { wait?: boolean } = {},
): Promise<{ proposal: ProposalRecord; queued: boolean; receipt: TransactionReceipt }> {
  const p = await findProposal(g, ref);
  let { facts, now } = await factsNow(g, p);
  let queued = false;
  if (o.wait) {
    const state = proposalState(facts, now);
    if (state === 'Pending' || state === 'Active' || state === 'Succeeded') {
      await queue(g, signer, ref, o);
      queued = true;
      o.onProgress?.(`queued proposal ${ref} in the timelock`);
      ({ facts, now } = await factsNow(g, p));
    }
    const eta = waitTarget(facts, now, 'executable');
    if (eta !== undefined) {
      await waitUntil(g, eta, `the timelock releases proposal ${ref}`, o);
      ({ facts, now } = await factsNow(g, p));
    }
  }
  const problem = executeProblem({ ref, facts, now });
  if (problem) throw problem;
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  try {
    const receipt = await gov.execute(signer, p.calls, p.description);
    return { proposal: p, queued, receipt };
  } catch (e) {
    throw governorError(e, ref);
  }
}

/** Delegates the signer's votes to `to` (itself to vote with its own tokens). */
export async function delegate(
  g: GovChain,
  signer: Signer,
  to: Address,
): Promise<{ receipt: TransactionReceipt; votesOfDelegate: bigint; balance: bigint }> {
  const token = tokenClient(g.conn, g.contracts.AgoraToken);
  const receipt = await token.delegate(signer, to);
  const [votesOfDelegate, balance] = await Promise.all([
    token.getVotes(to),
    token.balanceOf(signer.account.address),
  ]);
  return { receipt, votesOfDelegate, balance };
}
