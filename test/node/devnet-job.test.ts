/**
 * A whole job on a real embedded chain with real libp2p hosts and real ONNX training: 4 providers
 * with label-skewed MNIST shards, a validator and a requester (src/node/devnet-job.ts, what
 * `agora devnet` runs). Checks the model against a centralized one, the money, and provenance.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keccak256 } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type connectChain, walletClientFor } from '../../src/chain/connect.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import type { EmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { parseProvenanceManifest, verifyProvenance } from '../../src/data/provenance.ts';
import { readChainFacts } from '../../src/data/provenance-chain.ts';
import { recordBytes } from '../../src/data/records.ts';
import type { DevnetJobResult } from '../../src/node/devnet-job.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { ProviderNode } from '../../src/node/provider.ts';
import { loadShard } from '../../src/node/shard-data.ts';
import { NodeStore } from '../../src/node/store.ts';
import { createTaskRuntime, initTaskParams } from '../../src/node/task-runtime.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { readCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { checkpointHash } from '../../src/train/checkpoint/hash.ts';
import { decodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { devnetJobOnFreshChain } from '../helpers/devnet-job.ts';

describe('devnet job (4 providers, validator, requester)', () => {
  let chain: EmbeddedChain;
  let deployment: Deployment;
  let home: string;
  let res: DevnetJobResult;
  let conn: Awaited<ReturnType<typeof connectChain>>;

  beforeAll(async () => {
    ({ chain, conn, deployment, home, res } = await devnetJobOnFreshChain({ rounds: 40, H: 25 }));
  }, 480_000);
  afterAll(async () => chain?.stop());

  it('completes every round and the model reaches ≥ 90% of the centralized accuracy', async () => {
    const ledger = trainingLedgerClient(conn, contractsOf(deployment).ledger);
    const l = await ledger.getJobLedger(BigInt(res.jobId));
    expect(l.roundsCommitted).toBe(40);
    expect(l.closed).toBe(true);
    expect(res.centralizedAccuracy).toBeGreaterThan(0.9);
    expect(res.testAccuracy! / res.centralizedAccuracy!).toBeGreaterThanOrEqual(0.9);
    expect(res.ratio).toBeCloseTo(res.testAccuracy! / res.centralizedAccuracy!, 12);
    // int8 DiLoCo at H=25 sends ~97× fewer bytes than a DDP ring all-reduce of fp32 gradients
    expect(res.ddpBytesPerWorker / res.bytesPerWorker).toBeGreaterThan(80);
  });

  it('rewards add up to the escrow (payment minus the fee), everyone claimed, nobody twice', async () => {
    const c = contractsOf(deployment);
    const ledger = trainingLedgerClient(conn, c.ledger);
    const jobId = BigInt(res.jobId);
    const l = await ledger.getJobLedger(jobId);
    const total = res.rewards.reduce((s, r) => s + BigInt(r.amount), 0n);
    expect(total).toBe(l.funded);
    expect(l.funded).toBe(BigInt(res.funded));
    expect(l.funded).toBe(10n ** 18n * 40n * 4n); // price 1 AGORA × 40 rounds × 4 workers
    expect(l.claimed).toBe(l.funded);
    expect(res.rewards.every((r) => r.claimed)).toBe(true);
    expect(new Set(res.rewards.map((r) => r.role))).toEqual(new Set(['provider', 'data', 'validator']));
    expect(await tokenClient(conn, c.token).balanceOf(c.ledger)).toBe(0n);
    // a second claim by the same account is refused
    const first = res.rewards[0];
    await expect(
      ledger.claim(walletClientFor(conn, devnetAccount(1)), jobId, first.address, BigInt(first.amount), []),
    ).rejects.toThrow();
  });

  it('the saved model is the final model on chain, and its provenance manifest verifies', async () => {
    const bytes = new Uint8Array(readFileSync(res.modelPath));
    expect(checkpointHash(bytes)).toBe(res.modelHash);
    const c = contractsOf(deployment);
    const ledger = trainingLedgerClient(conn, c.ledger);
    expect(await ledger.finalModelHash(BigInt(res.jobId))).toBe(res.modelHash);
    const m = parseProvenanceManifest(readFileSync(res.provenanceManifest, 'utf8'));
    const facts = await readChainFacts(
      conn,
      { TrainingLedger: c.ledger, ComputeMarket: c.market, DataRegistry: c.registry },
      BigInt(res.jobId),
    );
    expect(verifyProvenance(m, facts, checkpointHash(bytes))).toEqual([]);
  });

  it('the head stays the task’s fixed head (θ0) until the last round, which writes the LDA head; the validator checked it', async () => {
    const spec = mnistMlpPreset({ innerSteps: 25, rounds: 40 });
    expect(['fixed-head', 'etf-head']).toContain(spec.drift);
    expect(spec.calibration).toBe('lda-head');
    const final = decodeTrainingCheckpoint(readCheckpointFile(res.modelPath).bytes).params;
    const store = new NodeStore(join(home, 'nodes', 'provider-1', 'node.db'));
    const beforeLast = store.getCheckpoint(res.jobId, 38);
    const validator = new NodeStore(join(home, 'nodes', 'validator', 'node.db'));
    const lastChecks = validator.getRound(res.jobId, 39)?.data.checks as {
      worker: string;
      lda?: { status: string };
    }[];
    store.close();
    validator.close();
    const before = decodeTrainingCheckpoint(readCheckpointFile(beforeLast!.path).bytes).params;
    const rt = createTaskRuntime(spec, { totalSteps: 1 });
    try {
      const init = initTaskParams(spec, rt);
      const [hidden, classes] = (spec.model as { sizes: readonly number[] } & typeof spec.model).sizes.slice(
        -2,
      );
      const head = hidden * classes + classes;
      expect(final.length).toBe(init.length);
      expect(Array.from(before.subarray(-head))).toEqual(Array.from(init.subarray(-head)));
      let changed = 0;
      for (let i = init.length - head; i < init.length; i++) if (final[i] !== init[i]) changed++;
      expect(changed).toBe(head);
      let moved = 0;
      for (let i = 0; i < init.length - head; i++) if (final[i] !== init[i]) moved++;
      expect(moved).toBeGreaterThan((init.length - head) / 2);
    } finally {
      await rt.dispose();
    }
    // every provider's LDA statistics were recomputed from its samples and matched
    expect(lastChecks.map((c) => c.lda?.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('a provider reopened on its store resumes after its last persisted round, with the same model', async () => {
    const p = new ProviderNode({
      name: 'provider-1',
      dir: join(home, 'nodes', 'provider-1'),
      home,
      account: devnetAccount(1),
      conn,
      contracts: contractsOf(deployment),
      logger: createLogger({ name: 'test', level: 'warn', file: join(home, 'resume.log') }),
    });
    await p.start();
    try {
      await p.openJob({
        jobId: BigInt(res.jobId),
        spec: mnistMlpPreset({ innerSteps: 25, rounds: 40 }),
        H: 25,
        rounds: 40,
        participants: [devnetAccount(1).address],
      });
      expect(p.resumeRound).toBe(40);
      const ck = p.store.latestCheckpoint(res.jobId);
      expect(ck?.round).toBe(39);
      expect(ck?.hash).toBe(res.modelHash);
      expect(p.store.listSignatures(res.jobId, 39, 'round-commit')).toHaveLength(1);
    } finally {
      await p.stop();
    }
  });

  it('registered record hashes are the training loader’s recordBytes hashes', () => {
    const dir = join(home, 'nodes', 'provider-2', 'data');
    const path = `${join(dir, 'images-idx3-ubyte')},${join(dir, 'labels-idx1-ubyte')}`;
    const ds = loadShard(path);
    for (const i of [0, 17, ds.size - 1]) {
      expect(keccak256(recordBytes(path, i))).toBe(keccak256(ds.recordBytes(i)));
    }
  });
});
