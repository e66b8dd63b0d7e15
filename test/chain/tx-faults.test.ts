/**
 * The transaction layer against real nodes: the embedded chain (EDR, instant blocks) and anvil with
 * 2 s blocks. No funds, a custom-error revert and concurrent sends from one account on both; on
 * anvil, three providers join a 3-worker job in one block (the third join starts the job and costs
 * ~43% more than the others' estimates): every join succeeds.
 */
import { keccak256, parseEther, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { AgoraError } from '../../src/errors.ts';
import { startAnvil } from '../helpers/anvil.ts';

async function caught(p: Promise<unknown>): Promise<AgoraError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    return e as AgoraError;
  }
  throw new Error('expected an error');
}

type Setup = { conn: ChainConnection; d: Deployment; stop(): Promise<void> };

function faultSuite(name: string, setup: () => Promise<Setup>, more?: (get: () => Setup) => void) {
  describe(name, () => {
    let conn: ChainConnection;
    let d: Deployment;
    let stop: () => Promise<void>;
    beforeAll(async () => {
      ({ conn, d, stop } = await setup());
    }, 120_000);
    afterAll(() => stop?.());

    it('no ETH for gas: says who, on which chain, and what to run on the devnet', async () => {
      const poor = privateKeyToAccount(generatePrivateKey());
      const token = tokenClient(conn, d.contracts.AgoraToken!);
      const e = await caught(token.delegate(walletClientFor(conn, poor), poor.address));
      expect(e.code).toBe('CHAIN_NO_FUNDS');
      expect(e.message).toContain(`${poor.address} has no ETH for gas on chain 31337`);
      expect(e.message).not.toMatch(/missing or invalid parameters/i);
      expect(e.hint).toContain('agora wallet fund');
    });

    it('a custom-error revert is named with its arguments', async () => {
      const token = tokenClient(conn, d.contracts.AgoraToken!);
      const e = await caught(
        token.transfer(
          walletClientFor(conn, devnetAccount(7)),
          devnetAccount(8).address,
          parseEther('1000000000'),
        ),
      );
      expect(e.code).toBe('CONTRACT_REVERT');
      expect(e.message).toMatch(/AgoraToken\.transfer reverted: ERC20InsufficientBalance\(0x/);
    });

    it('concurrent sends from one account get distinct nonces and all land', async () => {
      const token = tokenClient(conn, d.contracts.AgoraToken!);
      const from = walletClientFor(conn, devnetAccount(6));
      const to = privateKeyToAccount(generatePrivateKey()).address;
      const receipts = await Promise.all(Array.from({ length: 6 }, () => token.transfer(from, to, 5n)));
      expect(receipts.every((r) => r.status === 'success')).toBe(true);
      expect(await token.balanceOf(to)).toBe(30n);
    }, 60_000);

    more?.(() => ({ conn, d, stop }));
  });
}

faultSuite('on the embedded chain', async () => {
  const chain = await startEmbeddedChain();
  const conn = await connectChain({ provider: chain.provider });
  const d = await deployProtocol(conn, devnetAccount(0), { devnetDelegate: false });
  return { conn, d, stop: () => chain.stop() };
});

faultSuite(
  'on anvil with 2 s blocks',
  async () => {
    // deploy with instant mining (fast), then mine every 2 s like a real chain
    const node = await startAnvil({ accounts: 20 });
    const conn = await connectChain({ rpcUrl: node.url });
    const d = await deployProtocol(conn, devnetAccount(0), { devnetDelegate: false });
    await conn.publicClient.request({ method: 'evm_setIntervalMining', params: [2] } as never);
    return { conn, d, stop: () => node.stop() };
  },
  (get) => {
    it('the joins that fill a job in one block all land, including the one that starts it', async () => {
      const { conn, d } = get();
      const token = tokenClient(conn, d.contracts.AgoraToken!);
      const market = computeMarketClient(conn, d.contracts.ComputeMarket!);
      const providers = [1, 2, 3].map((i) => walletClientFor(conn, devnetAccount(i)));
      const requester = walletClientFor(conn, devnetAccount(10));
      const price = parseEther('1');
      await Promise.all(
        providers.map(async (p, i) => {
          await token.approve(p, market.address, parseEther('1000'));
          await market.registerProvider(p, keccak256(toHex(`hw${i}`)), price, parseEther('300'));
        }),
      );
      await token.approve(requester, market.address, parseEther('1000'));
      const now = (await conn.publicClient.getBlock()).timestamp;
      const { jobId } = await market.createJob(requester, {
        modelSpecHash: keccak256(toHex('model')),
        datasetIds: [],
        workers: 3,
        innerSteps: 50,
        rounds: 2,
        pricePerRound: price,
        joinDeadline: now + 3600n,
        completionDeadline: now + 7200n,
        challengePeriod: 100n,
      });
      // the three joins go out together: each is estimated before the others are mined
      const receipts = await Promise.all(providers.map((p) => market.joinJob(p, jobId)));
      expect(receipts.map((r) => r.status)).toEqual(['success', 'success', 'success']);
      const blocks = new Set(receipts.map((r) => r.blockNumber));
      expect(blocks.size, 'the joins should share a block for this test to mean anything').toBeLessThan(3);
      expect((await market.getJob(jobId)).state).toBe('Running');
      // no join failed and was sent again: approve, register, join = 3 transactions each
      for (const i of [1, 2, 3])
        expect(await conn.publicClient.getTransactionCount({ address: devnetAccount(i).address })).toBe(3);
      const used = receipts.map((r) => r.gasUsed).sort((a, b) => Number(a - b));
      // the starting join costs clearly more than a plain one (what the margin has to cover)
      expect(Number(used[2]) / Number(used[0])).toBeGreaterThan(1.3);
    }, 90_000);
  },
);
