/**
 * Every parameter governance sets, by its contract name (pure): where it lives, its unit, how a member
 * writes a value (`--set minStake=250`: amounts in AGORA, periods in seconds or `90s`/`10m`/`2h`/`7d`),
 * how it reads back, and the bounds the contract enforces, checked before anyone votes on a value that
 * would only revert at execution.
 */
import { type Address, formatEther, getAddress, isAddress, parseEther, zeroAddress } from 'viem';
import { AgoraError } from '../errors.ts';

export const PARAM_NAMES = [
  'minStake',
  'slashBps',
  'protocolFeeBps',
  'minChallengePeriod',
  'maxChallengePeriod',
  'treasury',
  'votingDelay',
  'votingPeriod',
  'proposalThreshold',
  'quorumNumerator',
  'minDelay',
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

export type ParamUnit = 'agora' | 'bps' | 'seconds' | 'percent' | 'address';
/** The deployment's name of the contract that holds the parameter. */
export type ParamHome = 'ProtocolParams' | 'AgoraGovernor' | 'TimelockController';
export type ParamValue = bigint | Address;
export type ParamValues = Record<ParamName, ParamValue>;

export type ParamSpec = {
  name: ParamName;
  home: ParamHome;
  unit: ParamUnit;
  /** Other names `--set` accepts. */
  aliases: readonly string[];
  /** One line for help and docs. */
  about: string;
};

const DAY = 86_400n;

export const PARAMS: Record<ParamName, ParamSpec> = {
  minStake: {
    name: 'minStake',
    home: 'ProtocolParams',
    unit: 'agora',
    aliases: ['minProviderStake', 'stake'],
    about: "minimum stake of a compute provider's offer, also the stake locked per job seat",
  },
  slashBps: {
    name: 'slashBps',
    home: 'ProtocolParams',
    unit: 'bps',
    aliases: ['slash'],
    about: 'share of a seat’s locked stake taken on a proven fault (basis points, 10000 = 100%)',
  },
  protocolFeeBps: {
    name: 'protocolFeeBps',
    home: 'ProtocolParams',
    unit: 'bps',
    aliases: ['fee', 'feeBps'],
    about: 'fee on a job’s escrow paid to the treasury when the job starts (basis points, at most 2000)',
  },
  minChallengePeriod: {
    name: 'minChallengePeriod',
    home: 'ProtocolParams',
    unit: 'seconds',
    aliases: [],
    about: 'shortest challenge period a job may choose',
  },
  maxChallengePeriod: {
    name: 'maxChallengePeriod',
    home: 'ProtocolParams',
    unit: 'seconds',
    aliases: [],
    about: 'longest challenge period a job may choose (at most 30 days)',
  },
  treasury: {
    name: 'treasury',
    home: 'ProtocolParams',
    unit: 'address',
    aliases: [],
    about: 'receives protocol fees and unallocated rewards',
  },
  votingDelay: {
    name: 'votingDelay',
    home: 'AgoraGovernor',
    unit: 'seconds',
    aliases: [],
    about: 'time from a proposal to the opening of its vote',
  },
  votingPeriod: {
    name: 'votingPeriod',
    home: 'AgoraGovernor',
    unit: 'seconds',
    aliases: [],
    about: 'how long a vote stays open',
  },
  proposalThreshold: {
    name: 'proposalThreshold',
    home: 'AgoraGovernor',
    unit: 'agora',
    aliases: [],
    about: 'votes an account needs to make a proposal',
  },
  quorumNumerator: {
    name: 'quorumNumerator',
    home: 'AgoraGovernor',
    unit: 'percent',
    aliases: ['quorum', 'quorumPercent'],
    about: 'quorum: share of the total supply (percent) that must vote for or abstain',
  },
  minDelay: {
    name: 'minDelay',
    home: 'TimelockController',
    unit: 'seconds',
    aliases: ['timelockDelay'],
    about: 'time between queueing a passed proposal and executing it',
  },
};

/** The parameter a member means by `name` (contract name or alias, any case). */
export function paramByName(name: string): ParamSpec {
  const n = name.trim().toLowerCase();
  const spec = Object.values(PARAMS).find(
    (p) => p.name.toLowerCase() === n || p.aliases.some((a) => a.toLowerCase() === n),
  );
  if (!spec) {
    throw new AgoraError('GOV_UNKNOWN_PARAM', `"${name}" is not a governed parameter`, {
      hint: `parameters: ${PARAM_NAMES.join(', ')} (see \`agora gov params\`)`,
    });
  }
  return spec;
}

const DURATION = /^(\d+)\s*(s|m|min|h|d)?$/i;
const UNIT_SECONDS: Record<string, bigint> = { s: 1n, m: 60n, min: 60n, h: 3600n, d: DAY };

/** Parses a value as a member writes it (AGORA decimals, integers, `90s`/`10m`/`2h`/`7d`, addresses). */
export function parseParamValue(spec: ParamSpec, raw: string): ParamValue {
  const v = raw.trim();
  const bad = (want: string) =>
    new AgoraError('GOV_BAD_VALUE', `${spec.name}=${raw}: ${want}`, { hint: `${spec.name}: ${spec.about}` });
  switch (spec.unit) {
    case 'agora': {
      if (!/^\d+(\.\d{1,18})?$/.test(v)) throw bad('expected an amount of AGORA such as 250 or 0.5');
      return parseEther(v);
    }
    case 'bps':
    case 'percent': {
      const m = /^(\d+(?:\.\d+)?)\s*(%)?$/.exec(v);
      if (!m)
        throw bad(`expected ${spec.unit === 'bps' ? 'basis points such as 250 (or 2.5%)' : 'a percent'}`);
      if (spec.unit === 'percent') {
        if (!/^\d+$/.test(m[1])) throw bad('expected a whole percent such as 4');
        return BigInt(m[1]);
      }
      if (m[2]) {
        const bps = Number(m[1]) * 100;
        if (!Number.isInteger(bps)) throw bad('a percent converts to whole basis points (2.5% = 250)');
        return BigInt(bps);
      }
      if (!/^\d+$/.test(m[1])) throw bad('expected whole basis points');
      return BigInt(m[1]);
    }
    case 'seconds': {
      const m = DURATION.exec(v);
      if (!m) throw bad('expected seconds, or a duration such as 90s, 10m, 2h, 7d');
      return BigInt(m[1]) * UNIT_SECONDS[(m[2] ?? 's').toLowerCase()];
    }
    case 'address': {
      if (!isAddress(v)) throw bad('expected a 0x address');
      return getAddress(v);
    }
  }
}

/** The value as JSON shows it: AGORA as a decimal string ("250"), integers as decimal strings. */
export function formatParamValue(spec: ParamSpec, value: ParamValue): string {
  if (spec.unit === 'address') return value as string;
  if (spec.unit === 'agora') return formatEther(value as bigint);
  return (value as bigint).toString();
}

/** Seconds as a person reads them: "45 s", "2 min", "1 h 30 min", "7 d". */
export function formatDuration(seconds: bigint | number): string {
  let s = Math.max(0, Math.round(Number(seconds)));
  if (s < 60) return `${s} s`;
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** The value with its unit, for words: "250 AGORA", "5000 bps (50%)", "120 s (2 min)", "4%". */
export function paramValueWords(spec: ParamSpec, value: ParamValue): string {
  switch (spec.unit) {
    case 'agora':
      return `${formatEther(value as bigint)} AGORA`;
    case 'bps':
      return `${value} bps (${Number(value) / 100}%)`;
    case 'percent':
      return `${value}%`;
    case 'seconds': {
      const n = value as bigint;
      return n < 60n ? `${n} s` : `${n} s (${formatDuration(n)})`;
    }
    case 'address':
      return value as string;
  }
}

/**
 * Why `value` would make the contract revert when the proposal executes (undefined: it would not).
 * `next` holds the values after the proposal (so min/max challenge periods are checked together).
 */
export function paramValueProblem(
  name: ParamName,
  value: ParamValue,
  next: Partial<ParamValues>,
): string | undefined {
  const n = typeof value === 'bigint' ? value : 0n;
  switch (name) {
    case 'minStake':
      return n === 0n ? 'must be more than 0' : undefined;
    case 'slashBps':
      return n > 10_000n ? 'must be at most 10000 (100%)' : undefined;
    case 'protocolFeeBps':
      return n > 2_000n ? 'must be at most 2000 (20%, ProtocolParams.MAX_FEE_BPS)' : undefined;
    case 'minChallengePeriod':
      return n === 0n ? 'must be more than 0 seconds' : undefined;
    case 'maxChallengePeriod': {
      if (n > 30n * DAY) return 'must be at most 30 days (2592000 s)';
      const min = next.minChallengePeriod as bigint | undefined;
      return min !== undefined && n < min ? `must be at least minChallengePeriod (${min} s)` : undefined;
    }
    case 'treasury':
      return value === zeroAddress ? 'must not be the zero address' : undefined;
    case 'votingDelay':
      return n >= 2n ** 48n ? 'is too large' : undefined;
    case 'votingPeriod':
      return n === 0n ? 'must be more than 0 seconds' : n >= 2n ** 32n ? 'is too large' : undefined;
    case 'quorumNumerator':
      return n > 100n ? 'must be at most 100 (percent)' : undefined;
    case 'proposalThreshold':
    case 'minDelay':
      return undefined;
  }
}
