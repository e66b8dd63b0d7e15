/**
 * Tokenizer for commands typed by people: words (lower-cased, possessives and edge punctuation
 * stripped), numbers ("1,000", "1.5k", "#12", "2%"), 0x addresses and hashes, ENS-like names, file
 * paths, http(s) URLs, quoted strings and bracketed JSON kept whole, and `param=value` settings. Every token keeps
 * its span in the original text, so values are returned as the user wrote them. Pure.
 */

export type TokenKind =
  | 'word'
  | 'number'
  | 'address'
  | 'hash'
  | 'hex'
  | 'ens'
  | 'path'
  | 'quoted'
  | 'json'
  | 'assign'
  | 'url';

export type Token = {
  /** The token as written (quotes removed for `quoted`). */
  text: string;
  /** Lower case, edge punctuation and possessive removed; for numbers the digits without commas. */
  norm: string;
  kind: TokenKind;
  start: number;
  end: number;
  /** "alice's" */
  possessive: boolean;
  /** `2%` */
  percent: boolean;
  /** Numbers: a "k"/"m" suffix multiplier (1000, 1000000), 1 without one. */
  multiplier: number;
  /** Numbers: written with a sign. */
  signed: boolean;
  /** Words: the word as typed, when it was corrected to a keyword (typo tolerance). */
  corrected?: string;
  /** Followed by a comma or semicolon ("one, two and three"). */
  sep?: boolean;
};

const CONTRACTIONS = new Set([
  'what',
  'it',
  'how',
  'that',
  'who',
  'where',
  'there',
  'here',
  'let',
  'he',
  'she',
  'when',
  'why',
]);

const QUOTES: Record<string, string> = { '"': '"', '“': '”', '”': '”', '«': '»', '`': '`' };
const BRACKETS: Record<string, string> = { '[': ']', '{': '}' };

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;
const HEX = /^0x[0-9a-fA-F]*$/;
const ENS = /^[a-z0-9-]+(\.[a-z0-9-]+)*\.eth$/i;
const PLAIN_NUMBER = /^(\d+(\.\d+)?|\.\d+)$/;
const THOUSANDS = /^\d{1,3}(,\d{3})+(\.\d+)?$/;
const SUFFIXED = /^(\d+(?:\.\d+)?)(k|m|mm|bn)$/i;
const PATH_LIKE = /^(\.{0,2}\/|~\/|[\w-]+\/)|\/|^[\w-]+(\.[\w-]+)*\.[a-z][a-z0-9]{0,7}$/i;
const ASSIGN = /^[a-z][\w.]*=\S+$/i;
const URL_LIKE = /^https?:\/\/[^\s/]+\S*$/i;

function base(text: string, norm: string, kind: TokenKind, start: number, end: number): Token {
  return { text, norm, kind, start, end, possessive: false, percent: false, multiplier: 1, signed: false };
}

/** Classifies one whitespace-free chunk (edge punctuation already removed). */
function classify(chunk: string, start: number): Token[] {
  const end = start + chunk.length;
  if (HASH.test(chunk)) return [base(chunk, chunk.toLowerCase(), 'hash', start, end)];
  if (ADDRESS.test(chunk)) return [base(chunk, chunk.toLowerCase(), 'address', start, end)];
  if (HEX.test(chunk) && chunk.length > 2) return [base(chunk, chunk.toLowerCase(), 'hex', start, end)];
  if (URL_LIKE.test(chunk)) return [base(chunk, chunk, 'url', start, end)];
  if (ASSIGN.test(chunk)) return [base(chunk, chunk, 'assign', start, end)];

  let s = chunk;
  let signed = false;
  let percent = false;
  if (/^[-+]\d|^[-+]\.\d/.test(s)) {
    signed = true;
    s = s.slice(1);
  }
  if (s.startsWith('#') && /^\d+$/.test(s.slice(1))) s = s.slice(1);
  if (s.startsWith('$')) s = s.slice(1);
  if (s.endsWith('%') && /\d%$/.test(s)) {
    percent = true;
    s = s.slice(0, -1);
  }
  const num = (norm: string, multiplier = 1): Token[] => [
    { ...base(chunk, norm, 'number', start, end), signed, percent, multiplier },
  ];
  if (PLAIN_NUMBER.test(s)) return num(s);
  if (THOUSANDS.test(s)) return num(s.replaceAll(',', ''));
  const suf = SUFFIXED.exec(s);
  if (suf) {
    const m = suf[2]!.toLowerCase();
    return num(suf[1]!, m === 'k' ? 1_000 : m === 'bn' ? 1_000_000_000 : 1_000_000);
  }
  // "3,4,5": a list of numbers.
  if (/^\d+(,\d+)+$/.test(s)) {
    const out: Token[] = [];
    let at = start;
    for (const part of chunk.split(',')) {
      out.push(base(part, part, 'number', at, at + part.length));
      at += part.length + 1;
    }
    return out;
  }

  if (ENS.test(chunk)) return [base(chunk, chunk.toLowerCase(), 'ens', start, end)];
  const lower = chunk.toLowerCase().replaceAll('’', "'");
  if (PATH_LIKE.test(chunk) && !lower.includes("'")) {
    return [base(chunk, chunk, 'path', start, end)];
  }

  let word = lower.replace(/^-+/, '');
  const t = base(chunk, word, 'word', start, end);
  const poss = /^(.+)'s$/.exec(word) ?? /^(.+s)'$/.exec(word);
  if (poss && !CONTRACTIONS.has(poss[1]!)) {
    word = poss[1]!;
    t.possessive = true;
  }
  t.norm = word;
  return [t];
}

export function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = input.length;
  while (i < n) {
    const ch = input[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const close = QUOTES[ch];
    if (close !== undefined) {
      let j = input.indexOf(close === '”' && ch === '“' ? '”' : close, i + 1);
      if (ch === '“' && j < 0) j = input.indexOf('"', i + 1);
      if (j > i) {
        const text = input.slice(i + 1, j);
        out.push(base(text, text.toLowerCase(), 'quoted', i, j + 1));
        i = j + 1;
        continue;
      }
      i++;
      continue;
    }
    const bclose = BRACKETS[ch];
    if (bclose !== undefined) {
      let depth = 0;
      let j = i;
      for (; j < n; j++) {
        if (input[j] === ch) depth++;
        else if (input[j] === bclose && --depth === 0) break;
      }
      if (j < n) {
        const text = input.slice(i, j + 1);
        out.push(base(text, text, 'json', i, j + 1));
        i = j + 1;
        continue;
      }
    }
    let j = i;
    while (j < n && !/\s/.test(input[j]!)) j++;
    let chunk = input.slice(i, j);
    let start = i;
    i = j;
    // Edge punctuation: "(alice", "bob,", "done?", "it." — but keep "./data/" and "…/".
    const lead = /^[(<'"“‘]+/.exec(chunk)?.[0].length ?? 0;
    chunk = chunk.slice(lead);
    start += lead;
    const trail = /[)>,;:!?'"”’]+$/.exec(chunk)?.[0] ?? '';
    chunk = chunk.slice(0, chunk.length - trail.length);
    while (chunk.endsWith('.') && !/^\.+\/?$/.test(chunk) && !chunk.endsWith('/.')) {
      chunk = chunk.slice(0, -1);
      chunk = chunk.replace(/[)>,;:!?'"”’]+$/, '');
    }
    if (chunk === '') continue;
    const toks = classify(chunk, start);
    if (/[,;]/.test(trail)) toks[toks.length - 1]!.sep = true;
    out.push(...toks);
  }
  return out;
}
