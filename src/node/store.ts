/**
 * A node's durable state in `node:sqlite` (WAL): jobs, round state, received signatures, checkpoints
 * and reward claims. The rule is "persist, then act": callers write here before they sign, send or
 * claim, so a node killed at any point resumes from what it had promised or received.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { AgoraError } from '../errors.ts';
import { immediateTransaction } from '../storage/sqlite-transaction.ts';

export type JobRow = {
  jobId: string;
  role: string;
  state: string;
  data: Record<string, unknown>;
  updatedAt: number;
};
export type RoundRow = {
  jobId: string;
  round: number;
  state: string;
  data: Record<string, unknown>;
  updatedAt: number;
};
export type SignatureRow = {
  jobId: string;
  round: number;
  kind: string;
  signer: string;
  digest: string;
  signature: string;
};
export type CheckpointRow = { jobId: string; round: number; hash: string; path: string; createdAt: number };
export type ClaimStatus = 'pending' | 'sent' | 'confirmed' | 'failed';
export type ClaimRow = {
  jobId: string;
  epoch: number;
  account: string;
  amount: string;
  proof: string[];
  status: ClaimStatus;
  txHash?: string;
  updatedAt: number;
};

const SCHEMA_VERSION = 1;

export class NodeStore {
  readonly path: string;
  readonly #db: DatabaseSync;

  constructor(path: string) {
    this.path = path;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.#db = new DatabaseSync(path);
      this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    } catch (e) {
      throw new AgoraError(
        'STORE_UNREADABLE',
        `cannot open the node store ${path}: ${(e as Error).message}`,
        {
          hint: 'check the file permissions, or move the corrupt file away (the node re-syncs what it can from the chain)',
          cause: e,
        },
      );
    }
    this.#migrate();
  }

  #migrate(): void {
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS jobs (
        job_id TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS rounds (
        job_id TEXT NOT NULL, round INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, round));
      CREATE TABLE IF NOT EXISTS signatures (
        job_id TEXT NOT NULL, round INTEGER NOT NULL, kind TEXT NOT NULL, signer TEXT NOT NULL,
        digest TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (job_id, round, kind, signer));
      CREATE TABLE IF NOT EXISTS checkpoints (
        job_id TEXT NOT NULL, round INTEGER NOT NULL, hash TEXT NOT NULL, path TEXT NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (job_id, round));
      CREATE TABLE IF NOT EXISTS claims (
        job_id TEXT NOT NULL, epoch INTEGER NOT NULL, account TEXT NOT NULL, amount TEXT NOT NULL, proof TEXT NOT NULL,
        status TEXT NOT NULL, tx_hash TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY (job_id, epoch, account));
    `);
    const row = this.#db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as
      | { value: string }
      | undefined;
    if (!row)
      this.#db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
    else if (Number(row.value) > SCHEMA_VERSION) {
      throw new AgoraError(
        'STORE_TOO_NEW',
        `${this.path} was written by a newer Agora (schema ${row.value})`,
        {
          hint: 'upgrade agora',
        },
      );
    }
  }

  /** Runs `fn` in one transaction: all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    return immediateTransaction(this.#db, fn);
  }

  getJson<T>(key: string): T | undefined {
    const r = this.#db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return r ? (JSON.parse(r.value) as T) : undefined;
  }

  setJson(key: string, value: unknown): void {
    this.#db
      .prepare(
        'INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, JSON.stringify(value));
  }

  upsertJob(jobId: bigint | string, role: string, state: string, data: Record<string, unknown> = {}): void {
    this.#db
      .prepare(
        `INSERT INTO jobs (job_id, role, state, data, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(job_id) DO UPDATE SET role = excluded.role, state = excluded.state, data = excluded.data,
         updated_at = excluded.updated_at`,
      )
      .run(String(jobId), role, state, JSON.stringify(data), Date.now());
  }

  getJob(jobId: bigint | string): JobRow | undefined {
    const r = this.#db.prepare('SELECT * FROM jobs WHERE job_id = ?').get(String(jobId)) as DbJob | undefined;
    return r ? toJob(r) : undefined;
  }

  listJobs(state?: string): JobRow[] {
    const rows = (
      state
        ? this.#db.prepare('SELECT * FROM jobs WHERE state = ? ORDER BY updated_at').all(state)
        : this.#db.prepare('SELECT * FROM jobs ORDER BY updated_at').all()
    ) as DbJob[];
    return rows.map(toJob);
  }

  saveRound(jobId: bigint | string, round: number, state: string, data: Record<string, unknown>): void {
    this.#db
      .prepare(
        `INSERT INTO rounds (job_id, round, state, data, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(job_id, round) DO UPDATE SET state = excluded.state, data = excluded.data,
         updated_at = excluded.updated_at`,
      )
      .run(String(jobId), round, state, JSON.stringify(data), Date.now());
  }

  getRound(jobId: bigint | string, round: number): RoundRow | undefined {
    const r = this.#db
      .prepare('SELECT * FROM rounds WHERE job_id = ? AND round = ?')
      .get(String(jobId), round) as DbRound | undefined;
    return r ? toRound(r) : undefined;
  }

  /** The highest round recorded for the job (any state), or undefined. */
  latestRound(jobId: bigint | string): RoundRow | undefined {
    const r = this.#db
      .prepare('SELECT * FROM rounds WHERE job_id = ? ORDER BY round DESC LIMIT 1')
      .get(String(jobId)) as DbRound | undefined;
    return r ? toRound(r) : undefined;
  }

  /** Stores a received or produced signature; storing the same one twice is a no-op. */
  addSignature(s: SignatureRow): void {
    this.#db
      .prepare(
        `INSERT INTO signatures (job_id, round, kind, signer, digest, signature) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .run(s.jobId, s.round, s.kind, s.signer.toLowerCase(), s.digest, s.signature);
  }

  listSignatures(jobId: bigint | string, round: number, kind: string, digest?: string): SignatureRow[] {
    const rows = this.#db
      .prepare('SELECT * FROM signatures WHERE job_id = ? AND round = ? AND kind = ? ORDER BY signer')
      .all(String(jobId), round, kind) as DbSignature[];
    return rows
      .map((r) => ({
        jobId: r.job_id,
        round: r.round,
        kind: r.kind,
        signer: r.signer,
        digest: r.digest,
        signature: r.signature,
      }))
      .filter((r) => digest === undefined || r.digest === digest);
  }

  saveCheckpoint(c: Omit<CheckpointRow, 'createdAt'>): void {
    this.#db
      .prepare(
        `INSERT INTO checkpoints (job_id, round, hash, path, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(job_id, round) DO UPDATE SET hash = excluded.hash, path = excluded.path`,
      )
      .run(c.jobId, c.round, c.hash, c.path, Date.now());
  }

  getCheckpoint(jobId: bigint | string, round: number): CheckpointRow | undefined {
    const r = this.#db
      .prepare('SELECT * FROM checkpoints WHERE job_id = ? AND round = ?')
      .get(String(jobId), round) as DbCheckpoint | undefined;
    return r
      ? { jobId: r.job_id, round: r.round, hash: r.hash, path: r.path, createdAt: r.created_at }
      : undefined;
  }

  latestCheckpoint(jobId: bigint | string): CheckpointRow | undefined {
    const r = this.#db
      .prepare('SELECT * FROM checkpoints WHERE job_id = ? ORDER BY round DESC LIMIT 1')
      .get(String(jobId)) as DbCheckpoint | undefined;
    return r
      ? { jobId: r.job_id, round: r.round, hash: r.hash, path: r.path, createdAt: r.created_at }
      : undefined;
  }

  /** Records a claim we are entitled to, before sending the claim transaction. Idempotent. */
  recordClaim(c: {
    jobId: string;
    epoch: number;
    account: string;
    amount: bigint;
    proof: readonly string[];
  }): void {
    this.#db
      .prepare(
        `INSERT INTO claims (job_id, epoch, account, amount, proof, status, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?)
         ON CONFLICT DO NOTHING`,
      )
      .run(
        c.jobId,
        c.epoch,
        c.account.toLowerCase(),
        c.amount.toString(),
        JSON.stringify(c.proof),
        Date.now(),
      );
  }

  setClaimStatus(jobId: string, epoch: number, account: string, status: ClaimStatus, txHash?: string): void {
    const r = this.#db
      .prepare(
        'UPDATE claims SET status = ?, tx_hash = COALESCE(?, tx_hash), updated_at = ? WHERE job_id = ? AND epoch = ? AND account = ?',
      )
      .run(status, txHash ?? null, Date.now(), jobId, epoch, account.toLowerCase());
    if (r.changes === 0) {
      throw new AgoraError(
        'CLAIM_UNKNOWN',
        `no recorded claim for job ${jobId} epoch ${epoch} account ${account}`,
      );
    }
  }

  listClaims(status?: ClaimStatus): ClaimRow[] {
    const rows = (
      status
        ? this.#db.prepare('SELECT * FROM claims WHERE status = ? ORDER BY updated_at').all(status)
        : this.#db.prepare('SELECT * FROM claims ORDER BY updated_at').all()
    ) as DbClaim[];
    return rows.map((r) => ({
      jobId: r.job_id,
      epoch: r.epoch,
      account: r.account,
      amount: r.amount,
      proof: JSON.parse(r.proof) as string[],
      status: r.status as ClaimStatus,
      txHash: r.tx_hash ?? undefined,
      updatedAt: r.updated_at,
    }));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

type DbJob = { job_id: string; role: string; state: string; data: string; updated_at: number };
type DbRound = { job_id: string; round: number; state: string; data: string; updated_at: number };
type DbSignature = {
  job_id: string;
  round: number;
  kind: string;
  signer: string;
  digest: string;
  signature: string;
};
type DbCheckpoint = { job_id: string; round: number; hash: string; path: string; created_at: number };
type DbClaim = {
  job_id: string;
  epoch: number;
  account: string;
  amount: string;
  proof: string;
  status: string;
  tx_hash: string | null;
  updated_at: number;
};

const toJob = (r: DbJob): JobRow => ({
  jobId: r.job_id,
  role: r.role,
  state: r.state,
  data: JSON.parse(r.data),
  updatedAt: r.updated_at,
});
const toRound = (r: DbRound): RoundRow => ({
  jobId: r.job_id,
  round: r.round,
  state: r.state,
  data: JSON.parse(r.data),
  updatedAt: r.updated_at,
});
