/**
 * The agent's spending policy as the client reads it (`--policy FILE`, JSON): a per-period cap per
 * token, the counterparties and contracts value may go to, and an expiry. `checkSpend` is pure; the
 * same limits are enforced on chain by the AgentAccount contract when the policy names one
 * (`account`), so a compromised client cannot exceed them.
 */
import { readFileSync } from 'node:fs';
import { type Address, formatEther, getAddress, isAddress } from 'viem';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { parseAmount } from '../wallet/amount.ts';
import { type Autonomy, autonomySchema } from './autonomy.ts';

export type Cap = { token: string; amount: bigint; periodSeconds: number };

export type Policy = {
  /** Unix seconds after which the policy allows nothing. */
  expiresAt: number;
  caps: Cap[];
  /** Addresses value may be sent to (token transfers, channel payees). */
  counterparties: Address[];
  /** Contracts value may be paid into, by protocol name (ComputeMarket, PaymentChannels) or address. */
  contracts: string[];
  /** An on-chain AgentAccount that enforces the same limits (transfers then go through it). */
  account?: Address;
  /** What an autonomous agent (`agora agent start`) does on its own. */
  autonomy?: Autonomy;
};

/** Value a planned action would move out of the owner's funds. */
export type Spend = {
  token: string;
  amount: bigint;
  /** Recipient address, or the contract paid into. */
  to: Address;
  /** When paying into a contract: its protocol name. */
  contract?: string;
};

export type SpendCheck = { ok: true } | { ok: false; reason: string };

const addr = z.string().refine((s) => isAddress(s), 'an 0x address');
export const policyFileSchema = z.strictObject({
  version: z.literal(1),
  expiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO date'),
  caps: z.array(
    z.strictObject({
      token: z.string().min(1),
      amount: z.string(),
      periodSeconds: z.number().int().positive(),
    }),
  ),
  counterparties: z.array(addr).default([]),
  contracts: z.array(z.string().min(1)).default([]),
  account: addr.optional(),
  autonomy: autonomySchema.optional(),
});

export function parsePolicy(json: unknown, where = 'the policy'): Policy {
  const r = policyFileSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new AgoraError('POLICY_INVALID', `${where}: ${i?.path.join('.') || ''} ${i?.message}`.trim(), {
      hint: 'see docs/agents.md ("Spending policy") for the format',
    });
  }
  const p = r.data;
  return {
    expiresAt: Math.floor(Date.parse(p.expiresAt) / 1000),
    caps: p.caps.map((c) => ({
      token: c.token,
      amount: parseAmount(c.amount),
      periodSeconds: c.periodSeconds,
    })),
    counterparties: p.counterparties.map((a) => getAddress(a)),
    contracts: p.contracts,
    account: p.account ? getAddress(p.account) : undefined,
    autonomy: p.autonomy,
  };
}

export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AgoraError('POLICY_NOT_FOUND', `cannot read the policy file ${path}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new AgoraError('POLICY_INVALID', `${path} is not valid JSON`, { cause: e });
  }
  return parsePolicy(json, path);
}

/**
 * Whether `spend` fits `policy` at `now`, given `spentInPeriod(token, periodSeconds)` already spent in
 * the current window. Pure.
 */
export function checkSpend(
  policy: Policy,
  spend: Spend,
  now: number,
  spentInPeriod: (token: string, periodSeconds: number) => bigint,
): SpendCheck {
  if (now >= policy.expiresAt) {
    return { ok: false, reason: `the policy expired at ${new Date(policy.expiresAt * 1000).toISOString()}` };
  }
  if (spend.amount <= 0n) return { ok: true };
  const cap = policy.caps.find((c) => c.token.toLowerCase() === spend.token.toLowerCase());
  if (!cap) return { ok: false, reason: `the policy allows no spending of ${spend.token}` };
  if (spend.contract !== undefined) {
    const allowed = policy.contracts.some(
      (c) => c.toLowerCase() === spend.contract?.toLowerCase() || c.toLowerCase() === spend.to.toLowerCase(),
    );
    if (!allowed) return { ok: false, reason: `the policy does not allow paying into ${spend.contract}` };
  } else if (!policy.counterparties.includes(getAddress(spend.to))) {
    return { ok: false, reason: `${spend.to} is not an allowed counterparty of the policy` };
  }
  const spent = spentInPeriod(cap.token, cap.periodSeconds);
  if (spent + spend.amount > cap.amount) {
    return {
      ok: false,
      reason: `it would exceed the cap of ${formatEther(cap.amount)} ${cap.token} per ${cap.periodSeconds} s (${formatEther(spent)} already spent)`,
    };
  }
  return { ok: true };
}
