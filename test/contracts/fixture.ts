/** Shared setup for protocol-contract tests: one embedded chain, the full protocol deployed, clients. */
import { type Address, type Hex, keccak256, type LocalAccount, parseEther, toHex } from 'viem';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { deployProtocol, type ProtocolConfig } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import type { Signer } from '../../src/chain/tx.ts';
import { governanceClient } from '../../src/gov/governance.ts';

export type Fixture = {
  chain: EmbeddedChain;
  conn: ChainConnection;
  deployment: Deployment;
  accounts: LocalAccount[];
  signers: Signer[];
  /** The approved validator (account 19). */
  validator: LocalAccount;
  token: ReturnType<typeof tokenClient>;
  registry: ReturnType<typeof dataRegistryClient>;
  market: ReturnType<typeof computeMarketClient>;
  ledger: ReturnType<typeof trainingLedgerClient>;
  gov: ReturnType<typeof governanceClient>;
  addr: (name: string) => Address;
  snapshot(): Promise<Hex>;
  revert(id: Hex): Promise<void>;
  increaseTime(seconds: number | bigint): Promise<void>;
  now(): Promise<bigint>;
  stop(): Promise<void>;
};

export const VALIDATOR_INDEX = 19;

export async function startFixture(config: Partial<ProtocolConfig> = {}): Promise<Fixture> {
  const chain = await startEmbeddedChain();
  const conn = await connectChain({ provider: chain.provider });
  const accounts = Array.from({ length: 20 }, (_, i) => devnetAccount(i));
  const validator = accounts[VALIDATOR_INDEX];
  const deployment = await deployProtocol(conn, accounts[0], {
    config: { validators: [validator.address], ...config },
  });
  const addr = (name: string) => {
    const a = deployment.contracts[name];
    if (!a) throw new Error(`no ${name} in deployment`);
    return a;
  };
  const req = (method: string, params: unknown[] = []) => chain.provider.request({ method, params });
  return {
    chain,
    conn,
    deployment,
    accounts,
    signers: accounts.map((a) => walletClientFor(conn, a)),
    validator,
    token: tokenClient(conn, addr('AgoraToken')),
    registry: dataRegistryClient(conn, addr('DataRegistry')),
    market: computeMarketClient(conn, addr('ComputeMarket')),
    ledger: trainingLedgerClient(conn, addr('TrainingLedger')),
    gov: governanceClient(conn, addr('AgoraGovernor')),
    addr,
    snapshot: async () => (await req('evm_snapshot')) as Hex,
    revert: async (id) => {
      await req('evm_revert', [id]);
    },
    async increaseTime(seconds) {
      await req('evm_increaseTime', [Number(seconds)]);
      await req('evm_mine');
    },
    now: async () => (await conn.publicClient.getBlock()).timestamp,
    stop: () => chain.stop(),
  };
}

/** A deterministic 32-byte value from a label. */
export const h = (label: string): Hex => keccak256(toHex(label));

export const STAKE = parseEther('100');

/** Expects `p` to reject with an AgoraError whose message names `errorName`. */
export async function expectRevert(p: Promise<unknown>, errorName: string): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected a revert with ${errorName}, but the call succeeded`);
  const msg = (err as Error).message;
  if (!msg.includes(errorName)) throw new Error(`expected revert ${errorName}, got: ${msg}`);
}

export const REQUESTER = 10;

export type JobSetup = {
  workers?: number;
  rounds?: number;
  price?: bigint;
  providers?: number[];
  join?: boolean;
  challengePeriod?: bigint;
  datasetIds?: bigint[];
};

/** Registers providers (if needed), creates a job by account REQUESTER and (optionally) fills it. */
export async function setupJob(
  f: Fixture,
  opts: JobSetup = {},
): Promise<{ jobId: bigint; providers: number[] }> {
  const workers = opts.workers ?? 3;
  const providers = opts.providers ?? Array.from({ length: workers }, (_, i) => i + 1);
  const price = opts.price ?? parseEther('1');
  for (const p of providers) {
    const info = await f.market.getProvider(f.accounts[p].address);
    if (!info.active) {
      await f.token.ensureAllowance(f.signers[p], f.market.address, parseEther('1000000'));
      await f.market.registerProvider(f.signers[p], h(`hw${p}`), price, STAKE * 3n);
    }
  }
  await f.token.ensureAllowance(f.signers[REQUESTER], f.market.address, parseEther('1000000'));
  const now = await f.now();
  const { jobId } = await f.market.createJob(f.signers[REQUESTER], {
    modelSpecHash: h('model'),
    datasetIds: opts.datasetIds ?? [],
    workers,
    innerSteps: 50,
    rounds: opts.rounds ?? 3,
    pricePerRound: price,
    joinDeadline: now + 3600n,
    completionDeadline: now + 7200n,
    challengePeriod: opts.challengePeriod ?? 100n,
  });
  if (opts.join ?? true)
    for (const p of providers.slice(0, workers)) await f.market.joinJob(f.signers[p], jobId);
  return { jobId, providers };
}
