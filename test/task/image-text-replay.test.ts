/**
 * The validator's proof-based round checks on the image-folder (CNN) and text (byte LM) task
 * kinds: two `ProviderNode`s register their shards (labelled image records; 65-byte text windows),
 * train one round over real libp2p and serve their traces; a validator host decodes the served
 * records with the task and replays every window bit-exactly (distance 0: the CNN and transformer
 * steps are deterministic under replay), and a record that is not the registered one fails.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import { imageFolderSpec } from '../../src/task/image-spec.ts';
import { type JobSpec, modelSpecHash } from '../../src/task/spec.ts';
import type { DataSource } from '../../src/task/task.ts';
import { prepOfInfo } from '../../src/task/task.ts';
import { textSpec } from '../../src/task/text-spec.ts';
import { readCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { asReplayable, type ReplayableRuntime } from '../../src/verify/replay.ts';
import { traceFromJson, traceWindow } from '../../src/verify/trace-wire.ts';
import { tempHome } from '../helpers/cli.ts';

const H = 10;
const ROUNDS = 2;
const DIGITS = join(import.meta.dirname, '../../examples/images/digits');
const TEXT = join(import.meta.dirname, '../../examples/text/brown-news.txt');

/** Two image-folder shards of the example digits (different classes), copied under `home`. */
function imageShards(home: string): DataSource[] {
  return [
    ['0', '1', '2'],
    ['2', '7', '9'],
  ].map((classes, i) => {
    const dir = join(home, `images-${i}`);
    for (const c of classes) {
      mkdirSync(join(dir, c), { recursive: true });
      for (const f of readdirSync(join(DIGITS, c))
        .sort()
        .slice(i * 20, i * 20 + 20))
        cpSync(join(DIGITS, c, f), join(dir, c, f));
    }
    return { path: dir, format: 'images' };
  });
}

/** Two text shards: consecutive parts of the example text, whole 65-byte windows each. */
function textShards(home: string): DataSource[] {
  const text = readFileSync(TEXT);
  return [0, 1].map((i) => {
    const path = join(home, `text-${i}.txt`);
    writeFileSync(path, text.subarray(i * 65 * 300, (i + 1) * 65 * 300));
    return { path, format: 'text' };
  });
}

const CASES: { name: string; spec: JobSpec; shards: (home: string) => DataSource[] }[] = [
  {
    name: 'an image-folder CNN job',
    spec: imageFolderSpec({ path: DIGITS, innerSteps: H, rounds: ROUNDS }),
    shards: imageShards,
  },
  {
    name: 'a byte-LM text job',
    spec: textSpec({ dModel: 32, layers: 1, innerSteps: H, rounds: ROUNDS }),
    shards: textShards,
  },
];

describe.each(CASES)('validator round checks on $name', ({ spec, shards }) => {
  let chain: EmbeddedChain;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  let providers: ProviderNode[] = [];
  let validator: AgoraHost;
  let runtime: ReplayableRuntime;
  let results: ProviderRound[];
  let jobId: bigint;
  let contracts: ReturnType<typeof contractsOf>;

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    const deployment = await deployProtocol(conn, devnetAccount(0));
    contracts = contractsOf(deployment);
    const home = tempHome();
    const logger = createLogger({ name: 'test', level: 'warn', file: join(home, 'test.log') });
    const sources = shards(home);
    const shard = (i: number) => sources[i];
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

  it('both providers compute the same model in round 0', () => {
    expect(results[0].modelHash).toBe(results[1].modelHash);
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

  it('records that are not under the registered dataset root are not replayed', async () => {
    const c = await check(0, { root: `0x${'ab'.repeat(32)}` });
    expect(c.replays.some((r) => r.status === 'pass')).toBe(false);
    expect(JSON.stringify(c)).toMatch(/not in the registered dataset/);
  });
});
