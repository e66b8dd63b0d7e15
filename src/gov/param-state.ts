/**
 * What governance has decided so far (adapter): every parameter's current value, the approved validators
 * and open sectors (from ProtocolParams events), and for each the proposal that last changed it (the
 * change event and the governor's `ProposalExecuted` share one transaction; none = set at deployment).
 */
import { type Abi, type Address, getAddress, type Hex } from 'viem';
import { AgoraGovernor, AgoraTimelock, ProtocolParams } from '../../artifacts/index.ts';
import { readTx } from '../chain/tx.ts';
import { PARAM_NAMES, PARAMS, type ParamName, type ParamValue, type ParamValues } from './params.ts';
import { type GovChain, governanceLogs } from './proposals.ts';
import type { Before } from './words.ts';

const GETTERS: Record<ParamName, string> = {
  minStake: 'minStake',
  slashBps: 'slashBps',
  protocolFeeBps: 'protocolFeeBps',
  minChallengePeriod: 'minChallengePeriod',
  maxChallengePeriod: 'maxChallengePeriod',
  treasury: 'treasury',
  votingDelay: 'votingDelay',
  votingPeriod: 'votingPeriod',
  proposalThreshold: 'proposalThreshold',
  quorumNumerator: 'quorumNumerator',
  minDelay: 'getMinDelay',
};

const HOME_ABI = {
  ProtocolParams: ProtocolParams.abi,
  AgoraGovernor: AgoraGovernor.abi,
  TimelockController: AgoraTimelock.abi,
} as const;

/** Every governed parameter's value now. */
export async function readParamValues(g: GovChain): Promise<ParamValues> {
  const values = await Promise.all(
    PARAM_NAMES.map(async (name) => {
      const home = PARAMS[name].home;
      const v = await readTx<bigint | number | string>(g.conn, {
        label: `${home}.${GETTERS[name]}`,
        address: g.contracts[home],
        abi: HOME_ABI[home],
        functionName: GETTERS[name],
      });
      return [name, typeof v === 'string' ? getAddress(v) : BigInt(v)] as const;
    }),
  );
  return Object.fromEntries(values) as ParamValues;
}

/** A parameter change seen on chain. */
type Change = { param: ParamName; old: ParamValue; value: ParamValue; block: bigint; txHash: Hex };

const GOVERNOR_EVENTS: Record<string, ParamName> = {
  VotingDelaySet: 'votingDelay',
  VotingPeriodSet: 'votingPeriod',
  ProposalThresholdSet: 'proposalThreshold',
  QuorumNumeratorUpdated: 'quorumNumerator',
};

type ParsedLog = Awaited<ReturnType<typeof governanceLogs>>[number];

function changeOf(l: ParsedLog): Change | undefined {
  const at = { block: l.blockNumber, txHash: l.transactionHash };
  const a = l.args;
  if (l.eventName === 'ParamChanged') {
    const param = a.name as ParamName;
    if (!(param in PARAMS)) return undefined;
    return { param, old: a.oldValue as bigint, value: a.newValue as bigint, ...at };
  }
  if (l.eventName === 'TreasuryChanged') {
    return {
      param: 'treasury',
      old: getAddress(a.oldTreasury as string),
      value: getAddress(a.newTreasury as string),
      ...at,
    };
  }
  if (l.eventName === 'MinDelayChange') {
    return { param: 'minDelay', old: a.oldDuration as bigint, value: a.newDuration as bigint, ...at };
  }
  const param = GOVERNOR_EVENTS[l.eventName];
  if (!param) return undefined;
  const [oldValue, newValue] = Object.values(a) as bigint[];
  return { param, old: oldValue, value: newValue, ...at };
}

const ALL_ABI = [...ProtocolParams.abi, ...AgoraGovernor.abi, ...AgoraTimelock.abi] as Abi;

async function allLogs(g: GovChain): Promise<ParsedLog[]> {
  const c = g.contracts;
  return governanceLogs(g, [c.ProtocolParams, c.AgoraGovernor, c.TimelockController], ALL_ABI);
}

/** Who decided it: the proposal executed in the same transaction, or null (deployment). */
export type Decision = { proposalId: bigint | null; block: bigint; txHash: Hex };

export type GovernedState = {
  values: ParamValues;
  validators: Address[];
  sectors: string[];
  /** The decision behind each parameter's current value, each validator and each open sector. */
  changedBy: Partial<Record<ParamName, Decision>>;
  validatorChangedBy: Record<string, Decision>;
  sectorChangedBy: Record<string, Decision>;
};

export async function readGovernedState(g: GovChain): Promise<GovernedState> {
  const [values, parsed] = await Promise.all([readParamValues(g), allLogs(g)]);
  const executedIn = new Map<Hex, bigint>();
  for (const l of parsed) {
    if (l.eventName === 'ProposalExecuted') executedIn.set(l.transactionHash, l.args.proposalId as bigint);
  }
  const decision = (l: ParsedLog): Decision => ({
    proposalId: executedIn.get(l.transactionHash) ?? null,
    block: l.blockNumber,
    txHash: l.transactionHash,
  });
  const changedBy: Partial<Record<ParamName, Decision>> = {};
  const validators = new Map<Address, { ok: boolean; d: Decision }>();
  const sectors = new Map<string, { ok: boolean; d: Decision }>();
  for (const l of parsed) {
    if (l.eventName === 'ValidatorSet') {
      validators.set(getAddress(l.args.validator as string), {
        ok: l.args.approved as boolean,
        d: decision(l),
      });
      continue;
    }
    if (l.eventName === 'SectorSet') {
      sectors.set(l.args.sector as string, { ok: l.args.allowed as boolean, d: decision(l) });
      continue;
    }
    const c = changeOf(l);
    if (c) changedBy[c.param] = decision(l);
  }
  const open = <K extends string>(m: Map<K, { ok: boolean; d: Decision }>) =>
    [...m].filter(([, v]) => v.ok).map(([k]) => k);
  const by = <K extends string>(m: Map<K, { ok: boolean; d: Decision }>) =>
    Object.fromEntries([...m].map(([k, v]) => [k, v.d]));
  return {
    values,
    validators: open(validators),
    sectors: open(sectors),
    changedBy,
    validatorChangedBy: by(validators),
    sectorChangedBy: by(sectors),
  };
}

/** Parameter values just before the transaction `txHash` changed them (for an executed proposal's words). */
export async function valuesBefore(g: GovChain, txHash: Hex): Promise<Before> {
  const before: Before = {};
  for (const l of await allLogs(g)) {
    if (l.transactionHash !== txHash) continue;
    const c = changeOf(l);
    if (c && !(c.param in before)) before[c.param] = c.old;
  }
  return before;
}
