import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComputeMarket } from '../../artifacts/index.ts';
import { type ChainConnection, connectChain } from '../../src/chain/connect.ts';
import { DEVNET_VALIDATOR_INDEX, deployProtocol } from '../../src/chain/deploy.ts';
import { type Deployment, PROTOCOL_CONTRACTS } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { isSectorAllowed, isValidator, readProtocolParams } from '../../src/chain/protocol-params.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { readTx } from '../../src/chain/tx.ts';

describe('deployProtocol with devnet defaults (what `agora chain deploy` does)', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  let d: Deployment;
  const progress: string[] = [];
  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    d = await deployProtocol(conn, devnetAccount(0), { onProgress: (m) => progress.push(m) });
  });
  afterAll(async () => chain?.stop());

  it('records every protocol contract (PaymentChannels comes from the payments module)', async () => {
    for (const name of PROTOCOL_CONTRACTS) {
      const address = d.contracts[name];
      expect(address, name).toMatch(/^0x[0-9a-fA-F]{40}$/);
      expect((await conn.publicClient.getCode({ address: address! }))?.length ?? 0, name).toBeGreaterThan(2);
    }
    expect(progress.some((m) => m.includes('AgoraGovernor'))).toBe(true);
  });

  it('configures devnet parameters, the default validator and sectors; binds the ledger', async () => {
    const params = d.contracts.ProtocolParams!;
    const p = await readProtocolParams(conn, params);
    expect(p).toMatchObject({
      governance: d.contracts.TimelockController,
      treasury: d.contracts.TimelockController,
      minStake: parseEther('100'),
    });
    expect(await isValidator(conn, params, devnetAccount(DEVNET_VALIDATOR_INDEX).address)).toBe(true);
    expect(await isValidator(conn, params, devnetAccount(0).address)).toBe(false);
    for (const s of ['vision', 'text', 'general']) expect(await isSectorAllowed(conn, params, s)).toBe(true);
    expect(await isSectorAllowed(conn, params, 'audio')).toBe(false);
    const ledger = await readTx(conn, {
      label: 'ledger',
      address: d.contracts.ComputeMarket!,
      abi: ComputeMarket.abi,
      functionName: 'ledger',
    });
    expect(ledger).toBe(d.contracts.TrainingLedger);
  });

  it('mints to every devnet account and the treasury; votes are delegated', async () => {
    const token = tokenClient(conn, d.contracts.AgoraToken!);
    expect(await token.totalSupply()).toBe(parseEther('30000000'));
    expect(await token.balanceOf(d.contracts.TimelockController!)).toBe(parseEther('10000000'));
    expect(await token.getVotes(devnetAccount(7).address)).toBe(parseEther('1000000'));
  });
});
