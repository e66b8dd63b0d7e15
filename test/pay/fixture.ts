/** Shared setup for payment-channel tests: embedded chain, AGORA token, a PaymentChannels instance. */
import { type Address, erc20Abi, getAddress, type Hex, type LocalAccount, parseEther } from 'viem';
import { AgoraToken } from '../../artifacts/index.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { type ChallengeBounds, deployPaymentChannels } from '../../src/pay/deploy-channels.ts';

export type PayFixture = {
  chain: EmbeddedChain;
  conn: ChainConnection;
  accounts: LocalAccount[];
  token: Address;
  channels: Address;
  stop(): Promise<void>;
};

export const TEST_BOUNDS: ChallengeBounds = { min: 60, max: 7 * 86_400, default: 3_600 };

export async function startPayFixture(nAccounts = 6): Promise<PayFixture> {
  const chain = await startEmbeddedChain();
  const conn = await connectChain({ provider: chain.provider });
  const accounts = Array.from({ length: nAccounts }, (_, i) => devnetAccount(i));
  const token = getAddress(await deployToken(conn, accounts));
  const channels = getAddress(await deployPaymentChannels(conn, accounts[0], { bounds: TEST_BOUNDS }));
  return { chain, conn, accounts, token, channels, stop: () => chain.stop() };
}

/** Deploys an AGORA token with 1,000,000 to each of `accounts`. */
export async function deployToken(conn: ChainConnection, accounts: LocalAccount[]): Promise<Address> {
  return deployContract(conn.publicClient, walletClientFor(conn, accounts[0]), AgoraToken, [
    accounts.map((a) => a.address),
    accounts.map(() => parseEther('1000000')),
  ]);
}

export async function balanceOf(conn: ChainConnection, token: Address, who: Address): Promise<bigint> {
  return conn.publicClient.readContract({
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [who],
  });
}

/** Advances the chain clock by `seconds` and mines a block. */
export async function increaseTime(chain: EmbeddedChain, seconds: number): Promise<void> {
  await chain.provider.request({ method: 'evm_increaseTime', params: [seconds] });
  await chain.provider.request({ method: 'evm_mine', params: [] });
}

export async function latestTimestamp(conn: ChainConnection): Promise<number> {
  return Number((await conn.publicClient.getBlock()).timestamp);
}

export async function snapshot(chain: EmbeddedChain): Promise<Hex> {
  return (await chain.provider.request({ method: 'evm_snapshot', params: [] })) as Hex;
}

export async function revert(chain: EmbeddedChain, id: Hex): Promise<void> {
  await chain.provider.request({ method: 'evm_revert', params: [id] });
}
