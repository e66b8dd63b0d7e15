/**
 * AGORA and ETH amounts as people write them ("12.5", "0.001", "1,000") ↔ wei. Pure.
 */
import { formatEther, parseEther } from 'viem';
import { AgoraError } from '../errors.ts';

/** Parses a decimal amount of an 18-decimal token; positive, at most 18 fractional digits. */
export function parseAmount(text: string, unit = 'AGORA'): bigint {
  const s = String(text).trim().replaceAll(',', '').replaceAll('_', '');
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(s)) {
    throw new AgoraError('BAD_AMOUNT', `"${text}" is not an amount of ${unit}`, {
      hint: `write a decimal number such as 10 or 0.5 (${unit}, not wei)`,
    });
  }
  const frac = s.split('.')[1] ?? '';
  if (frac.length > 18) {
    throw new AgoraError('BAD_AMOUNT', `"${text}" has more than 18 decimals`, {
      hint: `${unit} has 18 decimals`,
    });
  }
  const wei = parseEther(s.startsWith('.') ? `0${s}` : s);
  if (wei <= 0n) throw new AgoraError('BAD_AMOUNT', `the amount must be more than 0 ${unit}, not "${text}"`);
  return wei;
}

/** "1234.5 AGORA"-style formatting of wei, without trailing zeros. */
export function formatAmount(wei: bigint, unit = 'AGORA'): string {
  return `${formatEther(wei)} ${unit}`;
}
