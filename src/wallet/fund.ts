/**
 * `agora wallet fund`: on the devnet only, a devnet account (public test keys) sends a new wallet
 * ETH for gas and AGORA to work with. Refused on every other chain.
 */
import { type Address, getAddress, type Hex, parseEther } from 'viem';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { assertDevnetChain, DEVNET_CHAIN_ID, devnetAccount } from '../chain/devnet.ts';
import { tokenClient } from '../chain/token.ts';
import { AgoraError } from '../errors.ts';

/** The devnet account the faucet pays from (account 0, the devnet deployer). */
export const FAUCET_ACCOUNT_INDEX = 0;
export const DEFAULT_FUND_ETH = parseEther('10');
export const DEFAULT_FUND_AGORA = parseEther('1000');

export type FundResult = {
  address: Address;
  from: Address;
  eth: bigint;
  agora: bigint;
  ethTx: Hex | null;
  agoraTx: Hex | null;
};

export async function fundFromDevnet(
  conn: ChainConnection,
  deployment: Deployment | undefined,
  to: Address,
  amounts: { eth?: bigint; agora?: bigint } = {},
): Promise<FundResult> {
  if (conn.chainId !== DEVNET_CHAIN_ID) {
    throw new AgoraError(
      'FUND_DEVNET_ONLY',
      `\`agora wallet fund\` only works on the devnet (chain ${DEVNET_CHAIN_ID}); this is chain ${conn.chainId}, where ETH and AGORA must come from someone who holds them`,
      { hint: 'ask a holder to send you some (`agora token transfer`), or use a faucet of that network' },
    );
  }
  assertDevnetChain(conn.chainId, 'the devnet faucet');
  const eth = amounts.eth ?? DEFAULT_FUND_ETH;
  const agora = amounts.agora ?? DEFAULT_FUND_AGORA;
  const faucet = devnetAccount(FAUCET_ACCOUNT_INDEX);
  const wallet = walletClientFor(conn, faucet);
  const address = getAddress(to);
  let ethTx: Hex | null = null;
  if (eth > 0n) {
    ethTx = await wallet.sendTransaction({ to: address, value: eth });
    await conn.publicClient.waitForTransactionReceipt({ hash: ethTx });
  }
  let agoraTx: Hex | null = null;
  if (agora > 0n) {
    const tokenAddress = deployment?.contracts.AgoraToken;
    if (!tokenAddress) {
      throw new AgoraError(
        'NOT_DEPLOYED',
        `no AgoraToken is recorded for chain ${conn.chainId}; sent only ETH`,
        {
          hint: 'run `agora chain deploy` first (with the same --home)',
        },
      );
    }
    agoraTx = (await tokenClient(conn, tokenAddress).transfer(wallet, address, agora)).transactionHash;
  }
  return { address, from: faucet.address, eth, agora, ethTx, agoraTx };
}
