/**
 * The devnet: Hardhat's standard test mnemonic and chain id. Its keys are public knowledge, so Agora
 * refuses to use them on any chain other than the devnet.
 */
import type { Address } from 'viem';
import { type HDAccount, mnemonicToAccount } from 'viem/accounts';
import { AgoraError } from '../errors.ts';

export const DEVNET_CHAIN_ID = 31337;
export const DEVNET_MNEMONIC = 'test test test test test test test test test test test junk';
export const DEVNET_ACCOUNT_COUNT = 20;

/** The devnet account at `index` of the standard mnemonic (m/44'/60'/0'/0/index). */
export function devnetAccount(index: number): HDAccount {
  if (!Number.isInteger(index) || index < 0 || index >= DEVNET_ACCOUNT_COUNT) {
    throw new AgoraError('DEVNET_ACCOUNT_INDEX', `devnet account index ${index} is out of range`, {
      hint: `use 0..${DEVNET_ACCOUNT_COUNT - 1}`,
    });
  }
  return mnemonicToAccount(DEVNET_MNEMONIC, { addressIndex: index });
}

/** Throws unless `chainId` is the devnet's: devnet keys are public and must never sign elsewhere. */
export function assertDevnetChain(chainId: number, what = 'devnet accounts'): void {
  if (chainId !== DEVNET_CHAIN_ID) {
    throw new AgoraError(
      'DEVNET_ONLY',
      `refusing to use ${what} on chain ${chainId}: they come from the public test mnemonic and are only for the devnet (chain ${DEVNET_CHAIN_ID})`,
      { hint: 'create or import a wallet with `agora wallet new|import` and pass it with --wallet' },
    );
  }
}

/** The devnet accounts `agora devnet`'s job sends from: the deployer, the providers, requester, validator. */
export function devnetJobAccounts(providers: number): number[] {
  return [0, ...Array.from({ length: Math.max(0, providers) }, (_, i) => 1 + i), 10, 19];
}

/**
 * Throws unless the node funded each of these devnet accounts with ETH for gas, saying which are
 * missing and what to run (a default anvil funds only accounts 0–9).
 */
export async function requireFundedDevnetAccounts(
  conn: { publicClient: { getBalance(a: { address: Address }): Promise<bigint> }; endpoint: string },
  indexes: readonly number[],
): Promise<void> {
  const balances = await Promise.all(
    indexes.map((i) => conn.publicClient.getBalance({ address: devnetAccount(i).address })),
  );
  const missing = indexes.filter((_, k) => balances[k] === 0n);
  if (missing.length === 0) return;
  const highest = Math.max(...indexes) + 1;
  throw new AgoraError(
    'DEVNET_ACCOUNTS_UNFUNDED',
    `the node at ${conn.endpoint} has no ETH on devnet accounts ${missing.join(', ')}, which the devnet job sends from`,
    {
      hint: `start it with them funded (\`anvil --accounts ${Math.max(highest, DEVNET_ACCOUNT_COUNT)}\`), or fund them: ${missing
        .map((i) => `\`agora wallet fund ${devnetAccount(i).address}\``)
        .join(', ')}`,
    },
  );
}
