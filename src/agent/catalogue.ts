/**
 * The tool catalogue: every user action Agora offers to a person or an agent, as a typed tool with a
 * name, a description, whether it moves value, and a zod schema of its arguments. The embedded parser
 * (`src/agent/parse/`), the LLM backend, `agora ask|chat` and the MCP server all speak these names and
 * validate against these schemas. Pure: no I/O.
 *
 * Argument conventions (the same for every tool):
 * - amounts are decimal strings in AGORA ("2.5", "1500"), canonical: no sign, no exponent, no leading
 *   zeros, no trailing fractional zeros, at most 18 decimals;
 * - ids (datasets, jobs, proposals) are decimal strings;
 * - `to` / `address` / `with` are a contact name or a 0x address exactly as the user said it, or
 *   `"me"` for the signer's own wallet; resolving them is the executor's job.
 */
import { z } from 'zod';

/** A positive decimal amount of AGORA, canonical form (see the module comment). */
export const AMOUNT_RE = /^(0|[1-9]\d*)(\.\d{0,17}[1-9])?$/;
/** A decimal id (dataset, job, proposal). */
export const ID_RE = /^(0|[1-9]\d*)$/;
/** A 0x address (20 bytes). */
export const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;
/** A payment channel id: bytes32 hex. */
export const CHANNEL_ID_RE = /^0x[0-9a-fA-F]{64}$/;
/** A contact name: a letter first, then letters, digits, `.`, `_` or `-` (ENS-like names fit). */
export const CONTACT_NAME_RE = /^[\p{L}][\p{L}\p{N}._-]{0,63}$/u;

export const amountSchema = z
  .string()
  .regex(AMOUNT_RE, 'a positive decimal amount of AGORA, like "2.5"')
  .refine((s) => /[1-9]/.test(s), 'the amount must be more than 0')
  .describe('amount in AGORA as a decimal string, e.g. "2.5"');
export const idSchema = z.string().regex(ID_RE, 'a decimal id, like "7"');
/** A contact name, a 0x address, or "me". */
export const partySchema = z
  .string()
  .min(1)
  .max(66)
  .refine(
    (s) => ADDRESS_RE.test(s) || CONTACT_NAME_RE.test(s),
    'a contact name or a 0x address (40 hex digits)',
  )
  .describe('a contact name or a 0x address as the user said it, or "me" for your own wallet');
export const countSchema = z.number().int().positive().max(1_000_000);

export const SUPPORT_VALUES = ['for', 'against', 'abstain'] as const;
export type Support = (typeof SUPPORT_VALUES)[number];

/**
 * Protocol parameters a proposal can set (`gov.propose {set: "param=value"}`), with the value each
 * takes: `amount` in AGORA, `bps` basis points (0..10000), `seconds`, or an `address` (contact or 0x).
 */
export const GOV_PARAMS = {
  minStake: 'amount',
  slashBps: 'bps',
  protocolFeeBps: 'bps',
  minChallengePeriod: 'seconds',
  maxChallengePeriod: 'seconds',
  treasury: 'address',
} as const;
export type GovParam = keyof typeof GOV_PARAMS;

/** "param=value" with a known parameter and a value of its kind. */
export function isValidGovSetting(s: string): boolean {
  const eq = s.indexOf('=');
  if (eq < 1) return false;
  const param = s.slice(0, eq);
  const value = s.slice(eq + 1);
  if (!Object.hasOwn(GOV_PARAMS, param)) return false;
  switch (GOV_PARAMS[param as GovParam]) {
    case 'amount':
      return AMOUNT_RE.test(value);
    case 'bps':
      return ID_RE.test(value) && Number(value) <= 10_000;
    case 'seconds':
      return ID_RE.test(value);
    case 'address':
      return ADDRESS_RE.test(value) || CONTACT_NAME_RE.test(value);
  }
}

export const govSettingSchema = z
  .string()
  .refine(isValidGovSetting, `"param=value" with param one of ${Object.keys(GOV_PARAMS).join(', ')}`)
  .describe(
    `"param=value": ${Object.entries(GOV_PARAMS)
      .map(([k, v]) => `${k} (${v})`)
      .join(', ')}`,
  );

const o = z.strictObject;

/** Every tool's argument schema, by tool name. */
export const TOOL_ARGS = {
  'wallet.balance': o({
    address: partySchema.optional().describe('whose balance; omit for your own wallet'),
  }),
  'wallet.fund': o({
    address: partySchema.optional().describe('which wallet to fund; omit for your own'),
  }),
  'token.transfer': o({
    to: partySchema.describe('recipient: contact name or 0x address'),
    amount: amountSchema,
  }),
  'contacts.add': o({
    name: z.string().regex(CONTACT_NAME_RE, 'a name: letters, digits, ".", "_", "-"'),
    address: z.string().min(1).max(255).describe('a 0x address or an ENS-like name (alice.eth)'),
  }),
  'contacts.list': o({}),
  'contacts.remove': o({
    name: z.string().regex(CONTACT_NAME_RE, 'a contact name'),
  }),
  'data.add': o({
    file: z.string().min(1).describe('path of the file or directory to register'),
    licence: z.string().min(1).optional().describe('SPDX licence id, e.g. MIT, CC-BY-4.0'),
    sector: z.string().min(1).optional().describe('sector, e.g. vision, text, health'),
  }),
  'data.show': o({ datasetId: idSchema }),
  'job.create': o({
    task: z.string().min(1).describe('training task, e.g. mnist-mlp'),
    datasets: z.array(idSchema).min(1).optional().describe('dataset ids to train on'),
    workers: countSchema.optional().describe('number of compute providers'),
    rounds: countSchema.optional().describe('DiLoCo rounds'),
    price: amountSchema.optional().describe('price per round per worker, in AGORA'),
  }),
  'job.status': o({ jobId: idSchema }),
  'rewards.claim': o({ jobId: idSchema }),
  'pay.open': o({
    to: partySchema.describe('payee: contact name or 0x address'),
    amount: amountSchema.describe('deposit in AGORA'),
  }),
  'pay.close': o({
    channelId: z.string().regex(CHANNEL_ID_RE, 'a channel id (0x + 64 hex digits)').optional(),
    with: partySchema.optional().describe('close the open channel with this payee'),
  }).refine(
    (a) => (a.channelId === undefined) !== (a.with === undefined),
    'give exactly one of channelId or with (the payee)',
  ),
  'gov.vote': o({
    proposalId: idSchema,
    support: z.enum(SUPPORT_VALUES),
    reason: z.string().min(1).max(1000).optional(),
  }),
  'gov.delegate': o({
    to: partySchema.describe('delegate: contact name, 0x address, or "me" to vote yourself'),
  }),
  'gov.propose': o({
    set: govSettingSchema.optional(),
    title: z.string().min(1).max(200).optional(),
  }),
  'model.query': o({
    model: z.string().min(1).describe('model name, job id or URL'),
    input: z.string().min(1).describe('the input to predict on, as text or JSON'),
  }),
} as const;

export type ToolName = keyof typeof TOOL_ARGS;
export type ToolArgs<N extends ToolName> = z.infer<(typeof TOOL_ARGS)[N]>;

export type ToolDef = {
  name: ToolName;
  description: string;
  /** True when running it can move tokens or ETH: such calls need a confirmation bound to their args. */
  movesValue: boolean;
  /** True when it sends a transaction (gas), whether or not it moves value. */
  sendsTransaction: boolean;
  args: z.ZodType;
};

type Meta = Omit<ToolDef, 'name' | 'args'>;

const META: Record<ToolName, Meta> = {
  'wallet.balance': {
    description: 'Show ETH and AGORA balances, stake, claimable rewards and open channels of a wallet.',
    movesValue: false,
    sendsTransaction: false,
  },
  'wallet.fund': {
    description: 'Devnet only: send ETH and AGORA from a devnet account to a wallet.',
    movesValue: true,
    sendsTransaction: true,
  },
  'token.transfer': {
    description: 'Send AGORA tokens to a contact or address.',
    movesValue: true,
    sendsTransaction: true,
  },
  'contacts.add': {
    description: 'Save a contact: a name for an address.',
    movesValue: false,
    sendsTransaction: false,
  },
  'contacts.list': { description: 'List saved contacts.', movesValue: false, sendsTransaction: false },
  'contacts.remove': { description: 'Delete a contact.', movesValue: false, sendsTransaction: false },
  'data.add': {
    description: 'Register a dataset on chain: hash its records, sign the attestation, register it.',
    movesValue: false,
    sendsTransaction: true,
  },
  'data.show': {
    description: 'Show a registered dataset and its attestation.',
    movesValue: false,
    sendsTransaction: false,
  },
  'job.create': {
    description: 'Post a training job and escrow its price (price × rounds × workers + fee).',
    movesValue: true,
    sendsTransaction: true,
  },
  'job.status': {
    description: 'Show the state of a training job.',
    movesValue: false,
    sendsTransaction: false,
  },
  'rewards.claim': {
    description: 'Claim your rewards from a finished training job.',
    movesValue: true,
    sendsTransaction: true,
  },
  'pay.open': {
    description: 'Open a payment channel to a payee with a deposit of AGORA.',
    movesValue: true,
    sendsTransaction: true,
  },
  'pay.close': {
    description: 'Close a payment channel (by id, or the one with a payee); the rest is refunded.',
    movesValue: true,
    sendsTransaction: true,
  },
  'gov.vote': {
    description: 'Vote for, against or abstain on a governance proposal.',
    movesValue: false,
    sendsTransaction: true,
  },
  'gov.delegate': {
    description: 'Delegate your voting power to someone (or "me" to vote yourself).',
    movesValue: false,
    sendsTransaction: true,
  },
  'gov.propose': {
    description: 'Propose a change of a protocol parameter ("param=value").',
    movesValue: false,
    sendsTransaction: true,
  },
  'model.query': {
    description: 'Buy a prediction from a model (paid per query).',
    movesValue: true,
    sendsTransaction: true,
  },
};

export const TOOL_NAMES = Object.keys(TOOL_ARGS) as ToolName[];

export const TOOLS: readonly ToolDef[] = TOOL_NAMES.map((name) => ({
  name,
  ...META[name],
  args: TOOL_ARGS[name] as z.ZodType,
}));

export function isToolName(s: string): s is ToolName {
  return Object.hasOwn(TOOL_ARGS, s);
}

export function toolByName(name: string): ToolDef | undefined {
  return isToolName(name) ? TOOLS.find((t) => t.name === name) : undefined;
}

export function movesValue(name: ToolName): boolean {
  return META[name].movesValue;
}

/** A parsed, schema-valid call of one tool. */
export type ToolCall = { tool: ToolName; args: Record<string, unknown> };

export type ValidatedCall = { ok: true; call: ToolCall } | { ok: false; error: string };

/** Validates a tool call from any source (parser, LLM, MCP client) against the catalogue. */
export function validateToolCall(tool: string, args: unknown): ValidatedCall {
  if (!isToolName(tool)) return { ok: false, error: `unknown tool "${tool}"` };
  const r = TOOL_ARGS[tool].safeParse(args ?? {});
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first?.path.length ? `${first.path.join('.')}: ` : '';
    return { ok: false, error: `${tool}: ${where}${first?.message ?? 'invalid arguments'}` };
  }
  return { ok: true, call: { tool, args: r.data as Record<string, unknown> } };
}

/** JSON Schema (draft 2020-12) of one tool's arguments, for LLM tool calling and MCP. */
export function toolJsonSchema(name: ToolName): Record<string, unknown> {
  const s = z.toJSONSchema(TOOL_ARGS[name], { io: 'input' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

/** Tool names usable as OpenAI function names (`^[a-zA-Z0-9_-]+$`): `token.transfer` ↔ `token_transfer`. */
export function llmToolName(name: ToolName): string {
  return name.replace('.', '_');
}

export function fromLlmToolName(s: string): ToolName | undefined {
  const name = s.replace('_', '.');
  return isToolName(name) ? name : undefined;
}

/** The catalogue as OpenAI-compatible `tools` (chat completions with tool calling). */
export function openAiTools(): {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}[] {
  return TOOLS.map((t) => ({
    type: 'function' as const,
    function: {
      name: llmToolName(t.name),
      description: `${t.description}${t.movesValue ? ' Moves value: the user confirms before it runs.' : ''}`,
      parameters: toolJsonSchema(t.name),
    },
  }));
}
