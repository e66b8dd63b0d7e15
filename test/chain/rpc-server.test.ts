import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgoraToken } from '../../artifacts/index.ts';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployContract } from '../../src/chain/deploy-contract.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { decodeRevert } from '../../src/chain/revert.ts';

describe('embedded chain over HTTP JSON-RPC', () => {
  let chain: EmbeddedChain;
  const post = async (body: string) =>
    (
      await fetch(chain.url!, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).json();

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0 });
  });
  afterAll(async () => chain?.stop());

  it('binds to 127.0.0.1 and answers single and batch requests', async () => {
    expect(chain.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const batch = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
        { jsonrpc: '2.0', id: 2, method: 'eth_blockNumber', params: [] },
      ]),
    );
    expect(batch).toEqual([
      { jsonrpc: '2.0', id: 1, result: '0x7a69' },
      { jsonrpc: '2.0', id: 2, result: '0x0' },
    ]);
  });

  it('returns JSON-RPC errors for malformed requests instead of failing', async () => {
    expect(await post('{oops')).toMatchObject({ error: { code: -32700 } });
    expect(await post('{"jsonrpc":"2.0","id":3}')).toMatchObject({ id: 3, error: { code: -32600 } });
    expect(await post('{"jsonrpc":"2.0","id":4,"method":"eth_nope","params":[]}')).toMatchObject({
      id: 4,
      error: { code: -32004 },
    });
  });

  it('forwards revert data so clients decode custom errors over HTTP', async () => {
    const conn = await connectChain({ rpcUrl: chain.url });
    const alice = devnetAccount(0);
    const wallet = walletClientFor(conn, alice);
    const token = await deployContract(conn.publicClient, wallet, AgoraToken, [
      [alice.address],
      [parseEther('1')],
    ]);
    const err = await wallet
      .writeContract({
        address: token,
        abi: AgoraToken.abi,
        functionName: 'transfer',
        args: [devnetAccount(1).address, parseEther('2')],
      })
      .catch((e: unknown) => e);
    expect(decodeRevert(err, AgoraToken.abi)?.errorName).toBe('ERC20InsufficientBalance');
  });
});
