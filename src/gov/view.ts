/**
 * Proposals as a member reads them (adapter + formatting): `agora gov list` rows and `agora gov show`'s
 * view: state, what happens next, each phase with the time left, the votes for/against/abstain against
 * the quorum, who voted, and every action in words ("set minStake from 100 to 250 AGORA"). Words compare
 * with today's values, or for an executed proposal with the values just before its execution.
 */
import { type Address, formatEther } from 'viem';
import { decodeActions, type GovAction } from './actions.ts';
import { type Decision, readGovernedState, readParamValues, valuesBefore } from './param-state.ts';
import {
  formatDuration,
  formatParamValue,
  PARAM_NAMES,
  PARAMS,
  type ParamName,
  paramValueWords,
} from './params.ts';
import { type Phase, proposalStatus } from './phases.ts';
import {
  chainNow,
  executionTx,
  findProposal,
  type GovChain,
  listProposals,
  proposalFacts,
  votesOf,
} from './proposals.ts';
import { actionWords, type Before } from './words.ts';

export type ProposalView = {
  number: number;
  proposalId: bigint;
  title: string;
  description: string;
  proposer: Address;
  state: string;
  next: string;
  /** AGORA decimal strings. */
  votes: { for: string; against: string; abstain: string };
  quorum: string;
  quorumReached: boolean;
  phases: (Omit<Phase, 'start' | 'end'> & { start: string; end: string })[];
  actions: { words: string; action: GovAction }[];
  voters: { voter: Address; support: string; weight: string; reason: string }[];
  executedTx?: string;
};

const iso = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');

export async function proposalView(g: GovChain, ref: string): Promise<ProposalView> {
  const p = await findProposal(g, ref);
  const now = await chainNow(g.conn);
  const [facts, voters, execTx] = await Promise.all([
    proposalFacts(g, p, now),
    votesOf(g, p.id),
    executionTx(g, p.id),
  ]);
  const status = proposalStatus(facts, now, formatDuration);
  const actions = decodeActions(p.calls, g.contracts);
  const before: Before = execTx ? await valuesBefore(g, execTx) : await readParamValues(g);
  return {
    number: p.number,
    proposalId: p.id,
    title: p.title,
    description: p.body,
    proposer: p.proposer,
    state: status.state,
    next: status.next,
    votes: {
      for: formatEther(facts.votes.for),
      against: formatEther(facts.votes.against),
      abstain: formatEther(facts.votes.abstain),
    },
    quorum: formatEther(facts.quorum),
    quorumReached: status.quorumReached,
    phases: status.phases.map((ph) => ({ ...ph, start: iso(ph.start), end: iso(ph.end) })),
    actions: actions.map((a) => ({ words: actionWords(a, before), action: a })),
    voters: voters.map((v) => ({ ...v, weight: formatEther(v.weight) })),
    ...(execTx ? { executedTx: execTx } : {}),
  };
}

export function proposalLines(v: ProposalView): string[] {
  const phase = (ph: ProposalView['phases'][number]) => {
    const left =
      ph.status === 'now' || ph.status === 'upcoming' ? `, ${formatDuration(ph.secondsLeft)} left` : '';
    return `  ${ph.name.padEnd(13)} ${ph.status.padEnd(8)} ${ph.start} → ${ph.end}${left}`;
  };
  return [
    `proposal ${v.number}: ${v.title}`,
    `  id ${v.proposalId}`,
    `  proposed by ${v.proposer}`,
    `  state ${v.state}: ${v.next}`,
    '',
    'actions:',
    ...v.actions.map((a, i) => `  ${i + 1}. ${a.words}`),
    '',
    `votes: for ${v.votes.for}, against ${v.votes.against}, abstain ${v.votes.abstain} AGORA`,
    `quorum: ${v.quorum} AGORA (for + abstain) ${v.quorumReached ? 'reached' : 'not reached'}`,
    ...v.voters.map(
      (x) => `  ${x.voter} ${x.support.padEnd(7)} ${x.weight} AGORA${x.reason ? `: ${x.reason}` : ''}`,
    ),
    '',
    'phases:',
    ...v.phases.map(phase),
    ...(v.description ? ['', v.description] : []),
  ];
}

export type ProposalRow = {
  number: number;
  proposalId: bigint;
  title: string;
  state: string;
  next: string;
  actions: string[];
};

export async function proposalRows(g: GovChain): Promise<ProposalRow[]> {
  const all = await listProposals(g);
  const now = await chainNow(g.conn);
  const current = await readParamValues(g);
  return Promise.all(
    all.map(async (p) => {
      const status = proposalStatus(await proposalFacts(g, p, now), now, formatDuration);
      const actions = decodeActions(p.calls, g.contracts);
      const before: Before = status.state === 'Executed' ? {} : current;
      return {
        number: p.number,
        proposalId: p.id,
        title: p.title,
        state: status.state,
        next: status.next,
        actions: actions.map((a) => actionWords(a, before)),
      };
    }),
  );
}

/** Parameters a list of actions sets (for printing "minStake is now 250 AGORA" after execution). */
export function paramsSet(actions: readonly GovAction[]): ParamName[] {
  return [...new Set(actions.flatMap((a) => (a.kind === 'set' ? [a.param] : [])))];
}

/** The proposal behind a decision, as JSON shows it (null: set at deployment). */
export type DecisionRef = { proposalId: string; number: number | null; title: string | null } | null;

/**
 * `agora gov params`: every parameter by its contract name (AGORA amounts as decimal strings: `"minStake":
 * "250"`), the validators and open sectors, and the proposal behind each (`changedBy`, … ).
 */
export async function paramsView(g: GovChain): Promise<{ json: Record<string, unknown>; lines: string[] }> {
  const [s, proposals] = await Promise.all([readGovernedState(g), listProposals(g)]);
  const ref = (d: Decision | undefined): DecisionRef => {
    if (!d || d.proposalId === null) return null;
    const p = proposals.find((x) => x.id === d.proposalId);
    return { proposalId: d.proposalId.toString(), number: p?.number ?? null, title: p?.title ?? null };
  };
  const changedBy = Object.fromEntries(PARAM_NAMES.map((n) => [n, ref(s.changedBy[n])]));
  const validatorsChangedBy = Object.fromEntries(s.validators.map((v) => [v, ref(s.validatorChangedBy[v])]));
  const sectorsChangedBy = Object.fromEntries(s.sectors.map((x) => [x, ref(s.sectorChangedBy[x])]));
  const since = (r: DecisionRef) => (r ? `proposal ${r.number ?? r.proposalId}` : 'deployment');
  return {
    json: {
      ...Object.fromEntries(PARAM_NAMES.map((n) => [n, formatParamValue(PARAMS[n], s.values[n])])),
      validators: s.validators,
      sectors: s.sectors,
      changedBy,
      validatorsChangedBy,
      sectorsChangedBy,
    },
    lines: [
      ...PARAM_NAMES.map(
        (n) =>
          `${n.padEnd(20)} ${paramValueWords(PARAMS[n], s.values[n]).padEnd(44)} since ${since(changedBy[n])}`,
      ),
      `${'validators'.padEnd(20)} ${s.validators.map((v) => `${v} (since ${since(validatorsChangedBy[v])})`).join(', ') || 'none'}`,
      `${'sectors'.padEnd(20)} ${s.sectors.map((x) => `${x} (since ${since(sectorsChangedBy[x])})`).join(', ') || 'none'}`,
    ],
  };
}
