/**
 * `agora gov propose` action flags, in the order they were written (pure): `--set PARAM=VALUE`,
 * `--add-validator ADDR`, `--remove-validator ADDR`, `--admit-sector NAME`, `--retire-sector NAME`,
 * `--grant TO AMOUNT`, `--call TARGET SIG ARGS…`. The option parser hands over one value at a time;
 * a grant takes two, a call takes a target, a signature and as many arguments as the signature has.
 */
import { type AbiParameter, type Address, type Hex, isHex, parseEther } from 'viem';
import { AgoraError } from '../errors.ts';
import { type GovAction, signatureAbi } from './actions.ts';
import { paramByName, parseParamValue } from './params.ts';

export const ACTION_FLAGS = [
  'set',
  'add-validator',
  'remove-validator',
  'admit-sector',
  'retire-sector',
  'grant',
  'call',
] as const;
export type ActionFlag = (typeof ACTION_FLAGS)[number];
export type FlagUse = { flag: ActionFlag; values: string[] };

function complete(u: FlagUse): boolean {
  if (u.flag === 'grant') return u.values.length === 2;
  if (u.flag === 'call') {
    return u.values.length >= 2 && u.values.length === 2 + signatureAbi(u.values[1]).inputs.length;
  }
  return u.values.length === 1;
}

/** Adds one value of `--flag` to `uses` (a new use unless the last one of the same flag still needs it). */
export function addFlagValue(uses: FlagUse[], flag: ActionFlag, value: string): FlagUse[] {
  const last = uses.at(-1);
  if (last && last.flag === flag && !complete(last)) last.values.push(value);
  else uses.push({ flag, values: [value] });
  return uses;
}

/** Resolves what a member typed where an address is expected (a 0x address or a contact name). */
export type ResolveAccount = (nameOrAddress: string) => Address;
/** Resolves a `--call` target: a deployment contract name (e.g. ComputeMarket), an address or contact. */
export type ResolveTarget = (nameOrAddress: string) => Address;

/** The typed actions of the flags, in order; a flag without all its values is an error. */
export function actionsFromFlags(
  uses: readonly FlagUse[],
  resolveAccount: ResolveAccount,
  resolveTarget: ResolveTarget,
): GovAction[] {
  return uses.map((u): GovAction => {
    if (!complete(u)) {
      const want =
        u.flag === 'grant'
          ? 'TO AMOUNT'
          : u.flag === 'call'
            ? 'TARGET SIG ARGS… (one argument per parameter of SIG)'
            : 'a value';
      throw new AgoraError('GOV_BAD_FLAG', `--${u.flag} ${u.values.join(' ')}: expected ${want}`, {
        hint: 'see `agora gov propose --help`',
      });
    }
    const [v0, v1] = u.values;
    switch (u.flag) {
      case 'set': {
        const eq = v0.indexOf('=');
        if (eq < 1) {
          throw new AgoraError('GOV_BAD_FLAG', `--set ${v0}: expected PARAM=VALUE, e.g. minStake=250`);
        }
        const spec = paramByName(v0.slice(0, eq));
        const raw = v0.slice(eq + 1);
        const value = spec.unit === 'address' ? resolveAccount(raw) : parseParamValue(spec, raw);
        return { kind: 'set', param: spec.name, value };
      }
      case 'add-validator':
        return { kind: 'add-validator', account: resolveAccount(v0) };
      case 'remove-validator':
        return { kind: 'remove-validator', account: resolveAccount(v0) };
      case 'admit-sector':
        return { kind: 'admit-sector', sector: v0 };
      case 'retire-sector':
        return { kind: 'retire-sector', sector: v0 };
      case 'grant': {
        if (!/^\d+(\.\d{1,18})?$/.test(v1)) {
          throw new AgoraError('GOV_BAD_FLAG', `--grant ${v0} ${v1}: the amount is AGORA, e.g. 5000 or 0.5`);
        }
        return { kind: 'grant', to: resolveAccount(v0), amount: parseEther(v1) };
      }
    }
    const fn = signatureAbi(v1);
    const args = fn.inputs.map((p, i) => callArg(p, u.values[2 + i], resolveAccount));
    return {
      kind: 'call',
      target: resolveTarget(v0),
      functionName: fn.name,
      signature: `${fn.name}(${fn.inputs.map((p) => p.type).join(',')})`,
      args,
      value: 0n,
    };
  });
}

/** One `--call` argument as the ABI type wants it (arrays and tuples as JSON). */
function callArg(p: AbiParameter, raw: string | unknown, resolve: ResolveAccount): unknown {
  const bad = (want: string) =>
    new AgoraError('GOV_BAD_CALL', `argument ${JSON.stringify(raw)} for ${p.type}: ${want}`);
  if (p.type.endsWith(']')) {
    const inner = { ...p, type: p.type.slice(0, p.type.lastIndexOf('[')) };
    const list = typeof raw === 'string' ? parseJson(raw, bad) : raw;
    if (!Array.isArray(list)) throw bad('expected a JSON array');
    return list.map((x) => callArg(inner, x, resolve));
  }
  if (p.type === 'tuple') {
    const list = typeof raw === 'string' ? parseJson(raw, bad) : raw;
    const comps = (p as { components?: readonly AbiParameter[] }).components ?? [];
    if (!Array.isArray(list) || list.length !== comps.length) throw bad(`expected [${comps.length} values]`);
    return list.map((x, i) => callArg(comps[i], x, resolve));
  }
  const s = typeof raw === 'string' ? raw : String(raw);
  if (p.type === 'address') return resolve(s);
  if (p.type === 'bool') {
    if (s !== 'true' && s !== 'false') throw bad('expected true or false');
    return s === 'true';
  }
  if (p.type === 'string') return s;
  if (p.type.startsWith('bytes')) {
    if (!isHex(s)) throw bad('expected 0x-prefixed hex');
    return s as Hex;
  }
  if (/^u?int/.test(p.type)) {
    if (!/^-?\d+$/.test(s) && !/^0x[0-9a-f]+$/i.test(s)) throw bad('expected an integer (wei for amounts)');
    return BigInt(s);
  }
  throw bad('unsupported type');
}

function parseJson(s: string, bad: (want: string) => Error): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw bad('expected JSON');
  }
}
