/**
 * The dashboard's store adapter: reads the nodes' `node:sqlite` stores (its own read connections,
 * so it keeps working after the nodes stop) and the requester's saved model files, and puts into
 * the hub the swarm (each node's role, state, last round, bytes sent, hardware), each committed
 * round's mean train loss, bytes and validator checks, and each finished job's model with its
 * provenance report (verified against the chain).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { buildProvenanceReport, parseProvenanceManifest } from '../data/provenance.ts';
import { readChainFacts } from '../data/provenance-chain.ts';
import { provenanceManifestPath } from '../data/store.ts';
import { type HardwareDescriptor, hardwareDescriptorHash, probeHardware } from '../node/hardware.ts';
import { jobModelPath } from '../node/job-files.ts';
import type { Logger } from '../node/logger.ts';
import type { Startable } from '../node/startable.ts';
import { NodeStore } from '../node/store.ts';
import { checkpointHash } from '../train/checkpoint/hash.ts';
import { emptyRound } from './chain-source.ts';
import type { DashboardHub } from './hub.ts';
import type { Peer } from './types.ts';
import { checksFromRound, meanLoss } from './views.ts';

/** A node of the swarm as the dashboard knows it (its store is `<dir>/node.db`). */
export type SwarmNode = {
  name: string;
  role: Peer['role'];
  address: Address;
  dir: string;
  statusUrl?: string;
  datasetId?: string;
  /** Probed hardware; default: this machine's (the devnet's nodes run in this process). */
  hardware?: HardwareDescriptor;
};

export type NodeSourceOptions = {
  hub: DashboardHub;
  conn: ChainConnection;
  deployment: Deployment;
  /** Where the requester saves final models (`<home>/jobs/<jobId>/`). */
  home: string;
  logger?: Logger;
  /** How often the stores are read (default 500 ms; a round commit also triggers a read). */
  pollMs?: number;
};

export class NodeSource implements Startable {
  readonly name = 'dashboard-stores';
  readonly #o: NodeSourceOptions;
  readonly #nodes = new Map<string, { node: SwarmNode; store: NodeStore }>();
  readonly #modelsDone = new Set<string>();
  #stopped = false;
  #nodesStopped = false;
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;
  #again = false;

  constructor(o: NodeSourceOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
    for (const { store } of this.#nodes.values()) store.close();
    this.#nodes.clear();
  }

  /** The swarm's nodes (their stores are opened for reading). */
  setNodes(nodes: readonly SwarmNode[]): void {
    const hw = probeHardware();
    for (const node of nodes) {
      if (this.#nodes.has(node.name)) continue;
      const store = new NodeStore(join(node.dir, 'node.db'));
      this.#nodes.set(node.name, { node: { hardware: hw, ...node }, store });
    }
    this.refresh();
  }

  /** The nodes were stopped (the devnet job is over): shown as `stopped` from now on. */
  markStopped(): void {
    this.#nodesStopped = true;
    this.refresh();
  }

  /** Reads the stores now (coalesced with a read in progress). */
  refresh(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#read()
      .catch((e: Error) => this.#o.logger?.warn({ err: e.message }, 'dashboard: reading the stores failed'))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.refresh();
        }
      });
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.refresh();
      this.#schedule();
    }, this.#o.pollMs ?? 500);
  }

  async #read(): Promise<void> {
    const { hub } = this.#o;
    const providers: NodeStore[] = [];
    const validators: { address: string; store: NodeStore }[] = [];
    for (const { node, store } of this.#nodes.values()) {
      const jobs = store.listJobs();
      const job = jobs[jobs.length - 1];
      const latest = job ? store.latestRound(job.jobId) : undefined;
      let bytesSent = 0;
      if (job && node.role === 'provider') {
        for (let r = 0; r <= (latest?.round ?? -1); r++)
          bytesSent += Number(store.getRound(job.jobId, r)?.data.bytesSent ?? 0);
      }
      const hw = node.hardware;
      hub.put('peers', node.name, {
        name: node.name,
        role: node.role,
        address: node.address,
        state: this.#nodesStopped ? 'stopped' : (job?.state ?? 'idle'),
        jobId: job?.jobId ?? null,
        lastRound: latest?.round ?? null,
        bytesSent,
        hardware: hw
          ? { cpuModel: hw.cpuModel, cores: hw.cores, memoryBytes: hw.memoryBytes, engine: hw.engine }
          : null,
        hardwareHash: node.role === 'provider' && hw ? hardwareDescriptorHash(hw) : null,
        statusUrl: this.#nodesStopped ? null : (node.statusUrl ?? null),
        datasetId: node.datasetId ?? null,
      });
      if (node.role === 'provider') providers.push(store);
      if (node.role === 'validator') validators.push({ address: node.address, store });
    }
    // the committed rounds: train loss and bytes from the providers, checks from the validators
    for (const [key, r] of hub.entries('rounds')) {
      if (!r.commit) continue;
      const rows = providers.map((s) => s.getRound(r.jobId, r.round));
      const checks = validators
        .map((v) => {
          const row = v.store.getRound(r.jobId, r.round);
          return row?.state === 'checked'
            ? { validator: v.address, workers: checksFromRound(row.data) }
            : null;
        })
        .filter((x) => x !== null);
      const base = hub.get('rounds', key) ?? emptyRound(r.jobId, r.round);
      hub.put('rounds', key, {
        ...base,
        trainLoss: meanLoss(rows.map((x) => x?.data.trainLoss)) ?? base.trainLoss,
        bytesSent: rows.reduce((s, x) => s + Number(x?.data.bytesSent ?? 0), 0) || base.bytesSent,
        checks: checks.length ? checks : base.checks,
      });
    }
    for (const [jobId, j] of hub.entries('jobs')) {
      if (j.closed && j.finalModelHash && !this.#modelsDone.has(jobId))
        await this.#model(jobId, j.finalModelHash);
    }
  }

  /** The job's final model saved by the requester, with its provenance checked against the chain. */
  async #model(jobId: string, modelHash: string): Promise<void> {
    const { hub, conn, deployment, home } = this.#o;
    const path = jobModelPath(home, jobId);
    const manifestPath = provenanceManifestPath(path);
    if (!existsSync(path) || !existsSync(manifestPath)) return; // not saved yet
    const manifest = parseProvenanceManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
    const facts = await readChainFacts(
      conn,
      {
        TrainingLedger: deployment.contracts.TrainingLedger!,
        ComputeMarket: deployment.contracts.ComputeMarket!,
        DataRegistry: deployment.contracts.DataRegistry!,
      },
      BigInt(jobId),
    );
    const report = buildProvenanceReport({
      facts,
      manifest,
      modelHash: modelHash as Hex,
      checkpoint: path,
      checkpointHash: checkpointHash(readFileSync(path)),
      verify: true,
    });
    hub.put('models', jobId, {
      jobId,
      modelHash,
      path,
      verified: report.verified,
      mismatches: report.mismatches.map((m) => `[${m.check}] ${m.message}`),
      datasets: report.datasets.map((d) => ({
        datasetId: d.datasetId,
        licence: d.licence,
        sector: d.sector,
        contributor: d.contributor,
        records: d.records,
        recordsUsed: d.recordsUsed,
        uses: d.uses,
      })),
      licences: report.licences,
      participants: report.participants,
      rounds: report.rounds.length,
    });
    this.#modelsDone.add(jobId);
  }
}
