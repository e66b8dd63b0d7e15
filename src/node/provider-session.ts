/**
 * One provider's session in a running job (src/node/provider-job.ts drives its round loop): what it
 * serves on `/agora/round/1` (status, commit and reward co-signatures, Δ, trace states, window
 * samples, checkpoints), and the steps of a round that talk to the coordinator and the peers —
 * syncing to the committed model, asking for the round's all-reduce group, sending the signed
 * record, sitting a round out.
 */
import type { Address, Hex } from 'viem';
import type { Job } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { TrainingLedgerClient } from '../chain/training-ledger.ts';
import { revertName } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { CommittedRound } from '../market/job-rewards.ts';
import type { RewardSplit } from '../market/rewards.ts';
import { readThroughOutage } from './chain-outage.ts';
import type { JobPeers } from './job-chain.ts';
import {
  connectTo,
  fetchCommittedCheckpoint,
  fetchCommittedRounds,
  type JobContracts,
  jobSplitFromChain,
  peerOf,
  pollUntil,
  type RewardInputs,
} from './job-sync.ts';
import type { Logger } from './logger.ts';
import type { ProviderNode, ProviderRound } from './provider.ts';
import { providerRoundDataHandlers } from './provider-serving.ts';
import {
  provenanceFromJson,
  recordFromJson,
  recordToJson,
  roundRequest,
  type SignedRecordJson,
  serveRoundProtocol,
} from './round-protocol.ts';

/** Store key of the records of a committed round this provider co-signed. */
function signedRecordsKey(jobId: bigint, round: number): string {
  return `signed-records:${jobId}:${round}`;
}

export type ProviderSessionOptions = {
  node: ProviderNode;
  conn: ChainConnection;
  contracts: JobContracts & { token: Address };
  jobId: bigint;
  job: Job;
  peers: JobPeers;
  ledger: TrainingLedgerClient;
  log: Logger;
  progress: (message: string) => void;
  bootstrap: string[];
  commitWaitMs?: number;
  signal?: AbortSignal;
};

export class ProviderJobSession {
  readonly node: ProviderNode;
  readonly conn: ChainConnection;
  readonly contracts: JobContracts & { token: Address };
  readonly jobId: bigint;
  readonly job: Job;
  readonly peers: JobPeers;
  readonly ledger: TrainingLedgerClient;
  readonly log: Logger;
  readonly progress: (message: string) => void;
  readonly me: Address;
  readonly o: ProviderSessionOptions;
  /**
   * The round this provider runs next (or is running). A fresh provider of a fresh job is about to
   * run round 0; a rejoining one names the round after the one in flight. −1: not yet known.
   */
  ready: number;
  /** The attempt of round `ready` this provider is at (a retried round's all-reduce is run again). */
  readyAttempt = 0;

  constructor(o: ProviderSessionOptions, resumed: boolean) {
    this.o = o;
    this.node = o.node;
    this.conn = o.conn;
    this.contracts = o.contracts;
    this.jobId = o.jobId;
    this.job = o.job;
    this.peers = o.peers;
    this.ledger = o.ledger;
    this.log = o.log;
    this.progress = o.progress;
    this.me = o.node.address;
    this.ready = resumed ? -1 : 0;
  }

  get host() {
    return this.node.jobHost;
  }

  isProvider(a: string): boolean {
    return this.peers.providers.some((p) => p.toLowerCase() === a.toLowerCase());
  }

  isRequester(a: string): boolean {
    return a.toLowerCase() === this.peers.requester.toLowerCase();
  }

  /** Rounds committed on chain. */
  committed(): Promise<number> {
    return readThroughOutage(() => this.ledger.roundsCommitted(this.jobId), { signal: this.o.signal });
  }

  /** The coordinator's peer id (dialled through the bootstrap addresses when not connected). */
  async coordinator(): Promise<string | undefined> {
    return (
      peerOf(this.host, this.peers.requester) ??
      (await connectTo(this.host, this.peers.requester, this.o.bootstrap, 5000, this.o.signal))
    );
  }

  /** Serves the round protocol for this job on the job's host. */
  async serve(): Promise<void> {
    await serveRoundProtocol(this.host, {
      status: async (req) =>
        req.jobId === this.jobId.toString()
          ? { ok: true, ready: this.ready, attempt: this.readyAttempt }
          : { ok: false, reason: `not job ${req.jobId}` },
      'sign-commit': async (req, peer) => {
        if (!this.isRequester(peer.address))
          return { ok: false, reason: 'only the job requester coordinates commits' };
        if (req.jobId !== this.jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        const records = req.records.map((r) => recordFromJson(r.record));
        const signature = await this.node.signCommit(
          req.round,
          req.recordsRoot as Hex,
          req.modelHash as Hex,
          records,
        );
        // every co-signer keeps the records it signed: the round's split can be recomputed, and
        // served, without the coordinator (`round-records`, `settleWithoutCoordinator`)
        this.node.store.setJson(signedRecordsKey(this.jobId, req.round), {
          recordsRoot: req.recordsRoot,
          modelHash: req.modelHash,
          records: req.records,
        });
        return { ok: true, signature };
      },
      'round-records': async (req) => {
        if (req.jobId !== this.jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        const d = await this.#committedRecords(req.round);
        if (!d)
          return { ok: false, reason: `this provider holds no committed records of round ${req.round}` };
        return { ok: true, recordsRoot: d.recordsRoot, modelHash: d.modelHash, records: d.records };
      },
      ...providerRoundDataHandlers(this.node),
      checkpoint: async (req) => {
        const c = this.node.checkpointOf(BigInt(req.jobId), req.round);
        return c
          ? { ok: true, hash: c.hash, bytes: c.bytes.byteLength, payload: c.bytes }
          : { ok: false, reason: 'no such checkpoint' };
      },
      'sign-rewards': async (req, peer) => {
        // the requester posts the split; once the job is closed a fellow provider may too (the
        // requester is gone): either way this provider signs only the split it computes itself
        const closed = this.isProvider(peer.address) && (await this.ledger.getJobLedger(this.jobId)).closed;
        if (!this.isRequester(peer.address) && !closed)
          return { ok: false, reason: 'only the job requester posts rewards while the job runs' };
        const split = await this.recomputeSplit(
          {
            validators: req.validators as { account: Address; checks: number }[],
            attestations: req.attestations as RewardInputs['attestations'],
          },
          peer.peerId,
        ).catch((e: Error) => e);
        if (split instanceof Error) return { ok: false, reason: `${this.node.name}: ${split.message}` };
        if (!split.tree || split.tree.root !== req.root || split.total.toString() !== req.total) {
          return { ok: false, reason: `${this.node.name} computed a different reward split` };
        }
        const signature = await this.node.signRewardRoot(this.jobId, split.tree, split.tree);
        return { ok: true, signature };
      },
    });
  }

  async recomputeSplit({ validators, attestations }: RewardInputs, from: string) {
    for (const v of validators) {
      if (!this.peers.validators.some((x) => x.toLowerCase() === v.account.toLowerCase())) {
        throw new AgoraError('NODE_REWARD_MISMATCH', `${v.account} is not an approved validator`);
      }
      if (v.checks > this.job.rounds)
        throw new AgoraError('NODE_REWARD_MISMATCH', `${v.account}: too many checks`);
    }
    // the rounds committed (all of them, or fewer when the job expired): the records this provider
    // co-signed from its store, the others from `from`
    const committed = await this.committed();
    const own: (CommittedRound | undefined)[] = [];
    for (let r = 0; r < committed; r++) {
      const d = await this.#committedRecords(r);
      own.push(d ? { round: r, records: d.records.map((x) => provenanceFromJson(x.provenance)) } : undefined);
    }
    const rounds = await fetchCommittedRounds({
      host: this.host,
      peer: from,
      conn: this.conn,
      ledger: this.contracts.ledger,
      jobId: this.jobId,
      rounds: committed,
      cached: (r) => own[r],
    });
    return jobSplitFromChain({
      conn: this.conn,
      contracts: this.contracts,
      jobId: this.jobId,
      rounds,
      validators,
      attestations,
    });
  }

  /** The records of committed round `r` this provider co-signed, if the chain's commit is theirs. */
  async #committedRecords(
    r: number,
  ): Promise<{ recordsRoot: Hex; modelHash: Hex; records: SignedRecordJson[] } | undefined> {
    const d = this.node.store.getJson<{ recordsRoot: Hex; modelHash: Hex; records: SignedRecordJson[] }>(
      signedRecordsKey(this.jobId, r),
    );
    if (!d || r >= (await this.committed())) return undefined;
    const onChain = await this.ledger.getRound(this.jobId, BigInt(r));
    return onChain.recordsRoot === d.recordsRoot && onChain.modelHash === d.modelHash ? d : undefined;
  }

  /**
   * The job was closed (complete, or expired by its deadline) and its requester posts no reward
   * root: the providers post it themselves. This provider computes the split from the committed
   * rounds (its own co-signed records, the rest from a fellow provider) with no validator work (only
   * the coordinator is told of checks), asks the connected providers to co-sign it (`sign-rewards`:
   * each recomputes it), and posts it once ⌈2K/3⌉ signed; several providers doing so at once post
   * the same root, and all but the first find it posted. Returns the split, for the claim, when the
   * root on chain is this split's.
   */
  async settleWithoutCoordinator(): Promise<RewardSplit | undefined> {
    const l = await this.ledger.getJobLedger(this.jobId);
    if (!l.closed || l.roundsCommitted === 0) return undefined;
    const inputs: RewardInputs = { validators: [], attestations: [] };
    const providers = () =>
      this.host.authorizedPeers().filter((p) => this.isProvider(p.address) && p.address !== this.me);
    let split: RewardSplit | undefined;
    for (const p of [...providers().map((x) => x.peerId), undefined]) {
      split = await this.recomputeSplit(inputs, p ?? '').catch((e: Error) => {
        this.log.debug({ from: p, err: e.message }, 'committed rounds not complete from this peer');
        return undefined;
      });
      if (split) break;
    }
    if (!split?.tree) return undefined;
    const tree = split.tree;
    const zero = `0x${'0'.repeat(64)}`;
    const posted = async () => (await this.ledger.getJobLedger(this.jobId)).rewardRoot;
    if ((await posted()) === zero) {
      const need = Math.ceil((2 * this.job.workers) / 3);
      const sigs = [await this.node.signRewardRoot(this.jobId, tree, tree)];
      for (const p of providers()) {
        if (sigs.length >= need) break;
        const r = await roundRequest(
          this.host,
          p.peerId,
          {
            t: 'sign-rewards',
            jobId: this.jobId.toString(),
            root: tree.root,
            total: split.total.toString(),
            validators: [],
            attestations: [],
          },
          { timeoutMs: 60_000 },
        ).catch((e: Error) => ({ ok: false as const, reason: e.message }));
        if (r.ok) sigs.push(r.signature as Hex);
        else this.log.warn({ provider: p.address, reason: r.reason }, 'reward root not co-signed');
      }
      if (sigs.length >= need && (await posted()) === zero) {
        await this.ledger.postRewardRoot(this.node.signer, this.jobId, tree.root, split.total, sigs).then(
          () =>
            this.progress(`${this.node.name}: reward root of job ${this.jobId} posted without the requester`),
          (e: unknown) => {
            if (revertName(e) !== 'RootAlreadyPosted') throw e;
          },
        );
      }
    }
    return (await posted()) === tree.root ? split : undefined;
  }

  /** Sends the signed record of round `c` (attempt `a`) to the coordinator; true once it took it. */
  async sendRecord(c: number, a: number, r: ProviderRound): Promise<boolean> {
    const coord = await this.coordinator();
    if (!coord) return false;
    const reply = await roundRequest(this.host, coord, {
      t: 'record',
      jobId: this.jobId.toString(),
      round: c,
      attempt: a,
      modelHash: r.modelHash,
      group: this.groupOf(r.report.included),
      record: recordToJson(r.record),
      signature: r.recordSignature,
      provenance: r.provenance,
      trace: r.trace,
      traceSignature: r.traceSignature,
      ...(r.lda ? { lda: r.lda } : {}),
      ...(c === 0 && this.node.prepStatsOf(this.jobId)
        ? { prep: this.node.prepStatsOf(this.jobId)!.statement }
        : {}),
    }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
    if (!reply.ok) this.log.debug({ round: c, attempt: a, reason: reply.reason }, 'record not taken yet');
    return reply.ok;
  }

  /**
   * The coordinator's view of round `c`: rounds committed and the attempt in flight. A coordinator
   * that is not connected is dialled again (briefly: the callers poll): one restarted while this
   * node waits for a commit does not dial the providers itself, and the commit needs their
   * signatures (a requester killed between taking the records and the commit had stalled the round
   * for the whole commit wait).
   */
  async roundState(c: number): Promise<{ committed: number; attempt: number } | undefined> {
    const coord =
      peerOf(this.host, this.peers.requester) ??
      (await connectTo(this.host, this.peers.requester, this.o.bootstrap, 1000, this.o.signal));
    if (!coord) return undefined;
    const s = await roundRequest(
      this.host,
      coord,
      { t: 'round-state', jobId: this.jobId.toString(), round: c },
      { timeoutMs: 5000 },
    ).catch(() => undefined);
    return s?.ok ? { committed: s.committed, attempt: s.attempt } : undefined;
  }

  /** Accounts of the peers whose Δ is in an all-reduce result. */
  groupOf(included: readonly string[]): string[] {
    const byPeer = new Map(this.host.authorizedPeers().map((p) => [p.peerId, p.address as string]));
    byPeer.set(this.host.peerId, this.me);
    return included.flatMap((p) => (byPeer.has(p) ? [byPeer.get(p)!] : []));
  }

  /**
   * Says to the coordinator that this node is ready for round `c`, attempt `a`, and returns that
   * attempt's all-reduce group as peer ids (this node first). The coordinator fixes each group once,
   * so all providers of a round all-reduce with the same peers. 'left-out': the group was fixed
   * without this node (it came too late); 'retry': the round was committed or retried meanwhile. A
   * member not connected yet (a provider that just restarted) is waited for briefly; one that stays
   * unreachable is left out here, and the all-reduce treats it as a peer that failed.
   */
  async groupOfRound(c: number, a: number): Promise<string[] | 'left-out' | 'retry'> {
    const reply = await pollUntil(
      async () => {
        const coord = await this.coordinator();
        if (!coord) return undefined;
        return roundRequest(
          this.host,
          coord,
          { t: 'group', jobId: this.jobId.toString(), round: c, attempt: a },
          { timeoutMs: 60_000 },
        ).catch((e: Error) => {
          this.log.debug({ round: c, attempt: a, err: e.message }, 'group request failed; asking again');
          return undefined;
        });
      },
      this.o.commitWaitMs ?? 90_000,
      500,
      this.o.signal,
    );
    if (!reply?.ok) {
      this.log.info({ round: c, attempt: a, reason: reply?.reason }, 'no all-reduce group for this round');
      return 'retry';
    }
    if (!reply.members.some((m) => m.toLowerCase() === this.me.toLowerCase())) return 'left-out';
    const out = [this.host.peerId];
    await Promise.all(
      reply.members.map(async (m) => {
        if (m.toLowerCase() === this.me.toLowerCase()) return;
        const p = await pollUntil(() => peerOf(this.host, m as Address), 5000, 100, this.o.signal);
        if (p) out.push(p);
        else this.log.warn({ round: c, peer: m }, 'a member of the all-reduce group is not connected');
      }),
    );
    return out;
  }

  /**
   * This node is not in attempt `a` of round `c` (the group was fixed without it: it came late, or
   * it is rejoining after a restart): it says (`status`) that it skips that attempt and is ready for
   * the next, and waits for the round's commit or its retry. Waiting for the commit alone would be
   * a livelock when the round cannot commit without it: the coordinator retries the round with the
   * members that are ready, and a provider back after the wait finds that attempt's group fixed
   * without it again.
   */
  async awaitNextAttempt(c: number, a: number): Promise<void> {
    this.log.info(
      { round: c, attempt: a },
      'not in this attempt: waiting for its commit or the next attempt',
    );
    this.ready = c;
    this.readyAttempt = a + 1;
    await pollUntil(
      async () => {
        const st = await this.roundState(c);
        if ((st?.committed ?? (await this.committed())) > c) return true;
        return st && st.attempt > a ? true : undefined;
      },
      this.o.commitWaitMs ?? 90_000,
      250,
      this.o.signal,
    );
  }

  /** This node does not run round `c`: it says so (`status`), and waits for the round's commit. */
  async sitOut(c: number): Promise<void> {
    this.log.info({ round: c }, 'sitting this round out: waiting for its commit');
    this.ready = c + 1;
    this.readyAttempt = 0;
    await pollUntil(
      async () => ((await this.committed()) > c ? true : undefined),
      this.o.commitWaitMs ?? 90_000,
      250,
      this.o.signal,
    );
  }

  /** Puts the node at the committed state before round `c`. */
  async syncTo(c: number): Promise<void> {
    if (c === 0) {
      if (this.node.resumeRound !== 0) this.node.rewindTo(0);
      return;
    }
    const want = (await this.ledger.getRound(this.jobId, BigInt(c - 1))).modelHash;
    const own = this.node.checkpointOf(this.jobId, c - 1);
    if (own && own.hash === want) {
      if (this.node.resumeRound !== c) this.node.rewindTo(c);
      return;
    }
    const ck = await fetchCommittedCheckpoint({
      host: this.host,
      providers: this.peers.providers,
      jobId: this.jobId,
      round: c - 1,
      want,
      logger: this.log,
    });
    if (ck) {
      this.node.rewindTo(c, ck);
      this.log.info({ round: c - 1, from: ck.from }, 'resynced to the committed checkpoint');
      this.progress(`${this.node.name}: resynced to the committed model of round ${c}`);
      return;
    }
    throw new AgoraError(
      'NODE_RESYNC_FAILED',
      `${this.node.name} found no peer with the committed checkpoint of round ${c - 1}`,
      {
        hint: 'the other providers must be reachable; the node retries at the next round',
      },
    );
  }
}
