/**
 * One whole Agora job on a devnet, every role in this process as its own `Startable` node (own
 * wallet, store, status API; providers also their own libp2p host and ONNX runtime): providers
 * register their label-skewed MNIST shards and stake offers, the requester creates the job, the
 * providers join and train DiLoCo rounds (all-reduce over real libp2p between their hosts), the
 * validator checks every round's signed records, each round is committed in one transaction with
 * the providers' co-signatures, the job closes, the reward root is co-signed and posted, and every
 * party claims. The model is written as safetensors beside its provenance manifest.
 * Round protocol and what is persisted when: docs/swarm.md.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, getAddress, type Hex, parseEther } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import type { Deployment } from '../chain/deployments.ts';
import { devnetAccount } from '../chain/devnet.ts';
import { type RoundRecord, roundRecordsTree } from '../chain/round-record.ts';
import { tokenClient } from '../chain/token.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { ProvenanceManifest, ProvenanceRecord } from '../data/provenance.ts';
import { writeProvenanceManifest } from '../data/store.ts';
import { type SamplePair, samplesFromJson } from '../data/usage.ts';
import { AgoraError } from '../errors.ts';
import { datasetUsesFromRounds, splitRewards } from '../market/rewards.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { ddpBytesPerStep } from '../train/diloco/bytes.ts';
import { runDdp } from '../train/diloco/ddp.ts';
import { createRuntime } from '../train/onnx/index.ts';
import {
  executeFraudSlashWhenDue,
  submitFraudReport,
  verifyRoundRecordSignature,
} from '../verify/evidence.ts';
import { providerContributions, type RoundValidation, validateRound } from '../verify/round-validator.ts';
import { jobModelPath } from './job-files.ts';
import type { Logger } from './logger.ts';
import { type Contracts, claimReward, ProviderNode, type ProviderRound } from './provider.ts';
import { RoleNode } from './role-node.ts';
import { batchesOf, planMnistShards, writeShardIdx } from './shard-data.ts';
import { type Startable, startAll, stopAll } from './startable.ts';
import { innerOptimizerFor, modelSpecHash, taskSpec } from './task.ts';

export type SwarmJobOptions = {
  conn: ChainConnection;
  deployment: Deployment;
  home: string;
  logger: Logger;
  providers?: number;
  rounds?: number;
  H?: number;
  classesPerProvider?: number;
  pricePerRound?: bigint;
  /** The last N providers are Byzantine (send the sign-flipped pseudo-gradient). */
  byzantine?: number;
  /** Evaluate the global model every this many rounds (and after the last). */
  evalEvery?: number;
  onProgress?: (message: string) => void;
};

export type RewardRow = { address: Address; role: string; amount: string; claimed: boolean };

export type SwarmJobResult = {
  jobId: string;
  rounds: number;
  H: number;
  providers: number;
  testAccuracy: number;
  centralizedAccuracy: number;
  bytesPerWorker: number;
  ddpBytesPerWorker: number;
  rewards: RewardRow[];
  funded: string;
  rewardTotal: string;
  slashed: string[];
  modelPath: string;
  modelHash: Hex;
  provenanceManifest: string;
  history: { round: number; trainLoss: number; testAccuracy?: number; bytesPerWorker: number }[];
  seconds: number;
};

const PROVIDER_ACCOUNT0 = 1;
/** Consecutive flagged rounds before the validator files a fraud report. */
const FLAG_STREAK = 3;
const REQUESTER_ACCOUNT = 10;
const VALIDATOR_ACCOUNT = 19;

export function contractsOf(d: Deployment): Contracts {
  const get = (name: string): Address => {
    const a = d.contracts[name];
    if (!a)
      throw new AgoraError('DEPLOYMENT_INCOMPLETE', `the deployment has no ${name}`, {
        hint: 'redeploy with `agora chain deploy`',
      });
    return a;
  };
  return {
    token: get('AgoraToken'),
    market: get('ComputeMarket'),
    ledger: get('TrainingLedger'),
    registry: get('DataRegistry'),
  };
}

export async function runSwarmJob(o: SwarmJobOptions): Promise<SwarmJobResult> {
  const t0 = performance.now();
  const K = o.providers ?? 4;
  const R = o.rounds ?? 60;
  const H = o.H ?? 10;
  const progress = o.onProgress ?? (() => {});
  if (K < 2 || K > 8) throw new AgoraError('BAD_OPTION', `--providers must be 2..8, not ${K}`);
  const { conn, home } = o;
  const contracts = contractsOf(o.deployment);
  const spec = taskSpec('mnist-mlp');
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const registry = dataRegistryClient(conn, contracts.registry);
  const nodesDir = join(home, 'nodes');

  // ---- nodes
  const plan = planMnistShards(K, o.classesPerProvider ?? 3);
  const providers = Array.from(
    { length: K },
    (_, i) =>
      new ProviderNode({
        name: `provider-${i + 1}`,
        dir: join(nodesDir, `provider-${i + 1}`),
        home,
        account: devnetAccount(PROVIDER_ACCOUNT0 + i),
        conn,
        contracts,
        logger: o.logger.child({ node: `provider-${i + 1}` }),
        byzantine: i >= K - (o.byzantine ?? 0),
      }),
  );
  const requester = new RoleNode({
    name: 'requester',
    role: 'requester',
    dir: join(nodesDir, 'requester'),
    account: devnetAccount(REQUESTER_ACCOUNT),
    conn,
  });
  const validator = new RoleNode({
    name: 'validator',
    role: 'validator',
    dir: join(nodesDir, 'validator'),
    account: devnetAccount(VALIDATOR_ACCOUNT),
    conn,
  });
  const nodes: Startable[] = [...providers, requester, validator];
  await startAll(nodes);
  try {
    // ---- providers: data on the DataRegistry, offers on the ComputeMarket
    const price = o.pricePerRound ?? parseEther('1');
    const stake = parseEther('100');
    const datasetIds: bigint[] = [];
    for (const [i, p] of providers.entries()) {
      const path = writeShardIdx(plan.pool, plan.shards[i], join(nodesDir, p.name, 'data'));
      const id = await p.registerData(path);
      await p.registerOffer(price, stake);
      datasetIds.push(id);
      const classes = [...new Set(Array.from(plan.shards[i], (k) => plan.pool.labels[k]))].sort();
      progress(
        `${p.name} ${p.address}: dataset ${id} (${plan.shards[i].length} records, digits ${classes.join(',')}), offer staked`,
      );
    }

    // ---- requester: the job
    const { escrow, fee } = await market.quote(price, R, K);
    await tokenClient(conn, contracts.token).ensureAllowance(requester.signer, market.address, escrow + fee);
    const now = (await conn.publicClient.getBlock()).timestamp;
    const { jobId } = await market.createJob(requester.signer, {
      modelSpecHash: modelSpecHash(spec),
      datasetIds,
      workers: K,
      innerSteps: H,
      rounds: R,
      pricePerRound: price,
      joinDeadline: now + 600n,
      completionDeadline: now + 7200n,
      challengePeriod: 10n,
    });
    requester.store.upsertJob(jobId, 'requester', 'open', { escrow: escrow.toString(), fee: fee.toString() });
    requester.state = { jobId: jobId.toString() };
    progress(
      `requester created job ${jobId}: mnist-mlp, K=${K}, H=${H}, ${R} rounds, escrow ${escrow} + fee ${fee} wei`,
    );

    // ---- providers see the job (task + their dataset) and join
    for (const p of providers) {
      const job = await market.getJob(jobId);
      const ds = await market.datasetsOf(jobId);
      if (
        job.modelSpecHash !== modelSpecHash(spec) ||
        !ds.includes(BigInt(p.store.getJson<string>('datasetId') ?? 0))
      ) {
        throw new AgoraError('NODE_JOB_MISMATCH', `${p.name} does not match job ${jobId}`);
      }
      await p.joinJob(jobId);
    }
    const job = await market.getJob(jobId);
    if (job.state !== 'Running')
      throw new AgoraError('NODE_JOB_NOT_RUNNING', `job ${jobId} is ${job.state} after ${K} joins`);
    const participants = await market.participants(jobId);

    // ---- libp2p: each provider's host, authenticated as a job participant; full mesh
    for (const [i, p] of providers.entries()) {
      await p.openJob({
        jobId,
        spec,
        H,
        rounds: R,
        participants,
        bootstrap: i === 0 ? [] : [providers[0].multiaddr],
      });
    }
    for (let i = 0; i < K; i++)
      for (let j = i + 1; j < K; j++) await providers[i].dial(providers[j].multiaddr);
    await Promise.all(providers.map((p) => p.waitForPeers(K - 1)));
    // providers still in the job's rounds: a provider the validator flags is left out from the next round
    let active = [...providers];
    progress(`${K} providers connected over libp2p (${providers[0].multiaddr.split('/p2p/')[0]} …)`);

    // ---- rounds
    const evalRt = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
    const testBatches = batchesOf(plan.pool, plan.test);
    const manifestRounds: ProvenanceManifest['rounds'] = [];
    const history: SwarmJobResult['history'] = [];
    const evalEvery = o.evalEvery ?? Math.max(1, Math.round(R / 10));
    let lastModelHash: Hex = '0x';
    let lastCheckpoint = '';
    let testAccuracy = 0;
    // the validator's own runtime and held-out batches (scoring by loss reduction)
    const valRt = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
    const heldOut = testBatches.slice(0, 1);
    const validations: RoundValidation[] = [];
    const flagged = new Set<string>();
    const streak = new Map<string, number>();
    const reports: { reportId: bigint; worker: Address }[] = [];
    let previous: { worker: Address; delta: Float32Array }[] | undefined;
    for (let round = 0; round < R; round++) {
      const members = active.map((p) => p.peerId);
      const results: ProviderRound[] = await Promise.all(active.map((p) => p.runRound(round, members)));
      const records: RoundRecord[] = results.map((r) => r.record);
      // validator: every record signed by its worker, then the contribution checks and scores on the
      // pseudo-gradients (handed over in-process here; src/verify/round-validator.ts)
      for (const r of results) {
        if (!(await verifyRoundRecordSignature(market, r.record, r.recordSignature))) {
          throw new AgoraError(
            'NODE_BAD_RECORD',
            `round ${round}: ${r.record.worker}'s record signature is invalid`,
          );
        }
      }
      const current = results.map((r) => ({
        worker: r.record.worker,
        delta: r.delta,
        pseudoGradientHash: r.record.pseudoGradientHash,
      }));
      const v = await validateRound({
        jobId,
        round: BigInt(round),
        current,
        previous,
        theta: results[0].thetaBefore,
        runtime: valRt,
        heldOut,
      });
      previous = current;
      validations.push(v);
      // Under label skew an honest worker's Δ can disagree with the consensus in some rounds, so a
      // worker is reported only when flagged in FLAG_STREAK consecutive rounds (a sign-flipper is
      // flagged every round).
      const now = new Set(v.evidence.map((e) => e.worker.toLowerCase()));
      for (const r of results) {
        const k = r.record.worker.toLowerCase();
        streak.set(k, now.has(k) ? (streak.get(k) ?? 0) + 1 : 0);
      }
      for (const ev of v.evidence) {
        if (flagged.has(ev.worker.toLowerCase())) continue;
        if ((streak.get(ev.worker.toLowerCase()) ?? 0) < FLAG_STREAK) continue;
        flagged.add(ev.worker.toLowerCase());
        const rep = await submitFraudReport(market, validator.signer, ev);
        validator.store.saveRound(jobId, round, 'fraud', {
          worker: ev.worker,
          reportId: rep.reportId.toString(),
          kind: ev.kind,
        });
        reports.push({ reportId: rep.reportId, worker: ev.worker });
        progress(
          `validator: ${ev.worker} flagged in round ${round + 1} (${ev.kind}); fraud report ${rep.reportId} filed`,
        );
      }
      validator.store.saveRound(jobId, round, 'checked', {
        records: records.length,
        flagged: v.evidence.length,
      });
      const modelHash = results[0].modelHash;
      if (results.some((r) => r.modelHash !== modelHash)) {
        throw new AgoraError('NODE_DIVERGED', `round ${round}: providers computed different models`);
      }
      const recordsRoot = roundRecordsTree(records).root;
      const sigs = await Promise.all(active.map((p) => p.signCommit(round, recordsRoot, modelHash, records)));
      await ledger.commitRound(requester.signer, jobId, BigInt(round), recordsRoot, modelHash, sigs);
      requester.store.saveRound(jobId, round, 'committed', { recordsRoot, modelHash });
      requester.state = { jobId: jobId.toString(), roundsCommitted: round + 1 };
      manifestRounds.push({ round, modelHash, records: results.map((r) => r.provenance) });
      lastModelHash = modelHash;
      lastCheckpoint = results[0].checkpointPath;
      const bytesPerWorker = providers.reduce((s, p) => s + p.bytesSent, 0) / K;
      const trainLoss = results.reduce((s, r) => s + r.trainLoss, 0) / results.length;
      const point: SwarmJobResult['history'][number] = { round, trainLoss, bytesPerWorker };
      if ((round + 1) % evalEvery === 0 || round === R - 1) {
        // a Uint8Array copy: decoding a Node Buffer directly reads wrong bytes (Buffer.slice is a view)
        evalRt.setParams(
          decodeTrainingCheckpoint(readCheckpointFile(results[0].checkpointPath).bytes).params,
        );
        const ev = await evalRt.evaluate(testBatches);
        testAccuracy = ev.accuracy ?? 0;
        point.testAccuracy = testAccuracy;
      }
      history.push(point);
      progress(
        `round ${round + 1}/${R}: train loss ${trainLoss.toFixed(3)}` +
          (point.testAccuracy !== undefined ? `, test acc ${(100 * point.testAccuracy).toFixed(1)}%` : '') +
          `, ${(bytesPerWorker / 1e6).toFixed(2)} MB sent/worker, committed (${sigs.length}/${K} sigs)`,
      );
      active = active.filter((p) => !flagged.has(p.address.toLowerCase()));
    }
    await evalRt.dispose();
    await valRt.dispose();
    for (const p of providers) await p.closeJobNetwork();

    // ---- close, reward split, claims
    await ledger.closeJob(requester.signer, jobId);
    const l = await ledger.getJobLedger(jobId);
    const contributorOf = new Map<bigint, Address>();
    for (const id of datasetIds) contributorOf.set(id, (await registry.getDataset(id)).contributor);
    const computeSplit = () =>
      splitRewards({
        funded: l.funded,
        // compute is paid per round trained and not flagged; reported workers get nothing. (The
        // loss-reduction weights of src/verify/scoring.ts give ~0 to most honest providers under label
        // skew — one shard's Δ alone rarely lowers the loss on all digits — so they are not used yet.)
        providers: providerContributions(validations, flagged).map((c) => ({
          account: c.account,
          score: validations.filter((v) =>
            v.verdicts.some((x) => x.worker.toLowerCase() === c.account.toLowerCase() && !x.byzantine),
          ).length,
          byzantine: flagged.has(c.account.toLowerCase()),
        })),
        datasets: datasetUsesFromRounds(
          manifestRounds.flatMap((r) =>
            r.records.filter((rec) => !flagged.has(rec.worker.toLowerCase())).map((rec) => pairsOf(rec)),
          ),
          (id) => contributorOf.get(id) ?? '0x0000000000000000000000000000000000000000',
        ),
        validators: [{ account: validator.address, checks: R }],
      });
    const split = computeSplit();
    if (!split.tree || !split.root) throw new AgoraError('REWARD_EMPTY', 'the reward split is empty');
    const rsigs = await Promise.all(
      active.map((p) => p.signRewardRoot(jobId, split.tree!, computeSplit().tree!)),
    );
    await ledger.postRewardRoot(requester.signer, jobId, split.root, split.total, rsigs);
    progress(
      `job ${jobId} closed: ${l.roundsCommitted} rounds committed, ${l.funded} wei funded; reward root ${split.root} posted`,
    );
    // fraud reports: slashed once the challenge period is over (devnet: advance the chain's clock)
    const slashed: string[] = [];
    for (const r of reports) {
      const rep = await market.getReport(r.reportId);
      const now = (await conn.publicClient.getBlock()).timestamp;
      if (now <= rep.deadline) await advanceDevnetTime(conn, Number(rep.deadline - now) + 1);
      const t = (await conn.publicClient.getBlock()).timestamp;
      const x = await executeFraudSlashWhenDue(market, requester.signer, r.reportId, t);
      if (x.status === 'slashed') {
        slashed.push(getAddress(r.worker));
        progress(`${r.worker} slashed (fraud report ${r.reportId})`);
      }
    }
    const claimed = new Map<string, boolean>();
    const signerOf = new Map<string, { store: ProviderNode['store']; signer: ProviderNode['signer'] }>();
    for (const p of providers) signerOf.set(p.address.toLowerCase(), p);
    signerOf.set(validator.address.toLowerCase(), validator);
    signerOf.set(requester.address.toLowerCase(), requester);
    for (const e of split.entries) {
      const who = signerOf.get(e.account.toLowerCase());
      if (!who) continue;
      const r = await claimReward({
        store: who.store,
        conn,
        ledger: contracts.ledger,
        signer: who.signer,
        jobId,
        tree: split.tree,
      });
      claimed.set(e.account.toLowerCase(), r.claimed);
    }
    const rewards: RewardRow[] = split.lines.map((x) => ({
      address: getAddress(x.account),
      role: x.role,
      amount: x.amount.toString(),
      claimed: claimed.get(x.account.toLowerCase()) ?? false,
    }));

    // ---- the model: the final checkpoint (its keccak256 is the final model hash on chain) + provenance
    const outDir = join(home, 'jobs', jobId.toString());
    mkdirSync(outDir, { recursive: true });
    const modelPath = jobModelPath(home, jobId);
    copyFileSync(lastCheckpoint, modelPath);
    const manifest: ProvenanceManifest = {
      version: 1,
      kind: 'agora-provenance',
      chainId: conn.chainId,
      trainingLedger: contracts.ledger,
      jobId: jobId.toString(),
      modelHash: lastModelHash,
      datasets: await Promise.all(
        datasetIds.map(async (id) => {
          const d = await registry.getDataset(id);
          return { datasetId: id.toString(), root: d.root, licence: d.licence };
        }),
      ),
      rounds: manifestRounds,
    };
    const provenanceManifest = writeProvenanceManifest(modelPath, manifest);

    // ---- centralized baseline: one model on the pooled shards, same samples and steps (= DDP)
    progress('training the centralized baseline on the pooled data (same steps and samples)…');
    const central = createRuntime({
      model: spec.model,
      optimizer: innerOptimizerFor(spec, R * H),
      threads: 1,
      stepsPerCall: 5,
    });
    const c = await runDdp(
      central,
      { dataset: plan.pool, shards: plan.shards, evalBatches: testBatches },
      {
        workers: K,
        steps: R * H,
        batchSize: spec.batchSize,
        seed: spec.seed,
        evalEverySteps: R * H,
      },
    );
    await central.dispose();
    const paramCount = c.params.length;
    return {
      jobId: jobId.toString(),
      rounds: l.roundsCommitted,
      H,
      providers: K,
      testAccuracy,
      centralizedAccuracy: c.evalAccuracy ?? 0,
      bytesPerWorker: providers.reduce((s, p) => s + p.bytesSent, 0) / K,
      ddpBytesPerWorker: ddpBytesPerStep(paramCount, K) * R * H,
      rewards,
      funded: l.funded.toString(),
      rewardTotal: split.total.toString(),
      slashed,
      modelPath,
      modelHash: lastModelHash,
      provenanceManifest,
      history,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await stopAll(nodes);
  }
}

/** Devnet only: moves the chain's clock forward (Hardhat/EDR `evm_increaseTime` + `evm_mine`). */
async function advanceDevnetTime(conn: ChainConnection, seconds: number): Promise<void> {
  const req = conn.publicClient.request as (a: { method: string; params?: unknown[] }) => Promise<unknown>;
  await req({ method: 'evm_increaseTime', params: [seconds] });
  await req({ method: 'evm_mine', params: [] });
}

function pairsOf(rec: ProvenanceRecord): SamplePair[] {
  return samplesFromJson(rec.samplePairs);
}
