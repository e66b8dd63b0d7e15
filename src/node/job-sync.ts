/**
 * Shared steps of the separate processes of a job: finding the coordinator (the job's requester) on
 * the job's network, fetching committed round records and checking them against the chain, and
 * recomputing the job's reward split from chain facts. Everything fetched from a peer is checked
 * against the chain before it is used.
 */
import { type Address, getAddress, type Hex, keccak256 } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { Signer } from '../chain/tx.ts';
import type { ProvenanceRecord } from '../data/provenance.ts';
import { roundRecordsRoot } from '../data/provenance.ts';
import { AgoraError } from '../errors.ts';
import { type CommittedRound, jobRewardSplit } from '../market/job-rewards.ts';
import type { RewardSplit, ValidatorWork } from '../market/rewards.ts';
import type { AgoraHost } from '../net/host.ts';
import {
  type CheckAttestationJson,
  checkAttestationFromJson,
  checkAttestationValid,
  unverifiedRounds,
} from '../verify/check-attestation.ts';
import { approvedValidators, reportedAsOf } from './job-chain.ts';
import type { Logger } from './logger.ts';
import { claimReward } from './provider.ts';
import { provenanceFromJson, roundRequest } from './round-protocol.ts';
import type { NodeStore } from './store.ts';

export type JobContracts = { market: Address; ledger: Address; registry: Address; params: Address };

/** Polls `pred` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function pollUntil<T>(
  pred: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 200,
  signal?: AbortSignal,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) return undefined;
    const v = await pred();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The connected peer id of `account` on `host`, if it is connected and authenticated. */
export function peerOf(host: AgoraHost, account: Address): string | undefined {
  const a = account.toLowerCase();
  return host.authorizedPeers().find((p) => p.address.toLowerCase() === a)?.peerId;
}

/** Keeps dialing `addrs` until `account` is connected (or the timeout). */
export async function connectTo(
  host: AgoraHost,
  account: Address,
  addrs: readonly string[],
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string | undefined> {
  return pollUntil(
    async () => {
      const p = peerOf(host, account);
      if (p) return p;
      for (const a of addrs) await host.dial(a, 3000).catch(() => undefined);
      return peerOf(host, account);
    },
    timeoutMs,
    500,
    signal,
  );
}

/** A committed round's records, fetched from `peer` and checked against the chain's records root. */
export async function fetchCommittedRound(input: {
  host: AgoraHost;
  peer: string;
  conn: ChainConnection;
  ledger: Address;
  jobId: bigint;
  round: number;
}): Promise<CommittedRound & { modelHash: Hex }> {
  const { jobId, round } = input;
  const onChain = await trainingLedgerClient(input.conn, input.ledger).getRound(jobId, BigInt(round));
  const r = await roundRequest(input.host, input.peer, {
    t: 'round-records',
    jobId: jobId.toString(),
    round,
  });
  if (!r.ok) throw new AgoraError('NODE_ROUND_RECORDS', `round ${round} records: ${r.reason}`);
  const records = r.records.map((x) => provenanceFromJson(x.provenance));
  const root = roundRecordsRoot(jobId, round, records);
  if (root !== onChain.recordsRoot || r.modelHash !== onChain.modelHash) {
    throw new AgoraError(
      'NODE_ROUND_RECORDS',
      `the records of round ${round} from ${input.peer} do not match the chain's commit`,
      { hint: 'the peer serves a wrong or stale round; ask another peer' },
    );
  }
  return { round, records, modelHash: onChain.modelHash };
}

/** Every committed round of the job, fetched from `peer` and checked against the chain. */
export async function fetchCommittedRounds(input: {
  host: AgoraHost;
  peer: string;
  conn: ChainConnection;
  ledger: Address;
  jobId: bigint;
  rounds: number;
  cached?: (round: number) => CommittedRound | undefined;
}): Promise<CommittedRound[]> {
  const out: CommittedRound[] = [];
  for (let round = 0; round < input.rounds; round++) {
    out.push(input.cached?.(round) ?? (await fetchCommittedRound({ ...input, round })));
  }
  return out;
}

/**
 * What a reward split is computed from besides the chain and the committed rounds: the validators'
 * work (rounds checked) and their signed attestations of the workers they could not verify.
 */
export type RewardInputs = { validators: ValidatorWork[]; attestations: CheckAttestationJson[] };

/**
 * The job's reward split from its committed rounds and the chain (funded, reports, contributors).
 * Every attestation must be signed by an approved validator for this job, else it throws (a
 * co-signer then refuses the split).
 */
export async function jobSplitFromChain(input: {
  conn: ChainConnection;
  contracts: JobContracts;
  jobId: bigint;
  rounds: readonly CommittedRound[];
  validators: readonly ValidatorWork[];
  attestations?: readonly CheckAttestationJson[];
}): Promise<RewardSplit> {
  const { conn, contracts, jobId } = input;
  const attestations = (input.attestations ?? []).map(checkAttestationFromJson);
  if (attestations.length > 0) {
    const approved = new Set((await approvedValidators(conn, contracts.params)).map((a) => a.toLowerCase()));
    for (const a of attestations) {
      if (a.jobId !== jobId || !approved.has(a.validator.toLowerCase()) || !(await checkAttestationValid(a)))
        throw new AgoraError(
          'NODE_REWARD_MISMATCH',
          `check attestation of round ${a.round} by ${a.validator} is not a valid one for job ${jobId}`,
        );
    }
  }
  const l = await trainingLedgerClient(conn, contracts.ledger).getJobLedger(jobId);
  const reported = await reportedAsOf(conn, contracts.market, jobId);
  const registry = dataRegistryClient(conn, contracts.registry);
  const ids = new Set<string>();
  for (const r of input.rounds)
    for (const rec of r.records) for (const d of Object.keys(rec.samplePairs)) ids.add(d);
  const contributor = new Map<string, Address>();
  for (const id of ids) contributor.set(id, getAddress((await registry.getDataset(BigInt(id))).contributor));
  return jobRewardSplit({
    funded: l.funded,
    rounds: input.rounds,
    reported,
    contributorOf: (id) => contributor.get(id.toString()) ?? '0x0000000000000000000000000000000000000000',
    validators: input.validators,
    unverified: unverifiedRounds(attestations),
  });
}

/** The posted reward split's inputs from the coordinator (retried until served, up to 60 s). */
export async function fetchRewards(
  host: AgoraHost,
  peer: string,
  jobId: bigint,
  signal?: AbortSignal,
): Promise<({ ok: true; root: string; total: string } & RewardInputs) | { ok: false; reason: string }> {
  let last = 'no answer';
  const r = await pollUntil(
    async () => {
      const x = await roundRequest(host, peer, { t: 'rewards', jobId: jobId.toString() }).catch(
        (e: Error) => ({ ok: false as const, reason: e.message }),
      );
      if (x.ok) return x;
      last = x.reason;
      return undefined;
    },
    60_000,
    500,
    signal,
  );
  return r
    ? {
        ok: true,
        root: r.root,
        total: r.total,
        validators: r.validators as ValidatorWork[],
        attestations: r.attestations as CheckAttestationJson[],
      }
    : { ok: false, reason: last };
}

/**
 * Fetches the committed checkpoint of `round` from any connected provider and keeps the first copy
 * whose keccak256 is `want` (the chain's model hash). Undefined when no provider serves it.
 */
export async function fetchCommittedCheckpoint(input: {
  host: AgoraHost;
  providers: readonly Address[];
  jobId: bigint;
  round: number;
  want: Hex;
  logger: Logger;
}): Promise<{ bytes: Uint8Array; hash: Hex; from: Address } | undefined> {
  const isProvider = (a: string) => input.providers.some((p) => p.toLowerCase() === a.toLowerCase());
  for (const p of input.host.authorizedPeers()) {
    if (!isProvider(p.address)) continue;
    const reply = await roundRequest(input.host, p.peerId, {
      t: 'checkpoint',
      jobId: input.jobId.toString(),
      round: input.round,
    }).catch(() => undefined);
    if (!reply?.ok || !reply.payload) continue;
    const hash = keccak256(reply.payload);
    if (hash === input.want) return { bytes: reply.payload, hash, from: p.address };
    input.logger.warn(
      { peer: p.peerId, round: input.round },
      'peer served a checkpoint that is not the committed one',
    );
  }
  return undefined;
}

/**
 * Once the job's reward root is on chain: fetches the split's inputs from the coordinator,
 * recomputes the split (`recompute`, from checked inputs), and claims `signer`'s leaf if the
 * recomputed root is the posted one. Returns the amount claimed, or undefined.
 */
export async function claimPostedReward(input: {
  host: AgoraHost;
  coordinator: () => Promise<string | undefined>;
  conn: ChainConnection;
  ledger: Address;
  jobId: bigint;
  store: NodeStore;
  signer: Signer;
  recompute: (inputs: RewardInputs, peer: string) => Promise<RewardSplit>;
  timeoutMs: number;
  logger: Logger;
  signal?: AbortSignal;
}): Promise<bigint | undefined> {
  const { jobId, logger } = input;
  const deadline = Date.now() + input.timeoutMs;
  const ledger = trainingLedgerClient(input.conn, input.ledger);
  const posted = await pollUntil(
    async () => {
      const l = await ledger.getJobLedger(jobId);
      return l.rewardRoot !== `0x${'0'.repeat(64)}` ? l : undefined;
    },
    input.timeoutMs,
    500,
    input.signal,
  );
  if (!posted) return undefined;
  // the coordinator may be restarting (killed right after it posted the root): asked again until the
  // deadline rather than giving up on what this node earned
  let reason = 'the coordinator is not reachable';
  const got = await pollUntil(
    async () => {
      const coord = await input.coordinator().catch(() => undefined);
      if (!coord) return undefined;
      const rw = await fetchRewards(input.host, coord, jobId, input.signal).catch(
        (e: Error) => ({ ok: false, reason: e.message }) as const,
      );
      if (rw.ok) return { coord, rw };
      reason = rw.reason;
      return undefined;
    },
    Math.max(1000, deadline - Date.now()),
    1000,
    input.signal,
  );
  if (!got) {
    logger.warn({ reason }, 'the coordinator did not serve the reward split; not claiming');
    return undefined;
  }
  const { coord, rw } = got;
  const split = await input.recompute(rw, coord);
  if (!split.tree || split.tree.root !== posted.rewardRoot) {
    logger.warn(
      { root: posted.rewardRoot },
      'the posted reward root is not the split this node computes; not claiming',
    );
    return undefined;
  }
  const me = getAddress(input.signer.account.address);
  if (!split.tree.entries.some((e) => getAddress(e.account) === me)) return undefined;
  const c = await claimReward({
    store: input.store,
    conn: input.conn,
    ledger: input.ledger,
    signer: input.signer,
    jobId,
    tree: split.tree,
  });
  return c.amount;
}

/** Provenance records in wire order (sorted by worker), as the coordinator commits them. */
export function sortRecords<T extends { worker: string }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => (a.worker.toLowerCase() < b.worker.toLowerCase() ? -1 : 1));
}

export type { ProvenanceRecord };
