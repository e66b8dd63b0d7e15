/**
 * The per-epoch reward split (pure). An epoch is one whole job; the amount to split is the ledger's
 * `funded` (escrow × roundsCommitted / rounds — the protocol fee was already taken at job start, so
 * nothing else is deducted). Formulas and the worked rounding rules: docs/validation-and-rewards.md §6.
 *
 * 1. Pools, in wei: data = ⌊funded · dataBps / 10⁴⌋, validators = ⌊funded · validatorBps / 10⁴⌋,
 *    providers = funded − data − validators (the pool rounding dust goes to providers).
 *    A pool with no positive weight (no datasets, no validator checks, every provider Byzantine) is
 *    handed to the other non-empty pools in proportion to their bps; if all pools are empty the split
 *    is empty and the whole `funded` stays for `sweepUnallocated` (treasury).
 * 2. Within a pool, amount_i = ⌊pool · w_i / Σw⌋ on integer weights, and the leftover wei (< number of
 *    recipients) go one each to the largest fractional remainders, ties by lower address (Hamilton /
 *    largest-remainder; deterministic).
 *    - providers: w = round(score · 10⁹) (score: verified contribution weight ≥ 0; Byzantine = 0);
 *    - data contributors: w = samples used from their datasets (usage counts from the round records);
 *    - validators: w = checks done.
 * 3. Accounts that play several roles are merged (one leaf per address, the ledger allows one claim),
 *    zero amounts are dropped, leaves are sorted by address. Σ amounts = funded exactly (unless all
 *    pools are empty).
 */
import type { Address, Hex } from 'viem';
import { buildRewardTree, type RewardEntry, type RewardTree } from '../chain/merkle.ts';
import { type SamplePair, usageTotals } from '../data/usage.ts';
import { AgoraError } from '../errors.ts';

export type RewardShares = { providersBps: number; dataBps: number; validatorsBps: number };

/** 70% compute providers, 20% data contributors, 10% validators. */
export const DEFAULT_SHARES: RewardShares = { providersBps: 7000, dataBps: 2000, validatorsBps: 1000 };

export type ProviderContribution = {
  account: Address;
  /** Verified contribution weight (e.g. the summed loss-reduction weights of its rounds); ≥ 0. */
  score: number;
  /** Flagged Byzantine at least once: paid nothing. */
  byzantine?: boolean;
};

export type DatasetUsage = { datasetId: bigint; contributor: Address; uses: number };
export type ValidatorWork = { account: Address; checks: number };

export type RewardSplitInput = {
  funded: bigint;
  shares?: RewardShares;
  providers: readonly ProviderContribution[];
  datasets: readonly DatasetUsage[];
  validators: readonly ValidatorWork[];
};

export type RewardLine = { role: 'provider' | 'data' | 'validator'; account: Address; amount: bigint };

export type RewardSplit = {
  /** One entry per account (merged across roles), sorted by address; zero amounts dropped. */
  entries: RewardEntry[];
  /** Per-role lines before merging (zero amounts dropped), for reports. */
  lines: RewardLine[];
  pools: { providers: bigint; data: bigint; validators: bigint };
  total: bigint;
  /** funded − total (0 unless nobody is eligible). */
  unallocated: bigint;
  tree: RewardTree | null;
  root: Hex | null;
};

const SCORE_SCALE = 1e9;

function bad(message: string, hint?: string): AgoraError {
  return new AgoraError('REWARD_BAD_INPUT', message, hint ? { hint } : {});
}

const cmpAddr = (a: string, b: string) => {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Largest-remainder split of `pool` by integer weights; ties by lower address. */
export function splitByWeight(
  pool: bigint,
  weights: readonly { account: Address; weight: bigint }[],
): bigint[] {
  const sum = weights.reduce((s, w) => s + w.weight, 0n);
  if (sum === 0n || pool === 0n) return weights.map(() => 0n);
  const base = weights.map((w) => (pool * w.weight) / sum);
  let left = pool - base.reduce((s, x) => s + x, 0n);
  const order = weights
    .map((w, i) => ({ i, rem: (pool * w.weight) % sum, account: w.account }))
    .filter((x) => weights[x.i].weight > 0n)
    .sort((a, b) => (a.rem > b.rem ? -1 : a.rem < b.rem ? 1 : cmpAddr(a.account, b.account)));
  for (const o of order) {
    if (left === 0n) break;
    base[o.i] += 1n;
    left -= 1n;
  }
  return base;
}

/** Dataset uses from the round records' sample lists (Byzantine workers' rounds should be left out by the caller). */
export function datasetUsesFromRounds(
  rounds: Iterable<Iterable<SamplePair>>,
  contributorOf: (datasetId: bigint) => Address,
): DatasetUsage[] {
  return [...usageTotals(rounds)].map(([id, u]) => ({
    datasetId: BigInt(id),
    contributor: contributorOf(BigInt(id)),
    uses: u.uses,
  }));
}

export function splitRewards(input: RewardSplitInput): RewardSplit {
  const shares = input.shares ?? DEFAULT_SHARES;
  const bps = [shares.providersBps, shares.dataBps, shares.validatorsBps];
  if (bps.some((b) => !Number.isInteger(b) || b < 0) || bps[0] + bps[1] + bps[2] !== 10_000) {
    throw bad(
      `reward shares must be non-negative integers summing to 10000 bps, got ${bps.join('/')}`,
      'e.g. 7000/2000/1000',
    );
  }
  if (input.funded < 0n) throw bad(`funded amount is negative: ${input.funded}`);
  const providerW = input.providers.map((p) => {
    if (!(Number.isFinite(p.score) && p.score >= 0))
      throw bad(`provider ${p.account} has score ${p.score}`, 'scores must be finite and ≥ 0');
    return { account: p.account, weight: p.byzantine ? 0n : BigInt(Math.round(p.score * SCORE_SCALE)) };
  });
  const dataW = input.datasets.map((d) => {
    if (!(Number.isSafeInteger(d.uses) && d.uses >= 0))
      throw bad(`dataset ${d.datasetId} has ${d.uses} uses`);
    return { account: d.contributor, weight: BigInt(d.uses) };
  });
  const valW = input.validators.map((v) => {
    if (!(Number.isSafeInteger(v.checks) && v.checks >= 0))
      throw bad(`validator ${v.account} has ${v.checks} checks`);
    return { account: v.account, weight: BigInt(v.checks) };
  });
  const groups = [providerW, dataW, valW];
  const live = groups.map((g) => g.some((w) => w.weight > 0n));
  const liveBps = bps.reduce((s, b, i) => s + (live[i] ? b : 0), 0);
  const pools = [0n, 0n, 0n];
  if (liveBps > 0) {
    // Non-empty pools share `funded` by bps (renormalized over the live pools); the first live pool
    // (providers, if live) takes the rounding dust.
    const first = live.indexOf(true);
    let rest = input.funded;
    for (let i = 0; i < 3; i++) {
      if (!live[i] || i === first) continue;
      pools[i] = (input.funded * BigInt(bps[i])) / BigInt(liveBps);
      rest -= pools[i];
    }
    pools[first] = rest;
  }
  const roles = ['provider', 'data', 'validator'] as const;
  const lines: RewardLine[] = [];
  groups.forEach((g, gi) => {
    const amounts = splitByWeight(pools[gi], g);
    g.forEach((w, i) => {
      if (amounts[i] > 0n) lines.push({ role: roles[gi], account: w.account, amount: amounts[i] });
    });
  });
  const merged = new Map<string, RewardEntry>();
  for (const l of lines) {
    const k = l.account.toLowerCase();
    const e = merged.get(k);
    if (e) e.amount += l.amount;
    else merged.set(k, { account: l.account, amount: l.amount });
  }
  const entries = [...merged.values()].sort((a, b) => cmpAddr(a.account, b.account));
  const total = entries.reduce((s, e) => s + e.amount, 0n);
  const tree = entries.length > 0 ? buildRewardTree(entries) : null;
  return {
    entries,
    lines,
    pools: { providers: pools[0], data: pools[1], validators: pools[2] },
    total,
    unallocated: input.funded - total,
    tree,
    root: tree?.root ?? null,
  };
}
