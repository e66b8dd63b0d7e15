import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraToken } from '../../artifacts/index.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';

describe('AgoraToken on the embedded chain', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  const [alice, bob, carol] = [devnetAccount(0), devnetAccount(1), devnetAccount(2)];

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
  });
  afterAll(async () => chain?.stop());

  it('deploys, transfers, delegates and counts votes', async () => {
    const wallet = walletClientFor(conn, alice);
    const token = await deployContract(conn.publicClient, wallet, AgoraToken, [
      [alice.address, bob.address],
      [parseEther('1000'), parseEther('500')],
    ]);
    const read = (functionName: string, args: unknown[]) =>
      conn.publicClient.readContract({
        address: token,
        abi: AgoraToken.abi,
        functionName,
        args,
      } as never) as Promise<bigint>;
    expect(await read('totalSupply', [])).toBe(parseEther('1500'));

    const tx = await wallet.writeContract({
      address: token,
      abi: AgoraToken.abi,
      functionName: 'transfer',
      args: [carol.address, parseEther('100')],
    });
    await conn.publicClient.waitForTransactionReceipt({ hash: tx });
    expect(await read('balanceOf', [carol.address])).toBe(parseEther('100'));
    expect(await read('balanceOf', [alice.address])).toBe(parseEther('900'));

    // Votes count only after delegation.
    expect(await read('getVotes', [alice.address])).toBe(0n);
    const d1 = await wallet.writeContract({
      address: token,
      abi: AgoraToken.abi,
      functionName: 'delegate',
      args: [alice.address],
    });
    await conn.publicClient.waitForTransactionReceipt({ hash: d1 });
    const d2 = await walletClientFor(conn, carol).writeContract({
      address: token,
      abi: AgoraToken.abi,
      functionName: 'delegate',
      args: [alice.address],
    });
    await conn.publicClient.waitForTransactionReceipt({ hash: d2 });
    expect(await read('getVotes', [alice.address])).toBe(parseEther('1000'));
    expect(await read('getVotes', [bob.address])).toBe(0n);

    await expect(
      wallet.writeContract({
        address: token,
        abi: AgoraToken.abi,
        functionName: 'transfer',
        args: [bob.address, parseEther('1000000')],
      }),
    ).rejects.toThrow(/ERC20InsufficientBalance/);
  });

  it('refuses a constructor with mismatched arrays', async () => {
    await expect(
      deployContract(conn.publicClient, walletClientFor(conn, alice), AgoraToken, [[alice.address], []]),
    ).rejects.toThrow(/LengthMismatch/);
  });
});
