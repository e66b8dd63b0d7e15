/**
 * Numbers as people say them: digits ("12.5", "1,000", "1.5k", "2 million"), words ("twenty-five",
 * "one hundred and fifty", "a hundred", "fifteen hundred", "two and a half", "two point five",
 * "half an", "a quarter", "a dozen"). `findNumbers` returns every number in a token list with the
 * token span it covers; values are exact (`fixed.ts`). Pure.
 */
import { fixedFromDecimal, fixedFromInt, fixedMul, SCALE } from './fixed.ts';
import type { Token } from './tokens.ts';

export type NumberSpan = {
  /** First token index. */
  start: number;
  /** One past the last token index. */
  end: number;
  /** Value scaled by 10^18. */
  value: bigint;
  /** Written with a sign (a "-5" is never an amount). */
  signed: boolean;
  percent: boolean;
  /** Written with digits only (no words, no k/m suffix): usable verbatim as an id. */
  digits?: string;
};

export const UNITS: Record<string, number> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};

const SCALES: Record<string, number> = {
  thousand: 1_000,
  k: 1_000,
  grand: 1_000,
  million: 1_000_000,
  mil: 1_000_000,
  billion: 1_000_000_000,
};

const FRACTIONS: Record<string, bigint> = { half: SCALE / 2n, quarter: SCALE / 4n };

/** Every word the number grammar reads (so the typo corrector leaves them alone). */
export const NUMBER_WORDS: ReadonlySet<string> = new Set([
  ...Object.keys(UNITS),
  ...Object.keys(SCALES),
  'hundred',
  'dozen',
  'half',
  'quarter',
  'quarters',
  'point',
]);

/** "twenty-five" → [20, 5]; undefined unless every part is a number word. */
function unitParts(word: string): number[] | undefined {
  const parts = word.split('-');
  const vals = parts.map((p) => UNITS[p]);
  return vals.every((v) => v !== undefined) ? (vals as number[]) : undefined;
}

/** A spoken number starting at token i, or undefined. */
function wordNumberAt(ts: readonly Token[], i: number): NumberSpan | undefined {
  const w = (k: number): string | undefined => (ts[k]?.kind === 'word' ? ts[k].norm : undefined);
  let k = i;
  let total = 0n;
  let current = 0n;
  let any = false;
  const first = w(k);
  if (first === undefined) return undefined;

  // "half", "a half", "half a/an", "a quarter", "three quarters" handled below.
  if ((first === 'a' || first === 'an') && w(k + 1) !== undefined) {
    const nx = w(k + 1)!;
    if (nx === 'hundred' || nx === 'thousand' || nx === 'million' || nx === 'dozen' || nx === 'billion') {
      current = 1n;
      any = true;
      k++;
    } else if (nx in FRACTIONS) {
      let end = k + 2;
      if (w(end) === 'a' || w(end) === 'an') end++;
      return { start: i, end, value: FRACTIONS[nx]!, signed: false, percent: false };
    } else {
      return undefined;
    }
  }
  if (!any && first in FRACTIONS) {
    let end = k + 1;
    if (w(end) === 'a' || w(end) === 'an') end++;
    return { start: i, end, value: FRACTIONS[first]!, signed: false, percent: false };
  }

  // A unit may follow a tens word ("twenty five") and a tens or teen word may follow a hundred; "one
  // two" is two numbers, and a comma ends a number ("one, two and three").
  let last: 'none' | 'unit' | 'teen' | 'tens' | 'hundred' | 'scale' = any ? 'unit' : 'none';
  for (; k < ts.length; k++) {
    const word = w(k);
    if (word === undefined) break;
    const parts = unitParts(word);
    if (parts) {
      const v = parts.reduce((a, b) => a + b, 0);
      const kind = v === 0 ? 'unit' : v < 10 ? 'unit' : v < 20 ? 'teen' : parts.length > 1 ? 'unit' : 'tens';
      const fits =
        last === 'none' ||
        last === 'hundred' ||
        last === 'scale' ||
        (last === 'tens' && kind === 'unit' && parts.length === 1);
      if (!fits) break;
      current += BigInt(v);
      last = kind;
      any = true;
      if (ts[k]!.sep) {
        k++;
        break;
      }
      continue;
    }
    if (!any) return undefined;
    if (word === 'hundred' && last !== 'hundred' && last !== 'scale') {
      current = (current === 0n ? 1n : current) * 100n;
      last = 'hundred';
      if (ts[k]!.sep) {
        k++;
        break;
      }
      continue;
    }
    if (word === 'dozen' && last !== 'scale') {
      current = (current === 0n ? 1n : current) * 12n;
      last = 'scale';
      continue;
    }
    if (word in SCALES && word !== 'k' && last !== 'none') {
      total += (current === 0n ? 1n : current) * BigInt(SCALES[word]!);
      current = 0n;
      last = 'scale';
      if (ts[k]!.sep) {
        k++;
        break;
      }
      continue;
    }
    // "one hundred and fifty", "two thousand and five"
    if (
      word === 'and' &&
      (last === 'hundred' || last === 'scale') &&
      w(k + 1) !== undefined &&
      unitParts(w(k + 1)!)
    ) {
      continue;
    }
    break;
  }
  if (!any) return undefined;
  let value = fixedFromInt(total + current);
  // "and a half", "and a quarter", "point five"
  if (w(k) === 'and' && (w(k + 1) === 'a' || w(k + 1) === 'an') && w(k + 2)! in FRACTIONS) {
    value += FRACTIONS[w(k + 2)!]!;
    k += 3;
  } else if (w(k) === 'and' && w(k + 1)! in FRACTIONS) {
    value += FRACTIONS[w(k + 1)!]!;
    k += 2;
  } else if (w(k) === 'point') {
    let digits = '';
    let j = k + 1;
    while (w(j) !== undefined && UNITS[w(j)!] !== undefined && UNITS[w(j)!]! < 10) {
      digits += String(UNITS[w(j)!]);
      j++;
    }
    if (digits) {
      value += fixedFromDecimal(`0.${digits}`) ?? 0n;
      k = j;
    }
  } else if (w(k) === 'quarters' && total === 0n && current < 4n) {
    value = (current * SCALE) / 4n;
    k++;
  }
  return { start: i, end: k, value, signed: false, percent: false };
}

/** A number written with digits starting at token i ("12", "1.5k", "2 million", "2 and a half"). */
function digitNumberAt(ts: readonly Token[], i: number): NumberSpan | undefined {
  const t = ts[i];
  if (t?.kind !== 'number') return undefined;
  let value = fixedFromDecimal(t.norm);
  if (value === undefined) return undefined;
  let end = i + 1;
  let plain = t.multiplier === 1;
  if (t.multiplier !== 1) value *= BigInt(t.multiplier);
  const next = ts[end]?.kind === 'word' ? ts[end].norm : undefined;
  if (next !== undefined && !t.percent && t.multiplier === 1) {
    if (next in SCALES) {
      value = fixedMul(value, fixedFromInt(SCALES[next]!));
      end++;
      plain = false;
    } else if (next === 'hundred') {
      value *= 100n;
      end++;
      plain = false;
    } else if (
      next === 'and' &&
      (ts[end + 1]?.norm === 'a' || ts[end + 1]?.norm === 'an') &&
      ts[end + 2]?.norm === 'half'
    ) {
      value += FRACTIONS.half!;
      end += 3;
      plain = false;
    }
  }
  return {
    start: i,
    end,
    value,
    signed: t.signed,
    percent: t.percent,
    digits: plain && /^\d+$/.test(t.norm) && !t.percent ? t.norm : undefined,
  };
}

/** Every number in the tokens, left to right, non-overlapping. */
export function findNumbers(ts: readonly Token[]): NumberSpan[] {
  const out: NumberSpan[] = [];
  for (let i = 0; i < ts.length; ) {
    const span = digitNumberAt(ts, i) ?? wordNumberAt(ts, i);
    if (span && span.end > i) {
      // "percent" / "per cent" after a number
      const a = ts[span.end]?.norm;
      if (a === 'percent' || a === '%') {
        span.percent = true;
        span.end++;
      } else if (a === 'per' && ts[span.end + 1]?.norm === 'cent') {
        span.percent = true;
        span.end += 2;
      }
      out.push(span);
      i = span.end;
    } else {
      i++;
    }
  }
  return out;
}

/** Integer value of a span as a decimal string, or undefined if it has a fractional part. */
export function spanInteger(span: NumberSpan): string | undefined {
  if (span.digits !== undefined) return span.digits.replace(/^0+(?=\d)/, '');
  if (span.value % SCALE !== 0n || span.signed || span.percent) return undefined;
  return (span.value / SCALE).toString();
}
