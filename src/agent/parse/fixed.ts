/**
 * Exact decimal arithmetic for amounts the parser reads ("two and a half", "1.5k"): a bigint scaled by
 * 10^18, the same precision as the AGORA token. Pure.
 */

export const SCALE = 10n ** 18n;

/** A decimal string ("12", "0.25", "1,000") → scaled bigint, or undefined if it has more than 18 decimals. */
export function fixedFromDecimal(s: string): bigint | undefined {
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s.replaceAll(',', ''));
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
  const frac = m[2] ?? '';
  if (frac.replace(/0+$/, '').length > 18) return undefined;
  return BigInt(m[1] || '0') * SCALE + BigInt(frac.padEnd(18, '0').slice(0, 18) || '0');
}

export function fixedFromInt(n: bigint | number): bigint {
  return BigInt(n) * SCALE;
}

export function fixedMul(a: bigint, b: bigint): bigint {
  return (a * b) / SCALE;
}

export function isWhole(a: bigint): boolean {
  return a % SCALE === 0n;
}

/** Canonical decimal string: no leading zeros, no trailing fractional zeros, no exponent. */
export function fixedToDecimal(a: bigint): string {
  const neg = a < 0n;
  const v = neg ? -a : a;
  const whole = (v / SCALE).toString();
  const frac = (v % SCALE).toString().padStart(18, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
