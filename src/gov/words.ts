/**
 * Proposal actions in words (pure): "set minStake from 100 to 250 AGORA", "approve validator 0x…",
 * "open sector "audio" to new datasets", "grant 5000 AGORA from the treasury to 0x…", and the known
 * protocol calls (admitting a dataset, dismissing a fraud report, a governance reward root) by name.
 */
import { type Address, formatEther } from 'viem';
import type { GovAction } from './actions.ts';
import { PARAMS, type ParamName, type ParamValue, paramValueWords } from './params.ts';

/** What the words compare against: a parameter's value before the action (today's, or before execution). */
export type Before = Partial<Record<ParamName, ParamValue>>;

function fromTo(param: ParamName, before: ParamValue | undefined, after: ParamValue): string {
  const spec = PARAMS[param];
  if (before === undefined) return `set ${param} to ${paramValueWords(spec, after)}`;
  if (before === after) return `keep ${param} at ${paramValueWords(spec, after)}`;
  if (spec.unit === 'address') return `set ${param} from ${before} to ${after}`;
  // "from 100 to 250 AGORA": the unit once, after the new value
  const bare = spec.unit === 'agora' ? formatEther(before as bigint) : String(before);
  return `set ${param} from ${bare} to ${paramValueWords(spec, after)}`;
}

const arg = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? v.toString() : JSON.stringify(v, big);
const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

/** One action in words; `before` gives the "from" of parameter changes. */
export function actionWords(a: GovAction, before: Before = {}): string {
  switch (a.kind) {
    case 'set':
      return fromTo(a.param, before[a.param], a.value);
    case 'add-validator':
      return `approve validator ${a.account}`;
    case 'remove-validator':
      return `remove validator ${a.account}`;
    case 'admit-sector':
      return `open sector "${a.sector}" to new datasets`;
    case 'retire-sector':
      return `retire sector "${a.sector}" (no new datasets)`;
    case 'grant':
      return `grant ${formatEther(a.amount)} AGORA from the treasury to ${a.to}`;
    case 'call':
      return callWords(a) + (a.value > 0n ? ` sending ${formatEther(a.value)} ETH` : '');
    case 'raw':
      return `call ${a.target} with ${(a.data.length - 2) / 2} bytes of data (function ${a.data.slice(0, 10)}, not decoded)${
        a.value > 0n ? ` sending ${formatEther(a.value)} ETH` : ''
      }`;
  }
}

function callWords(a: Extract<GovAction, { kind: 'call' }>): string {
  const x = a.args;
  switch (`${a.contract}.${a.functionName}`) {
    case 'DataRegistry.admitToSector':
      return `admit dataset ${x[0]} to sector "${x[1]}"`;
    case 'DataRegistry.removeFromSector':
      return `remove dataset ${x[0]} from sector "${x[1]}"`;
    case 'ComputeMarket.dismissFraud':
      return `dismiss fraud report ${x[0]}`;
    case 'TrainingLedger.postRewardRootByGovernance':
      return `post reward root ${x[1]} for job ${x[0]} (total ${formatEther(x[2] as bigint)} AGORA)`;
  }
  const who = a.contract ?? a.target;
  return `call ${who}.${a.functionName}(${a.args.map(arg).join(', ')})`;
}

/** The parameters an action list changes, with their new values (later actions win). */
export function paramChanges(actions: readonly GovAction[]): Map<ParamName, ParamValue> {
  const out = new Map<ParamName, ParamValue>();
  for (const a of actions) if (a.kind === 'set') out.set(a.param, a.value);
  return out;
}

/** Accounts a proposal pays (grants), for summaries. */
export function grantsOf(actions: readonly GovAction[]): { to: Address; amount: bigint }[] {
  return actions.flatMap((a) => (a.kind === 'grant' ? [{ to: a.to, amount: a.amount }] : []));
}
