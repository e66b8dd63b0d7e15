/**
 * The validator's proof-based round checks against real providers: a real embedded chain (datasets,
 * offers, a job), two `ProviderNode`s training one round over real libp2p (ONNX runtime), one of
 * them sending sign-flipped pseudo-gradients (`byzantine`), and a validator host on 127.0.0.1 that
 * fetches trace states, Δs and window samples over `/agora/round/1` and runs `checkWorkerRound`.
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { createTaskRuntime } from '../../src/node/task-runtime.ts';
import { pruneRoundFiles } from '../../src/node/trace-files.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { modelSpecHash } from '../../src/task/spec.ts';
import { asReplayable, type ReplayableRuntime } from '../../src/verify/replay.ts';
import { traceFromJson, traceWindow } from '../../src/verify/trace-wire.ts';
import { tempHome } from '../helpers/cli.ts';

const H = 10;
const ROUNDS = 2;

describe('validator round checks (link + replay) against real providers', () => {
  let chain: EmbeddedChain;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  let providers: ProviderNode[] = [];
  let validator: AgoraHost;
  let runtime: ReplayableRuntime;
  let results: ProviderRound[];
  let jobId: bigint;
  let contracts: ReturnType<typeof contractsOf>;
  const spec = mnistMlpPreset({ innerSteps: H, rounds: ROUNDS });

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    const deployment = await deployProtocol(conn, devnetAccount(0));
    contracts = contractsOf(deployment);
    const home = tempHome();
    const logger = createLogger({ name: 'test', level: 'warn', file: join(home, 'test.log') });
    const plan = planMnistShards(2, 5);
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
          byzantine: i === 1,
        }),
    );
    const market = computeMarketClient(conn, contracts.market);
    const datasetIds: bigint[] = [];
    for (const [i, p] of providers.entries()) {
      await p.start();
      datasetIds.push(
        await p.registerData(writeShardIdx(plan.pool, plan.shards[i], join(home, `shard-${i}`))),
      );
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
    const delta = new Float32Array(d.payload!.slice().buffer);
    const id = Object.keys(r.provenance.samplePairs)[0];
    const ds = await dataRegistryClient(conn, contracts.registry).getDataset(BigInt(id));
    return checkWorkerRound({
      host: validator,
      jobId,
      round: 0,
      spec,
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

  it('persists the signed trace with the round, before the record is sent', () => {
    for (const [i, p] of providers.entries()) {
      const row = p.store.getRound(jobId, 0)!;
      expect(row.data.trace).toEqual(results[i].trace);
      expect(row.data.traceSignature).toBe(results[i].traceSignature);
      expect(results[i].trace.window).toBe(2);
      expect(results[i].trace.checkpoints).toHaveLength(6);
    }
  });

  it('an honest provider passes the samples, link and every window replay (distance 0)', async () => {
    const c = await check(0);
    expect(c.samples.status).toBe('pass');
    expect(c.link).toMatchObject({ status: 'pass', mismatched: 0 });
    expect(c.replays.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
    for (const r of c.replays) {
      expect(r.paramDistance).toBe(0);
      expect(r.momentDistance).toBe(0);
    }
    expect(c.evidence).toBeUndefined();
    const ms = c.replays.map((r) => r.replayMs!.toFixed(1)).join(', ');
    console.log(
      `honest check: ${c.bytesFetched} bytes fetched (6 states + 5 windows), replay ms per window ${ms}`,
    );
  });

  it('a sign-flipping provider fails the link check with provable evidence', async () => {
    const c = await check(1);
    expect(c.samples.status).toBe('pass');
    expect(c.link.status).toBe('fail');
    expect(c.link.cosine).toBeCloseTo(-1, 5);
    expect(c.evidence).toMatchObject({
      kind: 'commitment-mismatch',
      worker: getAddress(providers[1].address),
    });
    expect((c.evidence!.details as { check: string }).check).toBe('link');
    expect(c.evidence!.hashes.pseudoGradient).toBe(results[1].record.pseudoGradientHash);
  });

  it('records that are not in the registered dataset make a replay unverifiable, not a report', async () => {
    const otherRoot = (await dataRegistryClient(conn, contracts.registry).getDataset(2n)).root;
    const c = await check(0, { root: otherRoot });
    expect(c.link.status).toBe('pass');
    expect(c.replays[0]).toMatchObject({ status: 'unverifiable' });
    expect(c.replays[0].reason).toMatch(/not in the registered dataset/);
    expect(c.replays.slice(1).every((r) => r.status === 'skipped')).toBe(true);
    expect(c.evidence).toBeUndefined();
  });

  it('a retried all-reduce keeps the round trace', async () => {
    const members = providers.map((p) => p.peerId);
    const again = await Promise.all(providers.map((p) => p.retryRound(0, 1, members)));
    for (const [i, r] of again.entries()) {
      expect(r.trace).toEqual(results[i].trace);
      expect(r.traceSignature).toBe(results[i].traceSignature);
    }
  });
});

describe('round files retention', () => {
  it('prunes .trace and .delta files of rounds before the kept ones, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agora-prune-'));
    for (let r = 0; r < 12; r++) {
      for (const ext of ['trace', 'delta', 'safetensors']) writeFileSync(join(dir, `round-${r}.${ext}`), 'x');
    }
    expect(pruneRoundFiles(dir, 12 - 8)).toBe(8);
    const left = readdirSync(dir);
    expect(left.filter((f) => f.endsWith('.safetensors'))).toHaveLength(12);
    expect(left.filter((f) => f.endsWith('.trace')).sort()).toEqual(
      [4, 5, 6, 7, 8, 9, 10, 11].map((r) => `round-${r}.trace`).sort(),
    );
  });
});
