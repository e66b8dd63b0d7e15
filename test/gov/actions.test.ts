/** The pure core of `agora gov`: action flags, encoders ↔ decoders, words, phases, checks. */
import { type Address, getAddress, parseEther, zeroAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { actionsFromFlags, addFlagValue, type FlagUse } from '../../src/gov/action-flags.ts';
import { decodeActions, encodeActions, type GovAction, type GovContracts } from '../../src/gov/actions.ts';
import { executeProblem, proposeProblem, queueProblem, voteProblem } from '../../src/gov/checks.ts';
import { proposalDescription, splitDescription } from '../../src/gov/description.ts';
import { devnetDelegations, votersForQuorum } from '../../src/gov/devnet-power.ts';
import { formatDuration, type ParamValues, paramByName, parseParamValue } from '../../src/gov/params.ts';
import { type ProposalFacts, proposalState, proposalStatus, waitTarget } from '../../src/gov/phases.ts';
import { actionWords } from '../../src/gov/words.ts';

const A = (n: number): Address => getAddress(`0x${n.toString(16).padStart(40, '0')}`);
const contracts: GovContracts = {
  ProtocolParams: A(1),
  AgoraGovernor: A(2),
  TimelockController: A(3),
  AgoraToken: A(4),
  ComputeMarket: A(5),
  DataRegistry: A(6),
};
const current: ParamValues = {
  minStake: parseEther('100'),
  slashBps: 5000n,
  protocolFeeBps: 100n,
  minChallengePeriod: 10n,
  maxChallengePeriod: 604_800n,
  treasury: A(3),
  votingDelay: 1n,
  votingPeriod: 120n,
  proposalThreshold: 0n,
  quorumNumerator: 4n,
  minDelay: 30n,
};

function flags(list: [Parameters<typeof addFlagValue>[1], string][]): FlagUse[] {
  const uses: FlagUse[] = [];
  for (const [f, v] of list) addFlagValue(uses, f, v);
  return uses;
}
const resolve = (s: string) => {
  if (s === 'alice') return A(0xa11ce);
  if (/^0x[0-9a-fA-F]{40}$/.test(s)) return getAddress(s);
  throw new Error(`unknown ${s}`);
};
const target = (s: string) => contracts[s] ?? resolve(s);

describe('action flags', () => {
  it('keep the command line order; grants take two values, calls as many as their signature says', () => {
    const uses = flags([
      ['set', 'minStake=250'],
      ['grant', 'alice'],
      ['grant', '5000'],
      ['call', 'ComputeMarket'],
      ['call', 'dismissFraud(uint256)'],
      ['call', '3'],
      ['call', 'DataRegistry'],
      ['call', 'admitToSector(uint256,string)'],
      ['call', '7'],
      ['call', 'audio'],
      ['admit-sector', 'audio'],
      ['grant', 'alice'],
      ['grant', '0.5'],
    ]);
    const actions = actionsFromFlags(uses, resolve, target);
    expect(actions.map((a) => a.kind)).toEqual(['set', 'grant', 'call', 'call', 'admit-sector', 'grant']);
    expect(actions[0]).toEqual({ kind: 'set', param: 'minStake', value: parseEther('250') });
    expect(actions[1]).toEqual({ kind: 'grant', to: A(0xa11ce), amount: parseEther('5000') });
    expect(actions[3]).toMatchObject({ functionName: 'admitToSector', args: [7n, 'audio'], target: A(6) });
    expect(actions[5]).toMatchObject({ amount: parseEther('0.5') });
  });

  it('refuse an incomplete flag, an unknown parameter and a malformed value, saying what to write', () => {
    expect(() => actionsFromFlags(flags([['grant', 'alice']]), resolve, target)).toThrow(
      /--grant alice: expected TO AMOUNT/,
    );
    expect(() => actionsFromFlags(flags([['set', 'minStake']]), resolve, target)).toThrow(/PARAM=VALUE/);
    expect(() => actionsFromFlags(flags([['set', 'maxStake=1']]), resolve, target)).toThrow(
      /not a governed parameter/,
    );
    expect(() => actionsFromFlags(flags([['set', 'minStake=lots']]), resolve, target)).toThrow(
      /amount of AGORA/,
    );
    expect(() =>
      actionsFromFlags(
        flags([
          ['call', 'X'],
          ['call', 'f(uint7x)'],
        ]),
        resolve,
        target,
      ),
    ).toThrow(/not a Solidity type/);
  });

  it('parse values as members write them: AGORA decimals, percents, durations, aliases', () => {
    expect(parseParamValue(paramByName('minStake'), '0.25')).toBe(parseEther('0.25'));
    expect(parseParamValue(paramByName('fee'), '2.5%')).toBe(250n);
    expect(parseParamValue(paramByName('protocolFeeBps'), '300')).toBe(300n);
    expect(parseParamValue(paramByName('maxChallengePeriod'), '7d')).toBe(604_800n);
    expect(parseParamValue(paramByName('timelockDelay'), '2h')).toBe(7200n);
    expect(paramByName('quorumPercent').name).toBe('quorumNumerator');
    expect(paramByName('MINPROVIDERSTAKE').name).toBe('minStake');
  });
});

describe('encoders and decoders', () => {
  const every: GovAction[] = [
    { kind: 'set', param: 'minStake', value: parseEther('250') },
    { kind: 'set', param: 'slashBps', value: 2500n },
    { kind: 'set', param: 'protocolFeeBps', value: 300n },
    { kind: 'set', param: 'treasury', value: A(9) },
    { kind: 'set', param: 'votingDelay', value: 60n },
    { kind: 'set', param: 'votingPeriod', value: 3600n },
    { kind: 'set', param: 'proposalThreshold', value: parseEther('1000') },
    { kind: 'set', param: 'quorumNumerator', value: 10n },
    { kind: 'set', param: 'minDelay', value: 120n },
    { kind: 'add-validator', account: A(7) },
    { kind: 'remove-validator', account: A(8) },
    { kind: 'admit-sector', sector: 'audio' },
    { kind: 'retire-sector', sector: 'text' },
    { kind: 'grant', to: A(10), amount: parseEther('5000') },
  ];

  it('round-trip every typed action through calldata', () => {
    const calls = encodeActions(every, contracts, current);
    expect(calls).toHaveLength(every.length);
    expect(decodeActions(calls, contracts)).toEqual(every);
  });

  it('set a challenge-period bound together with the other, which keeps its value unless also set', () => {
    const one = encodeActions(
      [{ kind: 'set', param: 'maxChallengePeriod', value: 86_400n }],
      contracts,
      current,
    );
    expect(decodeActions(one, contracts)).toEqual([
      { kind: 'set', param: 'minChallengePeriod', value: 10n },
      { kind: 'set', param: 'maxChallengePeriod', value: 86_400n },
    ]);
    const both = encodeActions(
      [
        { kind: 'set', param: 'minChallengePeriod', value: 60n },
        { kind: 'set', param: 'maxChallengePeriod', value: 120n },
      ],
      contracts,
      current,
    );
    expect(both).toHaveLength(1);
  });

  it('refuse values the contracts would revert on at execution, before anyone votes', () => {
    const bad: [GovAction, RegExp][] = [
      [{ kind: 'set', param: 'minStake', value: 0n }, /minStake must be more than 0/],
      [{ kind: 'set', param: 'protocolFeeBps', value: 2001n }, /at most 2000/],
      [{ kind: 'set', param: 'slashBps', value: 10_001n }, /at most 10000/],
      [{ kind: 'set', param: 'maxChallengePeriod', value: 5n }, /at least minChallengePeriod/],
      [{ kind: 'set', param: 'treasury', value: zeroAddress }, /zero address/],
      [{ kind: 'set', param: 'quorumNumerator', value: 101n }, /at most 100/],
      [{ kind: 'grant', to: A(1), amount: 0n }, /more than 0/],
    ];
    for (const [a, re] of bad) expect(() => encodeActions([a], contracts, current)).toThrow(re);
  });

  it('decode known protocol calls and keep unknown ones as raw calls', () => {
    const calls = encodeActions(
      actionsFromFlags(
        flags([
          ['call', 'ComputeMarket'],
          ['call', 'dismissFraud(uint256)'],
          ['call', '3'],
          ['call', '0x00000000000000000000000000000000000000ff'],
          ['call', 'poke(address,bool)'],
          ['call', 'alice'],
          ['call', 'true'],
        ]),
        resolve,
        target,
      ),
      contracts,
      current,
    );
    const [dismiss, raw] = decodeActions(calls, contracts);
    expect(actionWords(dismiss)).toBe('dismiss fraud report 3');
    expect(raw.kind).toBe('raw');
    expect(actionWords(raw)).toMatch(
      new RegExp(`^call ${A(0xff)} with 68 bytes of data \\(function 0x[0-9a-f]{8}, not decoded\\)$`),
    );
  });
});

describe('words', () => {
  it('say every kind in words, with the value before', () => {
    const w = (a: GovAction) => actionWords(a, current);
    expect(w({ kind: 'set', param: 'minStake', value: parseEther('250') })).toBe(
      'set minStake from 100 to 250 AGORA',
    );
    expect(w({ kind: 'set', param: 'protocolFeeBps', value: 300n })).toBe(
      'set protocolFeeBps from 100 to 300 bps (3%)',
    );
    expect(w({ kind: 'set', param: 'votingPeriod', value: 3600n })).toBe(
      'set votingPeriod from 120 to 3600 s (1 h)',
    );
    expect(w({ kind: 'set', param: 'quorumNumerator', value: 4n })).toBe('keep quorumNumerator at 4%');
    expect(w({ kind: 'add-validator', account: A(7) })).toBe(`approve validator ${A(7)}`);
    expect(w({ kind: 'remove-validator', account: A(7) })).toBe(`remove validator ${A(7)}`);
    expect(w({ kind: 'admit-sector', sector: 'audio' })).toBe('open sector "audio" to new datasets');
    expect(w({ kind: 'retire-sector', sector: 'audio' })).toBe('retire sector "audio" (no new datasets)');
    expect(w({ kind: 'grant', to: A(7), amount: parseEther('5000') })).toBe(
      `grant 5000 AGORA from the treasury to ${A(7)}`,
    );
    expect(actionWords({ kind: 'set', param: 'minStake', value: parseEther('250') })).toBe(
      'set minStake to 250 AGORA',
    );
  });

  it('descriptions carry the title on their first line', () => {
    const d = proposalDescription('Raise the stake', 'Because.\n\nMore.');
    expect(d).toBe('# Raise the stake\n\nBecause.\n\nMore.\n');
    expect(splitDescription(d)).toEqual({ title: 'Raise the stake', body: 'Because.\n\nMore.' });
    expect(() => proposalDescription('  ')).toThrow(/one-line title/);
  });
});

describe('phases', () => {
  const facts = (o: Partial<ProposalFacts> = {}): ProposalFacts => ({
    createdAt: 1000n,
    snapshot: 1001n,
    deadline: 1121n,
    eta: 0n,
    executed: false,
    canceled: false,
    votes: { for: 0n, against: 0n, abstain: 0n },
    quorum: 1200n,
    minDelay: 30n,
    ...o,
  });

  it('follow the governor: pending through the snapshot, active through the deadline, then decided', () => {
    expect(proposalState(facts(), 1001n)).toBe('Pending');
    expect(proposalState(facts(), 1002n)).toBe('Active');
    expect(proposalState(facts(), 1121n)).toBe('Active');
    expect(proposalState(facts(), 1122n)).toBe('Defeated');
    const passed = facts({ votes: { for: 1000n, against: 500n, abstain: 200n } });
    expect(proposalState(passed, 1122n)).toBe('Succeeded');
    expect(proposalState({ ...passed, votes: { for: 1000n, against: 1000n, abstain: 500n } }, 1122n)).toBe(
      'Defeated',
    );
    expect(proposalState({ ...passed, eta: 1200n }, 1150n)).toBe('Queued');
    expect(proposalState({ ...passed, eta: 1200n, executed: true }, 1300n)).toBe('Executed');
  });

  it('give each phase its time left and the next step', () => {
    const s = proposalStatus(facts(), 1050n, formatDuration);
    expect(s.state).toBe('Active');
    expect(s.next).toBe('voting closes in 1 min 12 s');
    expect(s.phases.map((p) => [p.name, p.status, p.secondsLeft])).toEqual([
      ['voting delay', 'done', 0],
      ['voting', 'now', 72],
      ['timelock', 'upcoming', 102],
    ]);
    const q = proposalStatus(
      facts({ votes: { for: 2000n, against: 0n, abstain: 0n }, eta: 1160n }),
      1140n,
      formatDuration,
    );
    expect(q.next).toBe('executable in 20 s');
    expect(q.phases[2]).toMatchObject({ status: 'now', secondsLeft: 20 });
    expect(waitTarget(facts(), 1000n, 'voting')).toBe(1002n);
    expect(waitTarget(facts(), 1050n, 'decided')).toBe(1122n);
    expect(
      waitTarget(facts({ votes: { for: 2000n, against: 0n, abstain: 0n }, eta: 1160n }), 1140n, 'executable'),
    ).toBe(1160n);
  });
});

describe('checks', () => {
  const f: ProposalFacts = {
    createdAt: 1000n,
    snapshot: 1001n,
    deadline: 1121n,
    eta: 0n,
    executed: false,
    canceled: false,
    votes: { for: 2000n, against: 0n, abstain: 0n },
    quorum: 1200n,
    minDelay: 30n,
  };
  const voter = { hasVoted: false, weight: 1000n };

  it('say what to do and when: early, late, twice, without votes, before the timelock, below the threshold', () => {
    expect(voteProblem({ ref: '1', facts: f, now: 1000n }, voter)?.message).toMatch(
      /^voting on proposal 1 opens in 2 s \(at 1970-01-01T00:16:42Z\)$/,
    );
    expect(voteProblem({ ref: '1', facts: f, now: 1000n }, voter)?.hint).toMatch(/--wait/);
    expect(voteProblem({ ref: '1', facts: f, now: 1200n }, voter)?.code).toBe('GOV_VOTING_CLOSED');
    expect(voteProblem({ ref: '1', facts: f, now: 1200n }, voter)?.hint).toMatch(/agora gov queue 1/);
    const twice = voteProblem(
      { ref: '1', facts: f, now: 1050n },
      { ...voter, hasVoted: true, previous: 'for' },
    );
    expect(twice?.message).toBe('you already voted on proposal 1 (for); a vote cannot be changed');
    expect(twice?.hint).toMatch(/voting closes in 1 min 12 s/);
    expect(voteProblem({ ref: '1', facts: f, now: 1050n }, { ...voter, weight: 0n })?.code).toBe(
      'GOV_NO_VOTES',
    );
    expect(voteProblem({ ref: '1', facts: f, now: 1050n }, voter)).toBeUndefined();

    expect(queueProblem({ ref: '1', facts: f, now: 1050n })?.hint).toMatch(/agora gov queue 1 --wait/);
    expect(queueProblem({ ref: '1', facts: f, now: 1122n })).toBeUndefined();
    const lost = { ...f, votes: { for: 100n, against: 0n, abstain: 0n } };
    expect(queueProblem({ ref: '1', facts: lost, now: 1122n })?.message).toMatch(/quorum not reached/);

    const queued = { ...f, eta: 1160n };
    expect(executeProblem({ ref: '1', facts: queued, now: 1140n })?.message).toMatch(
      /in the timelock: it can be executed in 20 s/,
    );
    expect(executeProblem({ ref: '1', facts: queued, now: 1160n })).toBeUndefined();
    expect(executeProblem({ ref: '1', facts: f, now: 1130n })?.code).toBe('GOV_NOT_QUEUED');

    expect(proposeProblem(10n, 0n, 0n)).toBeUndefined();
    const below = proposeProblem(parseEther('10'), parseEther('2000000'), parseEther('3000000'));
    expect(below?.message).toBe(
      'proposing needs 2000000 AGORA of votes (proposalThreshold); you have 10 AGORA',
    );
    expect(below?.hint).toMatch(/not delegated/);
  });
});

describe('devnet voting power', () => {
  it('every account but the deployer votes for itself; a quorum needs two of them', () => {
    expect(devnetDelegations(20)).toHaveLength(19);
    expect(devnetDelegations(20)[0]).toEqual({ account: 1, delegate: 1 });
    expect(devnetDelegations(10).at(-1)).toEqual({ account: 9, delegate: 9 });
    expect(votersForQuorum(parseEther('30000000'), 4n, parseEther('1000000'))).toBe(2);
  });
});
