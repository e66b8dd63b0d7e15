/**
 * The one place `agora gov` turns what a member typed into an address. Today: a 0x address. When
 * contacts land (`src/wallet/contacts.ts`, `resolveAddress(home, nameOrAddress)`), this function calls
 * that instead, and every gov command takes contact names with no other change.
 */
import { type Address, getAddress, isAddress } from 'viem';
import { AgoraError } from '../errors.ts';

export function resolveAccount(_home: string, nameOrAddress: string): Address {
  const s = nameOrAddress.trim();
  if (isAddress(s, { strict: false })) return getAddress(s);
  throw new AgoraError('BAD_ADDRESS', `${JSON.stringify(s.slice(0, 80))} is not an address`, {
    hint: 'an address is 0x followed by 40 hex digits',
  });
}

/** A `--call` target: a contract of the deployment by name (ComputeMarket, …), or an account. */
export function resolveTarget(
  home: string,
  contracts: Record<string, Address>,
  nameOrAddress: string,
): Address {
  const byName = Object.entries(contracts).find(
    ([k]) => k.toLowerCase() === nameOrAddress.trim().toLowerCase(),
  );
  return byName ? byName[1] : resolveAccount(home, nameOrAddress);
}
