/**
 * Finds revert data in a viem/RPC error chain and decodes it against an ABI, so callers can turn
 * custom errors (e.g. `ERC20InsufficientBalance`) into messages a user understands.
 */
import { type Abi, decodeErrorResult, type Hex } from 'viem';

/** The first hex revert payload (selector + args) found in the error or its causes. */
export function extractRevertData(e: unknown): Hex | undefined {
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const data = (cur as { data?: unknown }).data;
    if (typeof data === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(data)) return data as Hex;
    if (data && typeof data === 'object') {
      const inner = (data as { data?: unknown }).data;
      if (typeof inner === 'string' && /^0x[0-9a-fA-F]{8,}$/.test(inner)) return inner as Hex;
    }
    const msg = (cur as { message?: unknown }).message;
    if (typeof msg === 'string') {
      const m = msg.match(/return data: (0x[0-9a-fA-F]{8,})/);
      if (m) return m[1] as Hex;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export type DecodedRevert = { errorName: string; args: readonly unknown[] };

/** Decodes the revert in `e` against `abi`, or undefined when there is none or it is unknown. */
export function decodeRevert(e: unknown, abi: Abi | readonly unknown[]): DecodedRevert | undefined {
  // viem already decoded it (writeContract / simulateContract)?
  let cur: unknown = e;
  const seen = new Set<unknown>();
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const d = (cur as { data?: { errorName?: string; args?: readonly unknown[] } }).data;
    if (d && typeof d === 'object' && typeof d.errorName === 'string') {
      return { errorName: d.errorName, args: d.args ?? [] };
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  const data = extractRevertData(e);
  if (!data) return undefined;
  try {
    const r = decodeErrorResult({ abi: abi as Abi, data });
    return { errorName: r.errorName, args: (r.args ?? []) as readonly unknown[] };
  } catch {
    return undefined;
  }
}
