/**
 * The provider role: sells compute and its own attested data. It registers its data shard on the
 * DataRegistry, stakes an offer on the ComputeMarket, joins jobs, and per DiLoCo round trains H inner
 * steps on its shard (ONNX runtime), all-reduces the pseudo-gradient over libp2p with the other
 * providers, applies the outer step, persists the checkpoint and round state, and only then signs
 * its round record and the round commit. At the end it co-signs the reward root and claims.
 *
 * Persisted before acting (NodeStore, `<home>/nodes/<name>/node.db`): the checkpoint after every
 * round (file + row) and the round row (record, samples, sampler state) before any signature leaves
 * the node; every signature it gives; every claim before it is sent. A restarted provider resumes
 * from its latest checkpoint (`resumeRound`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PrivateKey } from '@libp2p/interface';
import { type Address, getAddress, type Hex, keccak256, type LocalAccount } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { walletClientFor } from '../chain/connect.ts';
import type { RewardTree } from '../chain/merkle.ts';
import { lossToFixed, type RoundRecord } from '../chain/round-record.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { Signer } from '../chain/tx.ts';
import { prepareDataset, registerDataset } from '../data/dataset.ts';
import { buildMerkleTree, type MerkleTree, recordLeaves } from '../data/merkle.ts';
import { type ProvenanceRecord, provenanceRecord } from '../data/provenance.ts';
import type { RecordFormat } from '../data/records.ts';
import { loadDataset, loadHashes } from '../data/store.ts';
import type { SamplePair } from '../data/usage.ts';
import { AgoraError } from '../errors.ts';
import { type Aggregator, meanAggregator } from '../net/aggregate.ts';
import { AllReduce, type RoundReport } from '../net/allreduce.ts';
import { AgoraHost } from '../net/host.ts';
import { DEFAULT_BOUNDS, type ProviderBounds } from '../task/bounds.ts';
import { taskForFormat, taskOf } from '../task/registry.ts';
import type { TaskSpec } from '../task/spec.ts';
import { type DataDescription, type DataSource, type PrepState, prepOfInfo } from '../task/task.ts';
import { readCheckpointFile, writeCheckpointFile } from '../train/checkpoint/files.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../train/checkpoint/training-checkpoint.ts';
import { createCodec } from '../train/codecs/index.ts';
import type { Dataset } from '../train/data/dataset.ts';
import { mixSeed } from '../train/data/rng.ts';
import { BatchSampler, type SamplerState } from '../train/data/sampler.ts';
import { OuterOptimizer } from '../train/outer-optimizer.ts';
import { PREP_CHUNK_MAX_RECORDS } from '../verify/prep-stats.ts';
import {
  asReplayable,
  type InnerState,
  type RoundTrace,
  runTracedInnerSteps,
  windowBatches,
} from '../verify/replay.ts';
import {
  encodeWindowSamples,
  type RoundTraceJson,
  signRoundTrace,
  TRACE_RETENTION_ROUNDS,
  traceFromJson,
  traceToJson,
  traceWindow,
} from '../verify/trace-wire.ts';
import type { Logger } from './logger.ts';
import {
  allReduceId,
  type JobContext,
  LDA_STATS_PROTOCOL,
  type LdaStatement,
  PREP_STATS_PROTOCOL,
  type PrepStatement,
} from './provider-context.ts';
import {
  freeStake,
  joinJob,
  type ProviderMarket,
  registerOffer,
  releaseEndedStakes,
} from './provider-market.ts';
import { calibrateLdaHead, prepareSwarmStatistics } from './provider-statistics.ts';
import type { Startable } from './startable.ts';
import { StatusApi } from './status-api.ts';
import { NodeStore } from './store.ts';
import { createTaskRuntime, initTaskParams, taskAggregator } from './task-runtime.ts';
import {
  deltaFilePath,
  ldaStatsFilePath,
  prepStatsFilePath,
  pruneRoundFiles,
  readTraceStateBytes,
  traceFilePath,
  writeTraceStates,
} from './trace-files.ts';

export {
  allReduceId,
  LDA_STATS_PROTOCOL,
  type LdaStatement,
  MAX_ROUND_ATTEMPTS,
  PREP_STATS_PROTOCOL,
} from './provider-context.ts';

export type Contracts = { token: Address; market: Address; ledger: Address; registry: Address };

export type ProviderOptions = {
  name: string;
  /** The node's directory (`<home>/nodes/<name>`). */
  dir: string;
  /** The agora home (dataset store `<home>/data/`). */
  home: string;
  account: LocalAccount;
  conn: ChainConnection;
  contracts: Contracts;
  logger: Logger;
  /** What this provider accepts (default `DEFAULT_BOUNDS`). */
  bounds?: ProviderBounds;
  /** Fault injection: send the negated pseudo-gradient (sign flip). */
  byzantine?: boolean;
  /**
   * Fault injection: in the first attempt of this round, perturb the model after the outer step,
   * as if this provider's all-reduce had gone wrong (its model hash differs from its peers').
   */
  divergeRound?: number;
  /**
   * Fault injection: in the last round's LDA head, compute (and sign) the class statistics with
   * every label shifted by one class, as a provider poisoning the head would.
   */
  poisonLda?: boolean;
  /**
   * Fault injection: before round 0, sign swarm statistics (counts, sums, squares) scaled by 1.5,
   * as a provider skewing the job's standardization would.
   */
  lieAboutStats?: boolean;
  threads?: number;
};

/** Network settings of a job's host (defaults: 127.0.0.1, random port, fresh identity, no re-announce). */
export type JobNetOptions = {
  listen?: string[];
  privateKey?: PrivateKey;
  announceIntervalMs?: number;
};

/** What a provider produced in one round. */
export type ProviderRound = {
  round: number;
  record: RoundRecord;
  recordSignature: Hex;
  provenance: ProvenanceRecord;
  modelHash: Hex;
  checkpointPath: string;
  report: RoundReport;
  trainLoss: number;
  /** θ at the start of the round and the Δ this provider sent (what the validator checks). */
  thetaBefore: Float32Array;
  delta: Float32Array;
  /** The round's trace (window boundary hashes) and this provider's signature of its hash. */
  trace: RoundTraceJson;
  traceSignature: Hex;
  /** The last round of an `lda-head` job: the hash of its LDA statistics and its signature of them. */
  lda?: LdaStatement;
};

function recordOf(jobId: bigint, round: number, worker: string, p: ProvenanceRecord): RoundRecord {
  return {
    jobId,
    round: BigInt(round),
    worker: getAddress(worker),
    pseudoGradientHash: p.pseudoGradientHash,
    sampleRoot: p.sampleRoot,
    lossBefore: BigInt(p.lossBefore),
    lossAfter: BigInt(p.lossAfter),
    samples: BigInt(p.samples),
  };
}

export class ProviderNode implements Startable {
  readonly name: string;
  readonly role = 'provider';
  readonly #o: ProviderOptions;
  readonly store: NodeStore;
  readonly signer: Signer;
  readonly #api: StatusApi;
  #job?: JobContext;
  #tree?: MerkleTree;
  bytesSent = 0;

  constructor(o: ProviderOptions) {
    this.#o = o;
    this.name = o.name;
    mkdirSync(o.dir, { recursive: true });
    this.store = new NodeStore(join(o.dir, 'node.db'));
    this.signer = walletClientFor(o.conn, o.account);
    this.#api = new StatusApi({ status: () => this.status() });
  }

  get address(): Address {
    return this.#o.account.address;
  }
  get statusUrl(): string | undefined {
    return this.#api.url;
  }
  get peerId(): string {
    if (!this.#job) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    return this.#job.host.peerId;
  }
  get multiaddr(): string {
    if (!this.#job) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    return this.#job.host.multiaddrs()[0];
  }

  get bounds(): ProviderBounds {
    return this.#o.bounds ?? DEFAULT_BOUNDS;
  }

  /** Records that this provider does not take `jobId`, and why (shown by the status API). */
  refuse(jobId: bigint, reason: string): void {
    this.store.upsertJob(jobId, this.role, 'refused', { reason });
  }

  status(): Record<string, unknown> {
    return {
      name: this.name,
      role: this.role,
      address: this.address,
      datasetId: this.store.getJson<string>('datasetId'),
      dataSchema: this.store.getJson('dataSchema') ?? null,
      bounds: this.bounds,
      refused: this.store
        .listJobs('refused')
        .map((r) => ({ jobId: r.jobId, reason: String(r.data.reason ?? '') })),
      job: this.#job
        ? { jobId: this.#job.jobId, nextRound: this.#job.nextRound, rounds: this.#job.rounds }
        : null,
      bytesSent: this.bytesSent,
    };
  }

  async start(): Promise<void> {
    await this.#api.start();
  }

  async stop(): Promise<void> {
    await this.#stopJobNetwork();
    await this.#api.stop();
    this.store.close();
  }

  /** Stops the job's network (host, all-reduces) and runtime, if one is open; the job row is kept. */
  async #stopJobNetwork(): Promise<void> {
    const j = this.#job;
    this.#job = undefined;
    if (!j) return;
    await j.allreduce.stop();
    await j.statsAllreduce?.stop();
    await j.prepAllreduce?.stop();
    await j.host.stop();
    await j.runtime.dispose();
  }

  /**
   * A job runner that failed (an unreachable chain, a peer error): its job network is stopped and
   * the job row kept as it is, so the next runner reopens the job from the store. Without this a
   * second host with the same PeerId would run beside the first one, which keeps the peers'
   * connections and answers for a job loop that is gone.
   */
  async abandonJobNetwork(): Promise<void> {
    await this.#stopJobNetwork();
  }

  /**
   * Registers this provider's data (an `IMAGES,LABELS` IDX path, or a source with its format and
   * label column) as its dataset, once (remembered): its schema, as the task that reads it describes
   * it, goes into the dataset manifest and the node's store, where joins compare it with job specs.
   */
  async registerData(data: string | DataSource, licence = 'CC-BY-SA-3.0'): Promise<bigint> {
    const known = this.store.getJson<string>('datasetId');
    if (known) return BigInt(known);
    const source: DataSource = typeof data === 'string' ? { path: data, format: 'idx' } : data;
    const task = taskForFormat(source.format);
    const description = task.describe(source);
    const attested = task.attested?.(source, this.#o.dir) ?? {
      path: source.path,
      format: source.format as RecordFormat,
    };
    const sector =
      source.format === 'idx' || source.format === 'images'
        ? 'vision'
        : source.format === 'text'
          ? 'text'
          : 'general';
    const prepared = prepareDataset({
      path: attested.path,
      licence,
      sector,
      format: attested.format,
      ...(attested.chunkBytes ? { chunkBytes: attested.chunkBytes } : {}),
      taskSchema: description,
    });
    const r = await registerDataset({
      conn: this.#o.conn,
      registry: this.#o.contracts.registry,
      contributor: this.#o.account,
      home: this.#o.home,
      prepared,
      source: attested,
    });
    this.store.setJson('datasetId', r.datasetId.toString());
    this.store.setJson('datasetPath', source.path);
    this.store.setJson('datasetSource', source);
    this.store.setJson('dataSchema', description);
    this.store.setJson('datasetRoot', r.root);
    return r.datasetId;
  }

  /** Where this provider's registered data is (an old store has only an IDX path). */
  get dataSource(): DataSource | undefined {
    const s = this.store.getJson<DataSource>('datasetSource');
    if (s) return s;
    const path = this.store.getJson<string>('datasetPath');
    return path ? { path, format: 'idx' } : undefined;
  }

  /** The schema of this provider's registered data (described again from the source if not stored). */
  dataSchema(): DataDescription | undefined {
    const d = this.store.getJson<DataDescription>('dataSchema');
    if (d) return d;
    const s = this.dataSource;
    if (!s) return undefined;
    const described = taskForFormat(s.format).describe(s);
    this.store.setJson('dataSchema', described);
    return described;
  }

  /** The market steps' view of this provider (src/node/provider-market.ts). */
  get #market(): ProviderMarket {
    return {
      conn: this.#o.conn,
      contracts: this.#o.contracts,
      signer: this.signer,
      store: this.store,
      address: this.address,
    };
  }

  /** Stakes and registers an offer (hardware hash of this machine) unless already active. */
  registerOffer(pricePerRound: bigint, stake: bigint): Promise<void> {
    return registerOffer(this.#market, pricePerRound, stake);
  }

  /** Unlocks the stake of the jobs this provider is done with (see `releaseEndedStakes`). */
  releaseEndedStakes(): Promise<bigint[]> {
    return releaseEndedStakes(this.#market);
  }

  /** Stake this provider has free for a new job's seat. */
  freeStake(): Promise<bigint> {
    return freeStake(this.#market);
  }

  /** Joins an open job (persisted first; idempotent: see `joinJob`). */
  joinJob(jobId: bigint): Promise<void> {
    return joinJob(this.#market, jobId);
  }

  /**
   * Prepares the job's training state and libp2p host. `participants`: the job's provider
   * addresses (on chain). Resumes from the latest persisted checkpoint if there is one.
   */
  async openJob(input: {
    jobId: bigint;
    spec: TaskSpec;
    H: number;
    rounds: number;
    participants: readonly Address[];
    bootstrap?: string[];
    aggregator?: Aggregator;
    deadlineMs?: number;
    net?: JobNetOptions;
  }): Promise<void> {
    const { jobId, spec } = input;
    // one job network at a time (a leftover of a failed runner is stopped first: same PeerId)
    await this.#stopJobNetwork();
    const datasetId = BigInt(this.store.getJson<string>('datasetId') ?? '0');
    const source = this.dataSource;
    if (!datasetId || !source) throw new AgoraError('NODE_NO_DATA', `${this.name} has no registered dataset`);
    const task = taskOf(spec.kind);
    const runtime = createTaskRuntime(spec, {
      totalSteps: input.H * input.rounds,
      threads: this.#o.threads ?? 1,
      stepsPerCall: 5,
    });
    let theta = initTaskParams(spec, runtime);
    let outer = new OuterOptimizer(spec.outer);
    let nextRound = 0;
    let samplerState: SamplerState | undefined;
    let prep: PrepState | undefined;
    const ck = this.store.latestCheckpoint(jobId);
    if (ck && existsSync(ck.path)) {
      const c = decodeTrainingCheckpoint(readCheckpointFile(ck.path).bytes);
      theta = c.params;
      prep = prepOfInfo(c.info);
      if (c.outer) outer = OuterOptimizer.fromState(c.outer);
      nextRound = ck.round + 1;
      samplerState = this.store.getRound(jobId, ck.round)?.data.sampler as SamplerState | undefined;
      this.#o.logger.info(
        { node: this.name, jobId: String(jobId), round: nextRound },
        'resuming from checkpoint',
      );
    }
    const data = task.load(spec, source, prep);
    const sampler = new BatchSampler(
      Int32Array.from({ length: data.size }, (_, i) => i),
      spec.batchSize,
      mixSeed(spec.seed, Number(datasetId)),
      samplerState,
    );
    const host = new AgoraHost({
      account: this.#o.account,
      chainId: this.#o.conn.chainId,
      jobId: jobId.toString(),
      participants: input.participants,
      logger: this.#o.logger,
      announceIntervalMs: input.net?.announceIntervalMs ?? 0,
      bootstrap: input.bootstrap ?? [],
      ...(input.net?.listen ? { listen: input.net.listen } : {}),
      ...(input.net?.privateKey ? { privateKey: input.net.privateKey } : {}),
    });
    await host.start();
    const allreduce = new AllReduce({
      host,
      logger: this.#o.logger,
      codec: () => createCodec(spec.codec),
      aggregator: input.aggregator ?? taskAggregator(spec),
      deadlineMs: input.deadlineMs ?? 20_000,
    });
    await allreduce.start();
    let prepAllreduce: AllReduce | undefined;
    if (task.preparation) {
      prepAllreduce = new AllReduce({
        host,
        logger: this.#o.logger,
        codec: () => createCodec('fp32'),
        aggregator: meanAggregator,
        protocol: PREP_STATS_PROTOCOL,
        deadlineMs: input.deadlineMs ?? 20_000,
      });
      await prepAllreduce.start();
    }
    let statsAllreduce: AllReduce | undefined;
    if (spec.calibration === 'lda-head') {
      statsAllreduce = new AllReduce({
        host,
        logger: this.#o.logger,
        codec: () => createCodec('fp32'),
        aggregator: meanAggregator,
        protocol: LDA_STATS_PROTOCOL,
        deadlineMs: input.deadlineMs ?? 20_000,
      });
      await statsAllreduce.start();
    }
    this.#job = {
      jobId,
      spec,
      H: input.H,
      rounds: input.rounds,
      datasetId,
      data,
      source,
      ...(prep ? { prep } : {}),
      runtime,
      outer,
      theta,
      sampler,
      host,
      allreduce,
      ...(statsAllreduce ? { statsAllreduce } : {}),
      ...(prepAllreduce ? { prepAllreduce } : {}),
      nextRound,
    };
    this.store.upsertJob(jobId, this.role, 'training', { H: input.H, rounds: input.rounds });
  }

  get resumeRound(): number {
    return this.#job?.nextRound ?? 0;
  }

  async waitForPeers(n: number, timeoutMs = 20_000): Promise<void> {
    if (!this.#job) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    await this.#job.host.waitForPeers(n, timeoutMs);
  }

  async dial(addr: string): Promise<void> {
    if (!this.#job) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    if (!this.#job.host.isAuthorized(addr.split('/p2p/')[1] ?? '')) await this.#job.host.dial(addr);
  }

  /**
   * One DiLoCo round: H inner steps, all-reduce, outer step, checkpoint + round state persisted,
   * record signed. `attempt` > 0 only when a round is retried (see `retryRound`).
   */
  async runRound(round: number, members: readonly string[], attempt = 0): Promise<ProviderRound> {
    const j = this.#job;
    if (!j) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    if (round !== j.nextRound) {
      throw new AgoraError('NODE_ROUND_ORDER', `${this.name} is at round ${j.nextRound}, not ${round}`);
    }
    if (j.prepAllreduce && !j.prep) {
      const s = await prepareSwarmStatistics(j, {
        round,
        attempt,
        members,
        logger: this.#o.logger,
        node: this.name,
        account: this.#o.account,
        dir: join(this.#o.dir, 'jobs', j.jobId.toString()),
        lie: this.#o.lieAboutStats === true,
      });
      this.bytesSent += s.bytesSent;
      // persisted before round 0's record carries it (a restart sends the same statement)
      this.store.setJson(`prep-stats:${j.jobId}`, s.statement);
    }
    j.runtime.setParams(j.theta);
    // every sample index the inner steps take is recorded for provenance (the dataset's getBatch)
    const used: SamplePair[] = [];
    const recording: Dataset = {
      ...j.data,
      getBatch: (idx) => {
        for (let k = 0; k < idx.length; k++) used.push([j.datasetId, idx[k]]);
        return j.data.getBatch(idx);
      },
    };
    // H inner steps, the full inner state kept at every window boundary (the round's trace)
    const states: InnerState[] = [];
    const window = traceWindow(j.H);
    const t0 = performance.now();
    const traced = await runTracedInnerSteps({
      runtime: asReplayable(j.runtime),
      dataset: recording,
      sampler: j.sampler,
      innerSteps: j.H,
      window,
      onCheckpoint: (_k, s) => states.push(s),
    });
    const losses = traced.losses;
    const local = j.runtime.getParams();
    const delta = new Float32Array(local.length);
    const sign = this.#o.byzantine ? -1 : 1;
    for (let i = 0; i < delta.length; i++) delta[i] = sign * (j.theta[i] - local[i]);
    const pgHash = keccak256(new Uint8Array(delta.buffer, delta.byteOffset, delta.byteLength));
    const trace: RoundTrace = {
      jobId: j.jobId,
      round: BigInt(round),
      worker: getAddress(this.address),
      innerSteps: j.H,
      window,
      batchSize: j.sampler.batchSize,
      samplerStart: traced.samplerStart,
      checkpoints: traced.checkpoints,
    };
    const traceSignature = await signRoundTrace(this.#o.account, trace);
    const thetaBefore = j.theta.slice();
    j.start = { round, theta: thetaBefore, outer: j.outer.getState() };
    const dir = join(this.#o.dir, 'jobs', j.jobId.toString());
    mkdirSync(dir, { recursive: true });
    // the Δ this provider sent (validators check it against the signed hash, `delta`; a retried
    // all-reduce of this round reuses it) and the round's boundary states (`trace-state`), kept for
    // the last TRACE_RETENTION_ROUNDS rounds
    writeFileSync(
      deltaFilePath(dir, round),
      new Uint8Array(delta.buffer, delta.byteOffset, delta.byteLength),
    );
    writeTraceStates(traceFilePath(dir, round), states);
    pruneRoundFiles(dir, round - TRACE_RETENTION_ROUNDS + 1);
    const t1 = performance.now();
    const reduced = await this.#reduce(j, round, attempt, delta, members, trace.samplerStart);
    const t2 = performance.now();
    const provenance = provenanceRecord({
      worker: this.address,
      pseudoGradientHash: pgHash,
      lossBefore: lossToFixed(losses[0]),
      lossAfter: lossToFixed(losses[losses.length - 1]),
      samples: BigInt(used.length),
      pairs: used,
    });
    const record = recordOf(j.jobId, round, this.address, provenance);
    const trainLoss = losses.reduce((a, b) => a + b, 0) / losses.length;
    // persist BEFORE signing: checkpoint, round state (record, samples, sampler position)
    this.#saveReduced(j, round, reduced, 'trained', {
      modelHash: reduced.modelHash,
      provenance,
      sampler: j.sampler.state,
      bytesSent: reduced.report.bytesSent,
      included: reduced.report.included,
      attempt,
      trainLoss,
      trace: traceToJson(trace),
      traceSignature,
      ...(reduced.lda ? { lda: reduced.lda } : {}),
    });
    this.#o.logger.info(
      {
        node: this.name,
        round,
        trainAndTraceMs: Math.round(t1 - t0),
        allReduceMs: Math.round(t2 - t1),
        persistMs: Math.round(performance.now() - t2),
      },
      'round trained',
    );
    const market = computeMarketClient(this.#o.conn, this.#o.contracts.market);
    const recordSignature = await market.signRoundRecord(this.#o.account, record);
    this.store.transaction(() => {
      const row = this.store.getRound(j.jobId, round);
      this.store.saveRound(j.jobId, round, 'signed', { ...row?.data, recordSignature });
    });
    this.store.addSignature({
      jobId: j.jobId.toString(),
      round,
      kind: 'round-record',
      signer: this.address,
      digest: pgHash,
      signature: recordSignature,
    });
    j.nextRound = round + 1;
    return {
      round,
      record,
      recordSignature,
      provenance,
      trainLoss,
      thetaBefore,
      delta,
      trace: traceToJson(trace),
      traceSignature,
      ...reduced,
    };
  }

  /**
   * Retries the all-reduce of `round` (already trained and signed) under a new `attempt`: the same
   * Δ, from the same starting model, with a new group. Nothing is retrained and the signed record
   * stays the same, so a retry never makes two different records for one round (which would be
   * equivocation). The new model, checkpoint and round state are persisted before it returns.
   */
  async retryRound(round: number, attempt: number, members: readonly string[]): Promise<ProviderRound> {
    const j = this.#job;
    if (!j) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    const row = this.store.getRound(j.jobId, round);
    const recordSignature = row?.data.recordSignature as Hex | undefined;
    const stored = this.deltaOf(j.jobId, round);
    // the same trace as the first attempt: the round is not retrained
    const trace = row?.data.trace as RoundTraceJson | undefined;
    const traceSignature = row?.data.traceSignature as Hex | undefined;
    if (!row || !recordSignature || !stored || !trace || !traceSignature) {
      throw new AgoraError('NODE_NO_ROUND', `${this.name} has not trained and signed round ${round}`, {
        hint: 'only a round this node has signed can be retried; otherwise it rejoins at the next commit',
      });
    }
    if (j.start?.round === round) {
      j.theta = j.start.theta.slice();
      j.outer = OuterOptimizer.fromState(j.start.outer);
    } else {
      // after a restart: the start of the round from the checkpoint of round − 1 (this node synced
      // to the committed one before it trained)
      this.rewindTo(round);
    }
    const thetaBefore = j.theta.slice();
    const delta = new Float32Array(
      stored.buffer.slice(stored.byteOffset, stored.byteOffset + stored.byteLength),
    );
    const reduced = await this.#reduce(j, round, attempt, delta, members, traceFromJson(trace).samplerStart);
    const provenance = row.data.provenance as ProvenanceRecord;
    const { lda: _old, ...kept } = row.data;
    this.#saveReduced(j, round, reduced, 'signed', {
      ...kept,
      ...(reduced.lda ? { lda: reduced.lda } : {}),
      modelHash: reduced.modelHash,
      bytesSent: Number(row.data.bytesSent ?? 0) + reduced.report.bytesSent,
      included: reduced.report.included,
      attempt,
    });
    j.nextRound = round + 1;
    return {
      round,
      record: recordOf(j.jobId, round, this.address, provenance),
      recordSignature,
      provenance,
      trainLoss: Number(row.data.trainLoss ?? Number.NaN),
      thetaBefore,
      delta,
      trace,
      traceSignature,
      ...reduced,
    };
  }

  /** Persists, in one transaction, the checkpoint row of a reduced round and its round row. */
  #saveReduced(
    j: JobContext,
    round: number,
    reduced: { modelHash: Hex; checkpointPath: string },
    state: 'trained' | 'signed',
    data: Record<string, unknown>,
  ): void {
    this.store.transaction(() => {
      this.store.saveCheckpoint({
        jobId: j.jobId.toString(),
        round,
        hash: reduced.modelHash,
        path: reduced.checkpointPath,
      });
      this.store.saveRound(j.jobId, round, state, data);
    });
  }

  /**
   * All-reduce of Δ (id = round · 1000 + attempt), outer step, the LDA head in the last round of an
   * `lda-head` job (`#calibrate`), checkpoint file written.
   */
  async #reduce(
    j: JobContext,
    round: number,
    attempt: number,
    delta: Float32Array,
    members: readonly string[],
    samplerStart: SamplerState,
  ): Promise<{ report: RoundReport; modelHash: Hex; checkpointPath: string; lda?: LdaStatement }> {
    const report = await j.allreduce.run(allReduceId(round, attempt), delta, members);
    this.bytesSent += report.bytesSent;
    // ok=false: keep the local update for this round (DiLoCo tolerates dropped outer gradients)
    j.outer.apply(j.theta, report.ok && report.result ? report.result : delta);
    if (this.#o.divergeRound === round && attempt === 0) {
      j.theta[0] += 1e-3 * (1 + Number.parseInt(this.address.slice(2, 6), 16)); // differs per provider
    }
    let lda: LdaStatement | undefined;
    if (j.statsAllreduce && round === j.rounds - 1) {
      // the LDA statistics are all-reduced among those whose Δ made the result; a provider left out
      // of it (its Δ came too late) computes its head alone: its model then differs from the
      // others' and its record is not committed, as for any provider outside the round's quorum
      const me = j.host.peerId;
      const group = report.ok ? (report.included.includes(me) ? report.included : [me]) : members;
      const c = await calibrateLdaHead(j, {
        round,
        attempt,
        group,
        samplerStart,
        account: this.#o.account,
        poison: this.#o.poisonLda === true,
        dir: join(this.#o.dir, 'jobs', j.jobId.toString()),
        logger: this.#o.logger,
        node: this.name,
      });
      lda = c.statement;
      report.bytesSent += c.bytesSent;
    }
    const { bytes, hash: modelHash } = encodeTrainingCheckpoint({
      params: j.theta,
      outer: j.outer.getState(),
      info: {
        task: j.spec.name,
        job: j.jobId.toString(),
        round: String(round),
        ...(j.prep ? { prep: JSON.stringify(j.prep) } : {}),
      },
    });
    const dir = join(this.#o.dir, 'jobs', j.jobId.toString());
    mkdirSync(dir, { recursive: true });
    const checkpointPath = join(dir, `round-${round}.safetensors`);
    writeCheckpointFile(checkpointPath, bytes);
    return { report, modelHash, checkpointPath, ...(lda ? { lda } : {}) };
  }

  /** This node's signed swarm statistics of round 0 (payload bytes and statement), if it has them. */
  prepStatsOf(jobId: bigint): { payload: Uint8Array; statement: PrepStatement } | undefined {
    const statement = this.store.getJson<PrepStatement>(`prep-stats:${jobId}`);
    const path = prepStatsFilePath(join(this.#o.dir, 'jobs', jobId.toString()));
    if (!statement || !existsSync(path)) return undefined;
    const payload = new Uint8Array(readFileSync(path));
    return keccak256(payload) === statement.hash ? { payload, statement } : undefined;
  }

  /**
   * The records [from, to) of this provider's registered dataset with their Merkle proofs
   * (`encodeWindowSamples` with one step of the chunk's indices): what a validator recomputes a
   * chunk of the swarm statistics from (src/verify/prep-stats.ts).
   */
  recordsOf(jobId: bigint, from: number, to: number): Uint8Array | undefined {
    const j = this.#job;
    if (!j || j.jobId !== jobId) return undefined;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > j.data.size || to <= from)
      return undefined;
    if (to - from > PREP_CHUNK_MAX_RECORDS) return undefined;
    const tree = this.#dataTree();
    const indices = Int32Array.from({ length: to - from }, (_, i) => from + i);
    return encodeWindowSamples({
      steps: [indices],
      records: Array.from(indices, (index) => ({
        index,
        bytes: j.data.recordBytes(index),
        proof: tree.proof(index),
      })),
    });
  }

  /** This node's signed LDA statistics of `round` (payload bytes and statement), if it has them. */
  ldaStatsOf(jobId: bigint, round: number): { payload: Uint8Array; statement: LdaStatement } | undefined {
    const statement = this.store.getRound(jobId, round)?.data.lda as LdaStatement | undefined;
    const path = ldaStatsFilePath(join(this.#o.dir, 'jobs', jobId.toString()), round);
    if (!statement || !existsSync(path)) return undefined;
    const payload = new Uint8Array(readFileSync(path));
    return keccak256(payload) === statement.hash ? { payload, statement } : undefined;
  }

  /** The job's libp2p host (to serve more protocols on it). */
  get jobHost(): AgoraHost {
    if (!this.#job) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    return this.#job.host;
  }

  get jobId(): bigint | undefined {
    return this.#job?.jobId;
  }

  /** The checkpoint file bytes of `round` and their hash (undefined if this node has none). */
  checkpointOf(jobId: bigint, round: number): { bytes: Uint8Array; hash: Hex } | undefined {
    const ck = this.store.getCheckpoint(jobId, round);
    if (!ck || !existsSync(ck.path)) return undefined;
    const f = readCheckpointFile(ck.path);
    return { bytes: new Uint8Array(f.bytes), hash: ck.hash as Hex };
  }

  /** The Δ this node sent in `round` (f32 bytes), if it still has it. */
  deltaOf(jobId: bigint, round: number): Uint8Array | undefined {
    const p = deltaFilePath(join(this.#o.dir, 'jobs', jobId.toString()), round);
    return existsSync(p) ? new Uint8Array(readFileSync(p)) : undefined;
  }

  /** The signed trace of `round` (from the round row), if this node trained it. */
  traceOf(jobId: bigint, round: number): { trace: RoundTraceJson; signature: Hex } | undefined {
    const row = this.store.getRound(jobId, round);
    const trace = row?.data.trace as RoundTraceJson | undefined;
    const signature = row?.data.traceSignature as Hex | undefined;
    return trace && signature ? { trace, signature } : undefined;
  }

  /** Encoded inner state k of `round`'s trace (`encodeInnerState`), while the round is retained. */
  traceStateOf(jobId: bigint, round: number, k: number): Uint8Array | undefined {
    const j = this.#job;
    if (!j || j.jobId !== jobId) return undefined;
    const path = traceFilePath(join(this.#o.dir, 'jobs', jobId.toString()), round);
    return readTraceStateBytes(path, k, j.runtime.paramCount);
  }

  /**
   * The samples of window k of `round` (`encodeWindowSamples`): the sample indices of each of its
   * steps (the sampler replayed from the trace's start state) and, per distinct index, the record
   * bytes and their Merkle proof against this provider's registered dataset root. Served while the
   * round is retained (its trace file exists).
   */
  windowSamplesOf(jobId: bigint, round: number, k: number): Uint8Array | undefined {
    const j = this.#job;
    const t = this.traceOf(jobId, round);
    if (!j || j.jobId !== jobId || !t) return undefined;
    if (!existsSync(traceFilePath(join(this.#o.dir, 'jobs', jobId.toString()), round))) return undefined;
    const trace = traceFromJson(t.trace);
    if (!Number.isInteger(k) || k < 0 || k >= trace.innerSteps / trace.window) return undefined;
    const steps = windowBatches({
      shard: Int32Array.from({ length: j.data.size }, (_, i) => i),
      batchSize: trace.batchSize,
      samplerSeed: mixSeed(j.spec.seed, Number(j.datasetId)),
      samplerStart: trace.samplerStart,
      startStep: k * trace.window,
      steps: trace.window,
    });
    const tree = this.#dataTree();
    const distinct = [...new Set(steps.flatMap((s) => Array.from(s)))].sort((a, b) => a - b);
    return encodeWindowSamples({
      steps,
      records: distinct.map((index) => ({
        index,
        bytes: j.data.recordBytes(index),
        proof: tree.proof(index),
      })),
    });
  }

  /** The Merkle tree of this provider's registered dataset (from `<home>/data/<root>/`), built once. */
  #dataTree(): MerkleTree {
    if (this.#tree) return this.#tree;
    const root = this.store.getJson<Hex>('datasetRoot');
    const local = root ? loadDataset(this.#o.home, root) : undefined;
    if (!root || !local) {
      throw new AgoraError('NODE_NO_DATA', `${this.name} has no local manifest of its registered dataset`, {
        hint: 'the dataset was registered from another --home; run the provider with that home',
      });
    }
    const tree = buildMerkleTree(recordLeaves(loadHashes(local)));
    if (tree.root.toLowerCase() !== root.toLowerCase()) {
      throw new AgoraError(
        'MANIFEST_CORRUPT',
        `the local hashes of ${this.name}'s dataset give another root`,
      );
    }
    this.#tree = tree;
    return tree;
  }

  /**
   * Puts the job back at the start of `round`: θ and the outer state from the checkpoint of
   * `round − 1` (`ck`: bytes fetched from a peer and already checked against the committed model
   * hash, or this node's own file when omitted); round 0 starts from the task's seeded parameters.
   * The fetched checkpoint is persisted as this node's checkpoint of `round − 1` before it is used.
   */
  rewindTo(round: number, ck?: { bytes: Uint8Array; hash: Hex }): void {
    const j = this.#job;
    if (!j) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    if (round === 0) {
      j.theta = initTaskParams(j.spec, j.runtime);
      j.outer = new OuterOptimizer(j.spec.outer);
      j.nextRound = 0;
      return;
    }
    let bytes = ck?.bytes;
    if (ck) {
      const dir = join(this.#o.dir, 'jobs', j.jobId.toString());
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `round-${round - 1}.safetensors`);
      writeCheckpointFile(path, ck.bytes);
      this.store.saveCheckpoint({ jobId: j.jobId.toString(), round: round - 1, hash: ck.hash, path });
    } else {
      bytes = this.checkpointOf(j.jobId, round - 1)?.bytes;
      if (!bytes) {
        throw new AgoraError('NODE_NO_CHECKPOINT', `${this.name} has no checkpoint of round ${round - 1}`);
      }
    }
    const c = decodeTrainingCheckpoint(bytes!);
    const prep = prepOfInfo(c.info);
    if (prep && JSON.stringify(prep) !== JSON.stringify(j.prep)) {
      j.prep = prep;
      j.data = taskOf(j.spec.kind).load(j.spec, j.source, prep);
    }
    j.theta = c.params;
    j.outer = c.outer ? OuterOptimizer.fromState(c.outer) : new OuterOptimizer(j.spec.outer);
    j.nextRound = round;
  }

  /**
   * Co-signs a round commit after checking it: its own record must be among the records that make
   * `recordsRoot`, and `modelHash` must be the model it computed itself.
   */
  async signCommit(
    round: number,
    recordsRoot: Hex,
    modelHash: Hex,
    records: readonly RoundRecord[],
  ): Promise<Hex> {
    const j = this.#job;
    if (!j) throw new AgoraError('NODE_NO_JOB', `${this.name} has no running job`);
    const mine = this.store.getRound(j.jobId, round);
    if (!mine || mine.data.modelHash !== modelHash) {
      throw new AgoraError(
        'NODE_COMMIT_MISMATCH',
        `${this.name} computed a different model for round ${round}`,
      );
    }
    const own = (mine.data.provenance as ProvenanceRecord).pseudoGradientHash;
    if (
      !records.some((r) => getAddress(r.worker) === getAddress(this.address) && r.pseudoGradientHash === own)
    ) {
      throw new AgoraError('NODE_COMMIT_MISMATCH', `${this.name}'s record is missing from round ${round}`);
    }
    const ledger = trainingLedgerClient(this.#o.conn, this.#o.contracts.ledger);
    const sig = await ledger.signRoundCommit(this.#o.account, j.jobId, BigInt(round), recordsRoot, modelHash);
    this.store.addSignature({
      jobId: j.jobId.toString(),
      round,
      kind: 'round-commit',
      signer: this.address,
      digest: recordsRoot,
      signature: sig,
    });
    return sig;
  }

  /** Co-signs the epoch's reward root after recomputing it (`expected` is its own computation). */
  async signRewardRoot(jobId: bigint, tree: RewardTree, expected: RewardTree): Promise<Hex> {
    if (tree.root !== expected.root || tree.total !== expected.total) {
      throw new AgoraError('NODE_REWARD_MISMATCH', `${this.name} computed a different reward split`);
    }
    const ledger = trainingLedgerClient(this.#o.conn, this.#o.contracts.ledger);
    const sig = await ledger.signRewardRoot(this.#o.account, jobId, tree.root, tree.total);
    this.store.addSignature({
      jobId: jobId.toString(),
      round: -1,
      kind: 'reward-root',
      signer: this.address,
      digest: tree.root,
      signature: sig,
    });
    return sig;
  }

  async closeJobNetwork(): Promise<void> {
    const j = this.#job;
    if (!j) return;
    await this.#stopJobNetwork();
    this.store.upsertJob(j.jobId, this.role, 'trained');
  }
}

/** Claims `account`'s reward (persisted as pending before the tx, confirmed after). */
export async function claimReward(input: {
  store: NodeStore;
  conn: ChainConnection;
  ledger: Address;
  signer: Signer;
  jobId: bigint;
  tree: RewardTree;
}): Promise<{ amount: bigint; claimed: boolean }> {
  const { store, jobId, tree, signer } = input;
  const account = signer.account.address;
  const { amount, proof } = tree.proofFor(account);
  const ledger = trainingLedgerClient(input.conn, input.ledger);
  if (await ledger.isClaimed(jobId, account)) return { amount, claimed: true };
  store.recordClaim({ jobId: jobId.toString(), epoch: Number(jobId), account, amount, proof });
  const r = await ledger.claim(signer, jobId, account, amount, proof);
  store.setClaimStatus(jobId.toString(), Number(jobId), account, 'confirmed', r.transactionHash);
  return { amount, claimed: await ledger.isClaimed(jobId, account) };
}
