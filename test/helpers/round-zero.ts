/**
 * The fixture of the validator round-check tests: a real embedded chain (datasets, offers, a job),
 * two `ProviderNode`s that train round 0 over real libp2p and serve their round data, and a
 * validator host dialled to both, with a replay runtime. What differs between tests: the job spec,
 * each provider's shard, and which providers are byzantine.
 */
import { join } from 'node:path';
import { type Address, getAddress, type Hex, keccak256, parseEther } from 'viem';
import { expect } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { AgoraHost } from '../../src/net/host.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { ProviderNode, type ProviderRound } from '../../src/node/provider.ts';
import { providerRoundDataHandlers } from '../../src/node/provider-serving.ts';
import { checkWorkerRound, type WorkerRoundCheck } from '../../src/node/round-checks.ts';
import { roundRequest, serveRoundProtocol } from '../../src/node/round-protocol.ts';
import { createTaskRuntime } from '../../src/node/task-runtime.ts';
import { type JobSpec, modelSpecHash } from '../../src/task/spec.ts';
import { type DataSource, prepOfInfo } from '../../src/task/task.ts';
import { readCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { asReplayable, type ReplayableRuntime } from '../../src/verify/replay.ts';
import { traceFromJson, traceWindow } from '../../src/verify/trace-wire.ts';
import { tempHome } from './cli.ts';

export type RoundZeroOptions = {
  spec: JobSpec;
  /** Inner steps per round (the job's H) and the job's rounds. */
  H: number;
  rounds: number;
  /** The two providers' shards (idx paths or data sources), written under `home`. */
  shards: (home: string) => (string | DataSource)[];
  /** Which providers send sign-flipped pseudo-gradients (default: none). */
  byzantine?: (i: number) => boolean;
};

export type RoundZero = {
  chain: EmbeddedChain;
  conn: ChainConnection;
  contracts: ReturnType<typeof contractsOf>;
  providers: ProviderNode[];
  validator: AgoraHost;
  runtime: ReplayableRuntime;
  /** Each provider's round 0. */
  results: ProviderRound[];
  jobId: bigint;
  /** The validator's view of worker i: Δ fetched and hash-checked, dataset from the chain. */
  check(i: number, override?: { root?: Hex }): Promise<WorkerRoundCheck>;
  stop(): Promise<void>;
};

/** Starts the chain, the job and both providers, runs round 0 and connects the validator. */
export async function startRoundZero(o: RoundZeroOptions): Promise<RoundZero> {
  const { spec, H, rounds } = o;
  const f = { providers: [] as ProviderNode[] } as RoundZero;
  f.stop = async () => {
    await f.runtime?.dispose();
    await f.validator?.stop();
    for (const p of f.providers) await p.stop().catch(() => {});
    await f.chain?.stop();
  };
  f.check = async (i, override = {}) => {
    const r = f.results[i];
    const peer = f.validator
      .authorizedPeers()
      .find((p) => getAddress(p.address) === getAddress(f.providers[i].address));
    const d = await roundRequest(f.validator, peer!.peerId, {
      t: 'delta',
      jobId: f.jobId.toString(),
      round: 0,
    });
    expect(d.ok && keccak256(d.payload!)).toBe(r.record.pseudoGradientHash);
    const delta = new Float32Array(new Uint8Array(d.payload!).buffer);
    const id = Object.keys(r.provenance.samplePairs)[0];
    const ds = await dataRegistryClient(f.conn, f.contracts.registry).getDataset(BigInt(id));
    return checkWorkerRound({
      host: f.validator,
      jobId: f.jobId,
      round: 0,
      spec,
      prep: prepOfInfo(decodeTrainingCheckpoint(readCheckpointFile(r.checkpointPath).bytes).info),
      trace: traceFromJson(r.trace),
      traceSignature: r.traceSignature,
      provenance: r.provenance,
      delta,
      thetaStart: r.thetaBefore,
      startModelHash: `0x${'0'.repeat(64)}`,
      dataset: { id: BigInt(id), root: override.root ?? ds.root, records: Number(ds.records) },
      windows: Array.from({ length: H / traceWindow(H) }, (_, k) => k),
      runtime: f.runtime,
      attempts: 1,
    });
  };
  try {
    f.chain = await startEmbeddedChain();
    f.conn = await connectChain({ provider: f.chain.provider });
    const conn = f.conn;
    const contracts = contractsOf(await deployProtocol(conn, devnetAccount(0)));
    f.contracts = contracts;
    const home = tempHome();
    const logger = createLogger({ name: 'test', level: 'warn', file: join(home, 'test.log') });
    const shards = o.shards(home);
    const providers = [0, 1].map(
      (i) =>
        new ProviderNode({
          name: `p${i + 1}`,
          dir: join(home, 'nodes', `p${i + 1}`),
          home,
          account: devnetAccount(1 + i),
          conn,
          contracts,
          logger,
          byzantine: o.byzantine?.(i),
        }),
    );
    f.providers = providers;
    const market = computeMarketClient(conn, contracts.market);
    const datasetIds: bigint[] = [];
    for (const [i, p] of providers.entries()) {
      await p.start();
      datasetIds.push(await p.registerData(shards[i]));
      await p.registerOffer(parseEther('1'), parseEther('100'));
    }
    const requester = walletClientFor(conn, devnetAccount(10));
    const { escrow, fee } = await market.quote(parseEther('1'), rounds, 2);
    await tokenClient(conn, contracts.token).ensureAllowance(requester, market.address, escrow + fee);
    const now = (await conn.publicClient.getBlock()).timestamp;
    const { jobId } = await market.createJob(requester, {
      modelSpecHash: modelSpecHash(spec),
      datasetIds,
      workers: 2,
      innerSteps: H,
      rounds,
      pricePerRound: parseEther('1'),
      joinDeadline: now + 600n,
      completionDeadline: now + 7200n,
      challengePeriod: 10n,
    });
    f.jobId = jobId;
    for (const p of providers) await p.joinJob(jobId);
    const vAccount = devnetAccount(19);
    const participants = [...(await market.participants(jobId)), vAccount.address] as Address[];
    for (const [i, p] of providers.entries()) {
      await p.openJob({
        jobId,
        spec,
        H,
        rounds,
        participants,
        bootstrap: i === 0 ? [] : [providers[0].multiaddr],
      });
      await serveRoundProtocol(p.jobHost, providerRoundDataHandlers(p));
    }
    await providers[0].dial(providers[1].multiaddr);
    await Promise.all(providers.map((p) => p.waitForPeers(1)));
    const members = providers.map((p) => p.peerId);
    f.results = await Promise.all(providers.map((p) => p.runRound(0, members)));
    f.validator = new AgoraHost({
      account: vAccount,
      chainId: conn.chainId,
      jobId: jobId.toString(),
      participants,
      logger,
    });
    await f.validator.start();
    for (const p of providers) await f.validator.dial(p.multiaddr);
    f.runtime = asReplayable(
      createTaskRuntime(spec, { totalSteps: H * rounds, threads: 1, stepsPerCall: 5 }),
    );
    return f;
  } catch (e) {
    await f.stop().catch(() => {});
    throw e;
  }
}

/** An honest worker's check: samples and link pass (nothing mismatched), every window replays at distance 0, no evidence. */
export function expectHonestCheck(c: WorkerRoundCheck, windows = 5): void {
  expect(c.samples.status).toBe('pass');
  expect(c.link).toMatchObject({ status: 'pass', mismatched: 0 });
  expect(c.replays.map((r) => r.status)).toEqual(Array.from({ length: windows }, () => 'pass'));
  for (const r of c.replays) {
    expect(r.paramDistance).toBe(0);
    expect(r.momentDistance).toBe(0);
  }
  expect(c.evidence).toBeUndefined();
}
