/**
 * `agora serve` as a `Startable`: the models of some jobs (or exported model directories), the HTTP
 * server, and — when a price is set — the channel scheme: the voucher gate and the Payee that settles
 * on-chain at a threshold and as soon as a payer starts closing.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Address, Hex, LocalAccount } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { AgoraError, isAgoraError } from '../errors.ts';
import { findJobModel } from '../node/job-files.ts';
import type { Startable } from '../node/startable.ts';
import { ChannelClient } from '../pay/channel-client.ts';
import { Payee } from '../pay/payee.ts';
import { VoucherStore, type VoucherStoreOptions } from '../pay/voucher-store.ts';
import { exportJobModel } from '../task/export.ts';
import { fetchJobSpec } from '../task/spec-source.ts';
import { signAnnouncement } from './announcement.ts';
import { ChannelGate } from './channel-gate.ts';
import { offerModel } from './discovery.ts';
import { ExactScheme } from './exact-scheme.ts';
import type { LmLimits } from './exported.ts';
import { loadModelDir, type ServedModel } from './model.ts';
import { ChannelScheme, type PaymentScheme } from './payment.ts';
import { createModelServer, type ModelServer } from './server.ts';
import { VerifierPool } from './verifier-pool.ts';

/** Where an agent's channel money state lives (payer and payee sides share one sqlite file). */
export function channelStorePath(home: string): string {
  return join(home, 'pay', 'channels.sqlite');
}

export function openChannelStore(home: string, opts: VoucherStoreOptions = {}): VoucherStore {
  const path = channelStorePath(home);
  mkdirSync(dirname(path), { recursive: true });
  return new VoucherStore(path, opts);
}

/**
 * The final model of a job, found in `home` and checked against the chain's final model hash. A
 * preset task's checkpoint (`mnist-mlp`) is served as it is; any other job's is first exported the
 * way `agora job model` exports it (spec from the chain, `computeMarket` needed) to
 * `<home>/serve/jobs/<id>/`, reused while its checkpoint hash matches, and served from there.
 */
export async function loadJobModel(
  home: string,
  conn: ChainConnection,
  trainingLedger: Address,
  jobId: bigint,
  computeMarket?: Address,
): Promise<ServedModel> {
  const hash = await trainingLedgerClient(conn, trainingLedger).finalModelHash(jobId);
  if (/^0x0+$/.test(hash)) {
    throw new AgoraError('SERVE_JOB_NO_MODEL', `job ${jobId} has no final model on chain yet`, {
      hint: `wait for the job to close (agora job status ${jobId})`,
    });
  }
  const found = findJobModel(home, jobId, hash);
  if (!found) {
    throw new AgoraError(
      'SERVE_JOB_MODEL_NOT_LOCAL',
      `no file in ${home} hashes to job ${jobId}'s final model ${hash}`,
      {
        hint: 'run with the --home of a node that trained or requested the job, or pass --model DIR',
      },
    );
  }
  let m: ServedModel;
  try {
    m = loadModelDir(found.path);
  } catch (e) {
    if (!isAgoraError(e) || e.code !== 'SERVE_UNKNOWN_TASK' || !computeMarket) throw e;
    m = loadModelDir(await exportedJobDir(home, conn, computeMarket, jobId, hash, found));
  }
  return { ...m, id: jobId.toString(), jobId: jobId.toString() };
}

/** The export directory of a job's final model under `home` (written once per model hash). */
async function exportedJobDir(
  home: string,
  conn: ChainConnection,
  computeMarket: Address,
  jobId: bigint,
  hash: Hex,
  found: { path: string; manifest?: string },
): Promise<string> {
  const dir = join(home, 'serve', 'jobs', jobId.toString());
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { checkpointHash?: string };
    if (config.checkpointHash?.toLowerCase() === hash.toLowerCase()) return dir;
  } catch {
    // not exported yet (or unreadable): export again
  }
  const job = await computeMarketClient(conn, computeMarket).getJob(jobId);
  const spec = await fetchJobSpec(conn, computeMarket, job.modelSpecHash);
  await exportJobModel({
    spec,
    checkpointPath: found.path,
    ...(found.manifest ? { provenanceManifest: found.manifest } : {}),
    dir,
    jobId,
  });
  return dir;
}

export type PaidServeOptions = {
  conn: ChainConnection;
  account: LocalAccount;
  paymentChannels: Address;
  token: Address;
  store: VoucherStore;
  /** Price of one input row (token base units). */
  unitPrice: bigint;
  /** Settle a channel once this much is unsettled (default 100 × unitPrice). */
  settleThreshold?: bigint;
  /** Chain polling interval of the settler, ms (default 15 s). */
  pollIntervalMs?: number;
  /** Worker threads that check voucher signatures (default 0: on the main thread). */
  verifyThreads?: number;
  /** Also accept x402 `exact` (EIP-3009 transferWithAuthorization of AgoraToken; one tx per query). */
  exact?: boolean;
  /** Shortest challenge period accepted, s (default 600). */
  minChallengePeriod?: number;
  /**
   * Offer the models on chain once listening (`ModelRevenue.offer`, one transaction per model), so
   * that `agora models` finds this server without its URL. `publicUrl`: the URL buyers reach it at
   * (default: the listening URL).
   */
  offer?: { modelRevenue: Address; publicUrl?: string };
  onError?: (e: unknown) => void;
};

export type ServeServiceOptions = {
  models: ServedModel[];
  host?: string;
  port?: number;
  payment?: PaidServeOptions;
  maxRows?: number;
  /** Language models: prompt bytes and generated bytes per request. */
  lm?: LmLimits;
  bodyLimit?: number;
};

export class ServeService implements Startable {
  readonly name = 'serve';
  readonly #o: ServeServiceOptions;
  server?: ModelServer;
  payee?: Payee;
  gate?: ChannelGate;
  url?: string;
  /** The on-chain offers made at start (transaction per model). */
  offers: { modelId: string; tx: Hex }[] = [];

  constructor(o: ServeServiceOptions) {
    this.#o = o;
  }

  async start(): Promise<void> {
    const p = this.#o.payment;
    const schemes: PaymentScheme[] = [];
    if (p) {
      const client = new ChannelClient(p.conn, p.paymentChannels, p.account);
      this.payee = new Payee({
        store: p.store,
        client,
        settleThreshold: p.settleThreshold ?? p.unitPrice * 100n,
        pollIntervalMs: p.pollIntervalMs,
        onError: p.onError,
      });
      const minChallengePeriod = p.minChallengePeriod ?? 600;
      this.gate = new ChannelGate({
        payee: this.payee,
        minChallengePeriod,
        ...(p.verifyThreads ? { verifier: new VerifierPool(p.verifyThreads) } : {}),
      });
      schemes.push(new ChannelScheme(this.gate, p.token, minChallengePeriod));
      if (p.exact) {
        const exact = await ExactScheme.create(p.conn, p.account, p.token);
        exact.earnings = p.store;
        schemes.push(exact);
      }
    }
    const models = this.#o.models;
    this.server = await createModelServer({
      models,
      announce: p
        ? (endpoint) =>
            signAnnouncement(p.account, {
              kind: 'agora-model-announcement',
              version: 1,
              endpoint,
              seller: p.account.address,
              chainId: p.conn.chainId,
              token: p.token,
              paymentChannels: p.paymentChannels,
              schemes: schemes.map((s) => s.scheme),
              issuedAt: Math.floor(Date.now() / 1000),
              models: models.map((m) => ({
                id: m.id,
                jobId: m.jobId,
                modelHash: m.modelHash,
                task: m.task,
                unitPrice: p.unitPrice.toString(),
                ...(m.manifest
                  ? {
                      rounds: m.manifest.rounds.length,
                      datasets: m.manifest.datasets.map((d) => d.datasetId),
                    }
                  : {}),
              })),
            })
        : undefined,
      unitPrice: p?.unitPrice ?? 0n,
      schemes,
      maxRows: this.#o.maxRows,
      lm: this.#o.lm,
      bodyLimit: this.#o.bodyLimit,
    });
    this.url = await this.server.listen({ host: this.#o.host ?? '127.0.0.1', port: this.#o.port ?? 0 });
    await this.payee?.start();
    if (p?.offer) {
      const endpoint = p.offer.publicUrl ?? this.url;
      const signer = walletClientFor(p.conn, p.account);
      for (const m of models) {
        const tx = await offerModel(p.conn, signer, p.offer.modelRevenue, {
          modelHash: m.modelHash,
          jobId: m.jobId,
          unitPrice: p.unitPrice,
          endpoint,
        });
        this.offers.push({ modelId: m.id, tx });
      }
    }
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.payee?.stop();
    await this.gate?.verifier.close();
  }
}
