/**
 * What a proposal does, as typed actions (pure): set a parameter, approve or remove a validator, open or
 * retire a sector, grant AGORA from the treasury, or call any function (the expert escape hatch). Actions
 * encode to the calls the timelock makes and decode back from them, so `agora gov show` can say in words
 * what any proposal on chain will do.
 */
import {
  type Abi,
  type AbiFunction,
  type Address,
  decodeFunctionData,
  encodeFunctionData,
  getAddress,
  type Hex,
  toFunctionSelector,
} from 'viem';
import {
  AgoraGovernor,
  AgoraTimelock,
  AgoraToken,
  ComputeMarket,
  DataRegistry,
  PaymentChannels,
  ProtocolParams,
  TrainingLedger,
} from '../../artifacts/index.ts';
import { AgoraError } from '../errors.ts';
import type { ProposalAction } from './governance.ts';
import { PARAMS, type ParamName, type ParamValue, type ParamValues, paramValueProblem } from './params.ts';

export type GovAction =
  | { kind: 'set'; param: ParamName; value: ParamValue }
  | { kind: 'add-validator'; account: Address }
  | { kind: 'remove-validator'; account: Address }
  | { kind: 'admit-sector'; sector: string }
  | { kind: 'retire-sector'; sector: string }
  | { kind: 'grant'; to: Address; amount: bigint }
  /** A decoded call of a known contract's function, or an expert `--call`. */
  | {
      kind: 'call';
      target: Address;
      contract?: string;
      functionName: string;
      signature: string;
      args: readonly unknown[];
      value: bigint;
    }
  /** A call nobody here can decode (unknown target or selector). */
  | { kind: 'raw'; target: Address; data: Hex; value: bigint };

/** The deployment's contracts a proposal may touch (deployment names → addresses). */
export type GovContracts = Record<string, Address> & {
  ProtocolParams: Address;
  AgoraGovernor: Address;
  TimelockController: Address;
  AgoraToken: Address;
};

const ABIS: Record<string, Abi> = {
  ProtocolParams: ProtocolParams.abi as Abi,
  AgoraGovernor: AgoraGovernor.abi as Abi,
  TimelockController: AgoraTimelock.abi as Abi,
  AgoraToken: AgoraToken.abi as Abi,
  DataRegistry: DataRegistry.abi as Abi,
  ComputeMarket: ComputeMarket.abi as Abi,
  TrainingLedger: TrainingLedger.abi as Abi,
  PaymentChannels: PaymentChannels.abi as Abi,
};

/** The ABI of a protocol contract by its deployment name (undefined for others). */
export function protocolAbi(name: string): Abi | undefined {
  return ABIS[name];
}

const SETTERS: Record<Exclude<ParamName, 'minChallengePeriod' | 'maxChallengePeriod'>, string> = {
  minStake: 'setMinStake',
  slashBps: 'setSlashBps',
  protocolFeeBps: 'setProtocolFeeBps',
  treasury: 'setTreasury',
  votingDelay: 'setVotingDelay',
  votingPeriod: 'setVotingPeriod',
  proposalThreshold: 'setProposalThreshold',
  quorumNumerator: 'updateQuorumNumerator',
  minDelay: 'updateDelay',
};

function call(contracts: GovContracts, name: string, functionName: string, args: unknown[]): ProposalAction {
  const target = contracts[name];
  if (!target) {
    throw new AgoraError('GOV_NO_CONTRACT', `the deployment has no ${name}`, {
      hint: 'run `agora chain deploy` for this chain',
    });
  }
  return {
    target,
    data: encodeFunctionData({ abi: ABIS[name], functionName, args } as Parameters<
      typeof encodeFunctionData
    >[0]),
  };
}

const asArg = (name: ParamName, v: ParamValue): unknown =>
  name === 'slashBps' || name === 'protocolFeeBps' || name === 'votingDelay' || name === 'votingPeriod'
    ? Number(v)
    : v;

/**
 * The calls the timelock makes for `actions`, in order. `current` holds today's parameter values: a
 * challenge-period bound is set together with the other one (one contract call), which keeps its current
 * value unless the same proposal sets it too. Values the contract would refuse are refused here, before
 * anyone votes on them.
 */
export function encodeActions(
  actions: readonly GovAction[],
  contracts: GovContracts,
  current: ParamValues,
): ProposalAction[] {
  const next: Partial<ParamValues> = { ...current };
  for (const a of actions) if (a.kind === 'set') next[a.param] = a.value;
  const out: ProposalAction[] = [];
  let boundsDone = false;
  for (const a of actions) {
    switch (a.kind) {
      case 'set': {
        const problem = paramValueProblem(a.param, a.value, next);
        if (problem) {
          throw new AgoraError('GOV_BAD_VALUE', `${a.param} ${problem}`, {
            hint: `${a.param}: ${PARAMS[a.param].about}`,
          });
        }
        if (a.param === 'minChallengePeriod' || a.param === 'maxChallengePeriod') {
          if (boundsDone) break;
          boundsDone = true;
          out.push(
            call(contracts, 'ProtocolParams', 'setChallengePeriodBounds', [
              next.minChallengePeriod,
              next.maxChallengePeriod,
            ]),
          );
          break;
        }
        out.push(call(contracts, PARAMS[a.param].home, SETTERS[a.param], [asArg(a.param, a.value)]));
        break;
      }
      case 'add-validator':
      case 'remove-validator':
        out.push(call(contracts, 'ProtocolParams', 'setValidator', [a.account, a.kind === 'add-validator']));
        break;
      case 'admit-sector':
      case 'retire-sector':
        if (a.sector.trim() === '' || a.sector !== a.sector.trim()) {
          throw new AgoraError('GOV_BAD_VALUE', `"${a.sector}" is not a sector name`, {
            hint: 'sector names are non-empty, without surrounding spaces, e.g. audio',
          });
        }
        out.push(call(contracts, 'ProtocolParams', 'setSector', [a.sector, a.kind === 'admit-sector']));
        break;
      case 'grant':
        if (a.amount <= 0n) throw new AgoraError('GOV_BAD_VALUE', 'a grant must be more than 0 AGORA');
        out.push(call(contracts, 'AgoraToken', 'transfer', [a.to, a.amount]));
        break;
      case 'call':
        out.push({
          target: a.target,
          value: a.value,
          data: encodeFunctionData({
            abi: [signatureAbi(a.signature)],
            functionName: a.functionName,
            args: a.args,
          } as Parameters<typeof encodeFunctionData>[0]),
        });
        break;
      case 'raw':
        out.push({ target: a.target, value: a.value, data: a.data });
        break;
    }
  }
  return out;
}

/** `name(type,…)` (or `function name(type a, …)`) as an ABI function item. */
export function signatureAbi(signature: string): AbiFunction {
  const m = /^\s*(?:function\s+)?([A-Za-z_$][\w$]*)\s*\((.*)\)\s*$/s.exec(signature);
  if (!m) {
    throw new AgoraError('GOV_BAD_CALL', `"${signature}" is not a function signature`, {
      hint: 'write it like setSlashBps(uint16) or transfer(address,uint256)',
    });
  }
  const params = splitTopLevel(m[2]).map((p, i) => {
    const [type] = p.trim().split(/\s+/);
    return abiParam(type, `arg${i}`);
  });
  return { type: 'function', name: m[1], inputs: params, outputs: [], stateMutability: 'nonpayable' };
}

type AbiParam = { type: string; name: string; components?: AbiParam[] };

function abiParam(type: string, name: string): AbiParam {
  if (type.startsWith('(')) {
    const close = type.lastIndexOf(')');
    const inner = splitTopLevel(type.slice(1, close));
    return {
      type: `tuple${type.slice(close + 1)}`,
      name,
      components: inner.map((t, i) => abiParam(t.trim().split(/\s+/)[0], `f${i}`)),
    };
  }
  if (!/^(address|bool|string|bytes\d*|u?int\d*)(\[\d*\])*$/.test(type)) {
    throw new AgoraError('GOV_BAD_CALL', `"${type}" is not a Solidity type`, {
      hint: 'types: address, bool, string, bytes, bytes32, uint256, int256, T[], (T,U)',
    });
  }
  return { type, name };
}

function splitTopLevel(s: string): string[] {
  if (s.trim() === '') return [];
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') depth--;
    else if (s[i] === ',' && depth === 0) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/** The typed actions one call of a proposal stands for (one call may set two parameters). */
export function decodeAction(pa: ProposalAction, contracts: GovContracts): GovAction[] {
  const target = getAddress(pa.target);
  const value = pa.value ?? 0n;
  const name = Object.keys(contracts).find((k) => contracts[k] && getAddress(contracts[k]) === target);
  const abi = name ? ABIS[name] : undefined;
  const raw: GovAction = { kind: 'raw', target, data: pa.data, value };
  if (!abi || !name) return [raw];
  let decoded: { functionName: string; args?: readonly unknown[] };
  try {
    decoded = decodeFunctionData({ abi, data: pa.data });
  } catch {
    return [raw];
  }
  const fn = decoded.functionName;
  const args = decoded.args ?? [];
  if (value === 0n) {
    if (name === 'ProtocolParams' && fn === 'setChallengePeriodBounds') {
      return [
        { kind: 'set', param: 'minChallengePeriod', value: args[0] as bigint },
        { kind: 'set', param: 'maxChallengePeriod', value: args[1] as bigint },
      ];
    }
    if (name === 'ProtocolParams' && fn === 'setValidator') {
      const account = getAddress(args[0] as string);
      return [{ kind: args[1] ? 'add-validator' : 'remove-validator', account }];
    }
    if (name === 'ProtocolParams' && fn === 'setSector') {
      return [{ kind: args[1] ? 'admit-sector' : 'retire-sector', sector: args[0] as string }];
    }
    if (name === 'AgoraToken' && fn === 'transfer') {
      return [{ kind: 'grant', to: getAddress(args[0] as string), amount: args[1] as bigint }];
    }
    for (const [param, setter] of Object.entries(SETTERS) as [ParamName, string][]) {
      if (setter === fn && PARAMS[param].home === name) {
        const v = args[0];
        return [{ kind: 'set', param, value: typeof v === 'string' ? getAddress(v) : BigInt(v as bigint) }];
      }
    }
  }
  const item = (abi as readonly AbiFunction[]).find(
    (x) => x.type === 'function' && x.name === fn && toFunctionSelector(x) === pa.data.slice(0, 10),
  );
  const signature = item ? `${fn}(${item.inputs.map((i) => i.type).join(',')})` : `${fn}(…)`;
  return [{ kind: 'call', target, contract: name, functionName: fn, signature, args, value }];
}

/** Every typed action of a proposal's calls, in order. */
export function decodeActions(calls: readonly ProposalAction[], contracts: GovContracts): GovAction[] {
  return calls.flatMap((c) => decodeAction(c, contracts));
}
