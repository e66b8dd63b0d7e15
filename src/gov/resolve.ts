/**
 * The one place `agora gov` turns what a member typed into an address: a 0x address or a contact name
 * of the home (`src/wallet/contacts.ts`).
 */
import type { Address } from 'viem';
import { resolveAddress } from '../wallet/contacts.ts';

export function resolveAccount(home: string, nameOrAddress: string): Address {
  return resolveAddress(home, nameOrAddress).address;
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
