/**
 * Deploys the Agora protocol contracts and returns their addresses. On the devnet, AGORA is minted to
 * every devnet account and to the treasury; on other chains, the whole supply goes to the deployer.
 */
import { type Account, type Address, parseEther } from 'viem';
import { AgoraToken } from '../../artifacts/index.ts';
import { type ChainConnection, walletClientFor } from './connect.ts';
import { deployContract } from './deploy-contract.ts';
import type { Deployment } from './deployments.ts';
import { DEVNET_ACCOUNT_COUNT, DEVNET_CHAIN_ID, devnetAccount } from './devnet.ts';

export type DeployOptions = {
  /** Receives progress lines ("deploying AgoraToken…"). */
  onProgress?: (message: string) => void;
  /** AGORA minted to each devnet account (devnet only). Default 1,000,000. */
  devnetMintPerAccount?: bigint;
  /** Total supply minted to the deployer on non-devnet chains. Default 1,000,000,000. */
  supply?: bigint;
};

export async function deployProtocol(
  conn: ChainConnection,
  deployer: Account,
  opts: DeployOptions = {},
): Promise<Deployment> {
  const progress = opts.onProgress ?? (() => {});
  const wallet = walletClientFor(conn, deployer);
  const recipients: Address[] = [];
  const amounts: bigint[] = [];
  if (conn.chainId === DEVNET_CHAIN_ID) {
    const per = opts.devnetMintPerAccount ?? parseEther('1000000');
    for (let i = 0; i < DEVNET_ACCOUNT_COUNT; i++) {
      recipients.push(devnetAccount(i).address);
      amounts.push(per);
    }
  } else {
    recipients.push(deployer.address);
    amounts.push(opts.supply ?? parseEther('1000000000'));
  }
  progress('deploying AgoraToken…');
  const token = await deployContract(conn.publicClient, wallet, AgoraToken, [recipients, amounts]);
  const blockNumber = Number(await conn.publicClient.getBlockNumber());
  return {
    chainId: conn.chainId,
    deployer: deployer.address,
    deployedAt: new Date().toISOString(),
    blockNumber,
    contracts: { AgoraToken: token },
  };
}
