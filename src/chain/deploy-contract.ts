import type { Abi, Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import { AgoraError } from '../errors.ts';
import { decodeRevert } from './revert.ts';

export type Artifact = { contractName: string; abi: Abi | readonly unknown[]; bytecode: Hex };

/** Deploys one artifact and waits for its receipt; returns the contract address. */
export async function deployContract(
  publicClient: PublicClient,
  wallet: WalletClient<Transport, Chain, Account>,
  artifact: Artifact,
  args: readonly unknown[] = [],
): Promise<Address> {
  let hash: Hex;
  try {
    hash = await wallet.deployContract({
      abi: artifact.abi as Abi,
      bytecode: artifact.bytecode,
      args: args as unknown[],
    } as Parameters<typeof wallet.deployContract>[0]);
  } catch (e) {
    const revert = decodeRevert(e, artifact.abi);
    if (revert) {
      throw new AgoraError(
        'DEPLOY_REVERTED',
        `deploying ${artifact.contractName} reverted: ${revert.errorName}(${revert.args.map(String).join(', ')})`,
        { cause: e },
      );
    }
    throw e;
  }
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new AgoraError('DEPLOY_FAILED', `deploying ${artifact.contractName} failed (tx ${hash})`);
  }
  return receipt.contractAddress;
}
