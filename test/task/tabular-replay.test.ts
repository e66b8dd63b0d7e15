/**
 * The validator's proof-based round checks on a tabular job: two `ProviderNode`s with CSV shards
 * (numeric + categorical columns, missing values) compute the swarm's standardization statistics,
 * train one round over real libp2p and serve their traces; a validator host decodes the served CSV
 * records with the statistics of the committed checkpoint and replays every window bit-exactly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, getAddress, type Hex, keccak256, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
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
import { modelSpecHash } from '../../src/task/spec.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { prepOfInfo } from '../../src/task/task.ts';
import { readCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { asReplayable, type ReplayableRuntime } from '../../src/verify/replay.ts';
import { traceFromJson, traceWindow } from '../../src/verify/trace-wire.ts';
import { tempHome } from '../helpers/cli.ts';

const H = 10;
const ROUNDS = 2;
const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');

describe('validator round checks on a tabular job', () => {
  let chain: EmbeddedChain;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  let providers: ProviderNode[] = [];
  let validator: AgoraHost;
  let runtime: ReplayableRuntime;
  let results: ProviderRound[];
  let jobId: bigint;
  let contracts: ReturnType<typeof contractsOf>;
  const spec = tabularSpecFromFile({ path: CSV, label: 'triage', innerSteps: H, rounds: ROUNDS });

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    const deployment = await deployProtocol(conn, devnetAccount(0));
    contracts = contractsOf(deployment);
    const home = tempHome();
    const logger = createLogger({ name: 'test', level: 'warn', file: join(home, 'test.log') });
    // two shards of the example file: the first and the second half of its rows, same header
    const lines = readFileSync(CSV, 'utf8').trim().split('\n');
    const half = Math.floor((lines.length - 1) / 2);
    const shard = (i: number) => {
      const path = join(home, `shard-${i}.csv`);
      writeFileSync(path, `${[lines[0], ...lines.slice(1 + i * half, 1 + (i + 1) * half)].join('\n')}\n`);
      return { path, format: 'csv' as const, label: 'triage' };
    };
    providers = [0, 1].map(
      (i) =>
        new ProviderNode({
          name: `p${i + 1}`,
          dir: join(home, 'nodes', `p${i + 1}`),
          home,
          account: devnetAccount(1 + i),
          conn,
          contracts,
          logger,
        }),
    );
    const market = computeMarketClient(conn, contracts.market);
    const datasetIds: bigint[] = [];
    for (const [i, p] of providers.entries()) {
      await p.start();
      datasetIds.push(await p.registerData(shard(i)));
      await p.registerOffer(parseEther('1'), parseEther('100'));
    }
    const requester = walletClientFor(conn, devnetAccount(10));
    const { escrow, fee } = await market.quote(parseEther('1'), ROUNDS, 2);
    await tokenClient(conn, contracts.token).ensureAllowance(requester, market.address, escrow + fee);
    const now = (await conn.publicClient.getBlock()).timestamp;
    ({ jobId } = await market.createJob(requester, {
      modelSpecHash: modelSpecHash(spec),
      datasetIds,
      workers: 2,
      innerSteps: H,
      rounds: ROUNDS,
      pricePerRound: parseEther('1'),
      joinDeadline: now + 600n,
      completionDeadline: now + 7200n,
      challengePeriod: 10n,
    }));
    for (const p of providers) await p.joinJob(jobId);
    const vAccount = devnetAccount(19);
    const participants = [...(await market.participants(jobId)), vAccount.address] as Address[];
    for (const [i, p] of providers.entries()) {
      await p.openJob({
        jobId,
        spec,
        H,
        rounds: ROUNDS,
        participants,
        bootstrap: i === 0 ? [] : [providers[0].multiaddr],
      });
      await serveRoundProtocol(p.jobHost, providerRoundDataHandlers(p));
    }
    await providers[0].dial(providers[1].multiaddr);
    await Promise.all(providers.map((p) => p.waitForPeers(1)));
    const members = providers.map((p) => p.peerId);
    results = await Promise.all(providers.map((p) => p.runRound(0, members)));
    validator = new AgoraHost({
      account: vAccount,
      chainId: conn.chainId,
      jobId: jobId.toString(),
      participants,
      logger,
    });
    await validator.start();
    for (const p of providers) await validator.dial(p.multiaddr);
    runtime = asReplayable(createTaskRuntime(spec, { totalSteps: H * ROUNDS, threads: 1, stepsPerCall: 5 }));
  }, 180_000);

  afterAll(async () => {
    await runtime?.dispose();
    await validator?.stop();
    for (const p of providers) await p.stop().catch(() => {});
    await chain?.stop();
  });

  /** The validator's view of worker i: Δ fetched and hash-checked, dataset from the chain. */
  const check = async (i: number, override: { root?: Hex } = {}): Promise<WorkerRoundCheck> => {
    const r = results[i];
    const peer = validator
      .authorizedPeers()
      .find((p) => getAddress(p.address) === getAddress(providers[i].address));
    const d = await roundRequest(validator, peer!.peerId, { t: 'delta', jobId: jobId.toString(), round: 0 });
    expect(d.ok && keccak256(d.payload!)).toBe(r.record.pseudoGradientHash);
    const delta = new Float32Array(new Uint8Array(d.payload!).buffer);
    const id = Object.keys(r.provenance.samplePairs)[0];
    const ds = await dataRegistryClient(conn, contracts.registry).getDataset(BigInt(id));
    return checkWorkerRound({
      host: validator,
      jobId,
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
      runtime,
      attempts: 1,
    });
  };

  it('both providers hold the same swarm statistics, in their round-0 checkpoints', () => {
    const preps = results.map((r) =>
      prepOfInfo(decodeTrainingCheckpoint(readCheckpointFile(r.checkpointPath).bytes).info),
    );
    expect(preps[0]).toBeDefined();
    expect(preps[1]).toEqual(preps[0]);
    expect(results[0].modelHash).toBe(results[1].modelHash);
    const { mean, std } = preps[0] as { mean: number[]; std: number[] };
    expect(mean).toHaveLength(5);
    expect(mean[0]).toBeGreaterThan(30); // age
    expect(std.every((x) => x > 0)).toBe(true);
  });

  it('honest providers pass the samples, link and every window replay (distance 0)', async () => {
    for (const i of [0, 1]) {
      const c = await check(i);
      expect(c.samples.status).toBe('pass');
      expect(c.link).toMatchObject({ status: 'pass', mismatched: 0 });
      expect(c.replays.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
      for (const r of c.replays) {
        expect(r.paramDistance).toBe(0);
        expect(r.momentDistance).toBe(0);
      }
      expect(c.evidence).toBeUndefined();
    }
  });
});
