/**
 * What every parse rule sees: the tokens (typos corrected), the numbers in them, the contact list, and
 * helpers to find parties (contacts, addresses, names), amounts, ids and phrases. Pure.
 */
import { ADDRESS_RE, CONTACT_NAME_RE } from '../catalogue.ts';
import { fixedToDecimal } from './fixed.ts';
import {
  AGORA_UNITS,
  COMMON,
  correctTokens,
  editDistance,
  isKnownWord,
  OTHER_CURRENCIES,
} from './lexicon.ts';
import { findNumbers, type NumberSpan, spanInteger } from './numbers.ts';
import { type Token, tokenize } from './tokens.ts';

export type ParseOptions = {
  /** Saved contact names. When given, a name that is not among them is never taken for a party. */
  contacts?: readonly string[];
  /** Training tasks `job.create` accepts (default: the node's known tasks). */
  tasks?: readonly string[];
};

export type Party =
  | { status: 'ok'; value: string; index: number }
  | { status: 'me'; value: 'me'; index: number }
  /** A name close to a saved contact (a typo?). */
  | { status: 'typo'; value: string; suggestion: string; index: number }
  /** A name that is not a saved contact. */
  | { status: 'unknown'; value: string; index: number }
  /** 0x… that is not a 20-byte address. */
  | { status: 'bad-address'; value: string; index: number };

export type Ctx = {
  text: string;
  ts: Token[];
  nums: NumberSpan[];
  /** Norms of word tokens (quoted text and JSON excluded: they are data, never instructions). */
  words: Set<string>;
  /** Word norms joined by spaces, other tokens as placeholders: for phrase tests. */
  flat: string;
  contacts: readonly string[] | undefined;
  contactByLower: Map<string, string>;
  tasks: readonly string[];
};

const PLACEHOLDER: Record<string, string> = {
  address: '<addr>',
  hash: '<hash>',
  hex: '<hex>',
  ens: '<ens>',
  path: '<path>',
  quoted: '<quote>',
  json: '<json>',
  assign: '<assign>',
  url: '<url>',
};

export function makeCtx(text: string, opts: ParseOptions, defaultTasks: readonly string[]): Ctx {
  const ts = tokenize(text);
  const contactByLower = new Map((opts.contacts ?? []).map((c) => [c.toLowerCase(), c]));
  correctTokens(ts, new Set(contactByLower.keys()));
  const words = new Set(ts.filter((t) => t.kind === 'word').map((t) => t.norm));
  const flat = ts
    .map((t) => (t.kind === 'word' ? t.norm : t.kind === 'number' ? t.norm : PLACEHOLDER[t.kind]))
    .join(' ');
  return {
    text,
    ts,
    nums: findNumbers(ts),
    words,
    flat,
    contacts: opts.contacts,
    contactByLower,
    tasks: opts.tasks ?? defaultTasks,
  };
}

export function has(ctx: Ctx, ...ws: string[]): boolean {
  return ws.some((w) => ctx.words.has(w));
}

export function phrase(ctx: Ctx, re: RegExp): boolean {
  return re.test(ctx.flat);
}

/** Index of the number span covering token i, or -1. */
export function spanAt(ctx: Ctx, i: number): number {
  return ctx.nums.findIndex((s) => i >= s.start && i < s.end);
}

/** Words after which a name is a party: "to alice", "pay bob", "does carol have". */
const PARTY_BEFORE = new Set([
  'to',
  'with',
  'for',
  'of',
  'pay',
  'send',
  'give',
  'tip',
  'wire',
  'fund',
  'does',
  'did',
  'let',
  'make',
  'forget',
  'remove',
  'delete',
  'drop',
  'rm',
  'got',
  'has',
]);

const SUBJECTS = new Set(['i', 'you', 'we', 'they', 'he', 'she', 'it', 'who']);

const ME = new Set(['me', 'myself', 'self', 'self-delegate']);

function nearestContact(ctx: Ctx, word: string): string | undefined {
  let best: string | undefined;
  let bestD = 99;
  let tie = false;
  for (const [lower, name] of ctx.contactByLower) {
    const max = Math.min(lower.length, word.length) <= 4 ? 1 : 2;
    const d = editDistance(word, lower, max);
    if (d > max) continue;
    if (d < bestD) {
      best = name;
      bestD = d;
      tie = false;
    } else if (d === bestD) {
      tie = true;
    }
  }
  return tie ? undefined : best;
}

/**
 * Everything in the text that names a party: saved contacts, 0x addresses, ENS-like names, "me", and
 * names in a party position (unknown or misspelt contacts, or any name when there is no contact list).
 * Tokens at `skip` (e.g. a contact name being added) are ignored.
 */
export function findParties(ctx: Ctx, skip: ReadonlySet<number> = new Set()): Party[] {
  const out: Party[] = [];
  ctx.ts.forEach((t, i) => {
    if (skip.has(i)) return;
    if (t.kind === 'address') {
      out.push({ status: 'ok', value: t.text, index: i });
      return;
    }
    if (t.kind === 'hex') {
      out.push({ status: 'bad-address', value: t.text, index: i });
      return;
    }
    if (t.kind === 'ens') {
      out.push({ status: 'ok', value: t.text, index: i });
      return;
    }
    if (t.kind !== 'word' || spanAt(ctx, i) >= 0) return;
    const known = ctx.contactByLower.get(t.norm);
    // "I will send…" with a contact named Will: a common word after a subject pronoun is that word.
    const prevNorm = ctx.ts[i - 1]?.norm ?? '';
    if (known !== undefined && COMMON.has(t.norm) && SUBJECTS.has(prevNorm)) return;
    if (known !== undefined && !t.corrected) {
      out.push({ status: 'ok', value: known, index: i });
      return;
    }
    if (ME.has(t.norm)) {
      out.push({ status: 'me', value: 'me', index: i });
      return;
    }
    const prev = ctx.ts[i - 1];
    const inPosition =
      t.possessive ||
      (prev?.kind === 'word' &&
        PARTY_BEFORE.has(prev.norm) &&
        (prev.norm !== 'for' || known !== undefined)) ||
      (prev?.kind === 'word' && prev.norm === 'over' && ctx.ts[i - 2]?.norm === 'to');
    const raw = t.corrected ?? t.norm;
    if (!inPosition || !CONTACT_NAME_RE.test(raw) || COMMON.has(raw)) return;
    if (t.corrected === undefined && isKnownWord(raw)) return;
    if (OTHER_CURRENCIES.has(raw) || AGORA_UNITS.has(raw)) return;
    if (ctx.contacts === undefined) {
      if (t.corrected === undefined)
        out.push({ status: 'ok', value: t.text.replace(/'s$|’s$|'$/, ''), index: i });
      return;
    }
    const near = nearestContact(ctx, raw);
    if (near !== undefined) out.push({ status: 'typo', value: raw, suggestion: near, index: i });
    else if (t.corrected === undefined) out.push({ status: 'unknown', value: raw, index: i });
  });
  // The same party named twice ("alice … alice's") counts once.
  const seen = new Set<string>();
  return out.filter((p) => {
    const k = `${p.status}:${p.value.toLowerCase()}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A clarify question for a party that cannot be used as is, or undefined if it can. */
export function partyProblem(p: Party, movesOrSends: boolean): string | undefined {
  switch (p.status) {
    case 'ok':
    case 'me':
      return undefined;
    case 'typo':
      return movesOrSends
        ? `Did you mean ${p.suggestion}? I have no contact named "${p.value}"; say it again with the exact name.`
        : undefined;
    case 'unknown':
      return `I have no contact named "${p.value}". Add one with "add ${p.value} as 0x…", or give their 0x address.`;
    case 'bad-address':
      return `"${p.value}" is not a valid address (0x followed by 40 hex digits). Which address did you mean?`;
  }
}

/** A party's value once a read-only typo is corrected. */
export function partyValue(p: Party): string {
  return p.status === 'typo' ? p.suggestion : p.value;
}

export function isAddress(s: string): boolean {
  return ADDRESS_RE.test(s);
}

/** Number spans that are not part of the given token indices. */
export function numbersOutside(ctx: Ctx, used: ReadonlySet<number>): NumberSpan[] {
  return ctx.nums.filter((s) => !used.has(s.start));
}

/** A usable amount of AGORA from a span, or a clarify question. */
export function amountOf(span: NumberSpan): { amount: string } | { problem: string } {
  if (span.signed) return { problem: 'Amounts must be positive. How much AGORA did you mean?' };
  if (span.percent) return { problem: 'How much AGORA, as a number of tokens rather than a percentage?' };
  if (span.value <= 0n) return { problem: 'The amount must be more than 0 AGORA. How much did you mean?' };
  return { amount: fixedToDecimal(span.value) };
}

export function integerOf(span: NumberSpan): string | undefined {
  return spanInteger(span);
}

/** Original text from token index i to the end, trimmed of edge punctuation. */
export function textFrom(ctx: Ctx, i: number): string {
  const t = ctx.ts[i];
  if (!t) return '';
  return ctx.text
    .slice(t.start)
    .trim()
    .replace(/[\s.!?;,]+$/, '');
}

const VAGUE_WORDS = new Set([
  'some',
  'few',
  'couple',
  'several',
  'lots',
  'lot',
  'many',
  'all',
  'everything',
  'entire',
  'whole',
  'rest',
  'maximum',
  'whatever',
  'enough',
  'bit',
  'little',
  'remaining',
  'bunch',
  'much',
]);

/** A vague quantity ("some", "a few", "all", "the max") among the words, skipping saved contact names. */
export function vagueQuantity(ctx: Ctx): string | undefined {
  for (let i = 0; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (t.kind !== 'word') continue;
    if (VAGUE_WORDS.has(t.norm)) return t.norm;
    if (
      (t.norm === 'max' || t.norm === 'most') &&
      (!ctx.contactByLower.has(t.norm) || ctx.ts[i - 1]?.norm === 'the')
    )
      return t.norm;
  }
  return undefined;
}

/** Asks about an action rather than asking for it ("should I pay…", "how do I send…", "did alice…"). */
export function isQuestionAbout(ctx: Ctx): boolean {
  return /^(how (do|can|could|would|should|will|does) (i|we|one|you|it)\b|how much (would|will|can|could|does|do i need|should)\b|how many \S+ (would|will|can|could|should)\b|should (i|we)\b|can i (?!get\b|have\b)|could i (?!get\b|have\b)|may i (?!get\b|have\b)|did\b|what (happens|if|would|will happen)\b|is it (safe|possible|ok|okay|wise|a good idea)\b|why\b|when (should|can|do) (i|we)\b|do i (need|have to)\b|am i (allowed|able)\b)/.test(
    ctx.flat,
  );
}

/** Says not to do something ("don't send", "never pay"). */
export function isNegated(ctx: Ctx): boolean {
  return /(^|\s)(don't|dont|do not|never|not|no longer|stop|cancel|avoid|without)(\s|$)/.test(ctx.flat);
}

/** Hedged, conditional or repeated ("maybe", "if", "twice", "I think"): not a clear request. */
export function isHedged(ctx: Ctx): boolean {
  return (
    /(^|\s)(maybe|perhaps|possibly|probably|twice|thrice|if|unless|might|i think|not sure|times|every|each|daily|weekly|monthly|yearly|later|tomorrow|tonight|soon|eventually|someday)(\s|$)/.test(
      ctx.flat,
    ) || TIME_PHRASE.test(ctx.flat)
  );
}

/** "next week", "in june", "on monday", "at 5pm", "in an hour": an action for later is not done now. */
const TIME_PHRASE =
  /\b(next|this|in|on|by|until|before|after|at|from) (a |an |the |one |two |\d+ )?(week|weeks|month|months|year|years|day|days|hour|hours|minute|minutes|january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|noon|midnight|\d+ ?(am|pm))\b/;

/** Why a command for a transaction is not a clear request, or undefined when it is one. */
export function notARequest(ctx: Ctx, what: string): string | undefined {
  if (isQuestionAbout(ctx)) {
    return `That sounds like a question rather than a request, so I won't ${what} anything. Say what to do, e.g. "send 5 AGORA to alice".`;
  }
  if (isNegated(ctx)) return `I read a "not" in that, so I won't ${what} anything. What should I do?`;
  if (isHedged(ctx)) {
    return `That is not a definite request (a "maybe", "if", or a repeat), so I won't ${what} anything. Say exactly what to do, once.`;
  }
  return undefined;
}

const PURPOSE = new Set(['for', 'because', 'since', 'as']);

/**
 * The first word a value-moving command leaves unexplained: not vocabulary, not a number, not a party,
 * not a contact, and not in a closing purpose phrase ("… for the labels"). A sentence that says more
 * than the parser understands is not acted on ("send 5 to anna when the job ends").
 */
export function unexplainedWord(ctx: Ctx, explained: ReadonlySet<number> = new Set()): string | undefined {
  const parties = new Set(findParties(ctx).map((p) => p.index));
  let purposeFrom = ctx.ts.length;
  for (let i = 1; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (t.kind === 'word' && PURPOSE.has(t.norm) && !ctx.contactByLower.has(ctx.ts[i + 1]?.norm ?? '')) {
      purposeFrom = i;
      break;
    }
  }
  for (let i = 0; i < purposeFrom; i++) {
    const t = ctx.ts[i]!;
    if (t.kind !== 'word' || explained.has(i) || parties.has(i) || spanAt(ctx, i) >= 0) continue;
    if (t.corrected !== undefined || isKnownWord(t.norm) || ctx.contactByLower.has(t.norm)) continue;
    return t.text;
  }
  return undefined;
}

/** Text that tries to instruct the parser instead of asking for one action. */
export function isInjection(ctx: Ctx): boolean {
  return /(^|\s)(ignore|disregard|bypass|override|jailbreak)(\s|$)|\bforget (all |any |the |your |my )*(previous|prior|above|earlier|rules|instructions)\b|\bsystem prompt\b|\binstructions?\b|\b(developer|admin|god|debug|sudo|root) mode\b|\byou are now\b|\bact as\b|\bpretend\b/.test(
    ctx.flat,
  );
}
