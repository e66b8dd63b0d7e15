/**
 * `agora chain start --state FILE`: the embedded chain journals every change and replays it on
 * start, so a restarted devnet keeps its contracts, balances, nonces, blocks and timestamps.
 */
import { join } from 'node:path';
import { parseEther } from 'viem';
import { describe, expect, it } from 'vitest';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { tempHome } from '../helpers/cli.ts';

describe('the embedded chain with a state file', () => {
  it('reloads the deployed protocol, balances, nonces and blocks after a restart', async () => {
    const file = join(tempHome(), 'chain.jsonl');
    const first = await startEmbeddedChain({ stateFile: file });
    expect(first.replayed).toBe(0);
    let conn = await connectChain({ provider: first.provider });
    const d = await deployProtocol(conn, devnetAccount(0));
    let token = tokenClient(conn, d.contracts.AgoraToken!);
    await first.provider.request({ method: 'evm_increaseTime', params: [3600] });
    await token.transfer(walletClientFor(conn, devnetAccount(3)), devnetAccount(4).address, parseEther('5'));
    const head = await conn.publicClient.getBlock();
    const balance = await token.balanceOf(devnetAccount(4).address);
    const votes = await token.getVotes(devnetAccount(7).address);
    await first.stop();

    const second = await startEmbeddedChain({ stateFile: file });
    try {
      expect(second.replayed).toBeGreaterThan(20);
      conn = await connectChain({ provider: second.provider });
      token = tokenClient(conn, d.contracts.AgoraToken!);
      const again = await conn.publicClient.getBlock();
      expect(again.number).toBe(head.number);
      expect(again.timestamp).toBe(head.timestamp);
      expect(await token.balanceOf(devnetAccount(4).address)).toBe(balance);
      expect(await token.getVotes(devnetAccount(7).address)).toBe(votes);
      // the chain goes on: the next transaction takes the next nonce, and is journaled too
      await token.transfer(walletClientFor(conn, devnetAccount(3)), devnetAccount(4).address, 1n);
      expect(await token.balanceOf(devnetAccount(4).address)).toBe(balance + 1n);
    } finally {
      await second.stop();
    }
    const third = await startEmbeddedChain({ stateFile: file });
    try {
      conn = await connectChain({ provider: third.provider });
      expect(await tokenClient(conn, d.contracts.AgoraToken!).balanceOf(devnetAccount(4).address)).toBe(
        balance + 1n,
      );
    } finally {
      await third.stop();
    }
  }, 120_000);
});
