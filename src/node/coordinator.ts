/**
 * The requester's side of a running job across processes: it coordinates the round commits (it
 * pays for them, and anyone may submit a commit, so no extra trust is placed in it).
 *
 * Per round r it collects the providers' signed records (`record`: signature, provenance and
 * sample root checked, and the round trace — ids, shape and the worker's signature — stored with
 * the record and served with it in `round-records`; persisted before the reply), waits for every member it can reach or a
 * deadline, takes the records of the largest group that computed the same model hash (a provider
 * whose all-reduce failed holds a different model and is left out), asks those providers to
 * co-sign the commit (`sign-commit`), and sends one `commitRound`. After the last round it closes
 * the job, recomputes the reward split from the committed records and the chain, collects the
 * providers' signatures on it (`sign-rewards`), posts it, and serves it to claimants (`rewards`).
 * With `home`, it also saves the final model and its provenance manifest (`#saveModel`).
 * Everything it decides is persisted in its store before it acts on it; a restarted coordinator
 * carries on from there and from the chain.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Address, getAddress, type Hex } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { revertName, type Signer } from '../chain/tx.ts';
import type { ProvenanceManifest, ProvenanceRecord } from '../data/provenance.ts';
import { provenanceRecord, roundRecordsRoot } from '../data/provenance.ts';
import { writeProvenanceManifest } from '../data/store.ts';
import { samplesFromJson } from '../data/usage.ts';
import { AgoraError } from '../errors.ts';
import type { CommittedRound } from '../market/job-rewards.ts';
import type { ValidatorWork } from '../market/rewards.ts';
import { AgoraHost } from '../net/host.ts';
import { taskOf } from '../task/registry.ts';
import { readCheckpointFile, writeCheckpointFile } from '../train/checkpoint/files.ts';
import {
  type CheckAttestationJson,
  checkAttestationFromJson,
  checkAttestationToJson,
  checkAttestationValid,
} from '../verify/check-attestation.ts';
import { executeFraudSlashWhenDue, verifyRoundRecordSignature } from '../verify/evidence.ts';
import { ldaStatsSigner } from '../verify/lda-calibration.ts';
import { prepStatsSigner } from '../verify/prep-stats.ts';
import { roundTraceSigner, traceFromJson, traceProblems } from '../verify/trace-wire.ts';
import { isChainOutage } from './chain-outage.ts';
import { fraudReports, type JobPeers, jobPeers, roundMembers } from './job-chain.ts';
import { closeIfExpired } from './job-expiry.ts';
import { jobModelPath } from './job-files.ts';
import { jobSpecOf } from './job-spec.ts';
import {
  fetchCommittedCheckpoint,
  type JobContracts,
  jobSplitFromChain,
  peerOf,
  pollUntil,
  type RewardInputs,
  sortRecords,
} from './job-sync.ts';
import type { Logger } from './logger.ts';
import { type JobNetOptions, MAX_ROUND_ATTEMPTS } from './provider.ts';
import { awaitedMembers, decideGroup, type GroupState } from './round-group.ts';
import {
  recordFromJson,
  roundRequest,
  type SignedRecordJson,
  serveRoundProtocol,
  type TraceJson,
} from './round-protocol.ts';
import type { Startable } from './startable.ts';
import type { NodeStore } from './store.ts';

export type CoordinatorOptions = {
  conn: ChainConnection;
  contracts: JobContracts;
  jobId: bigint;
  account: import('viem').LocalAccount;
  signer: Signer;
  store: NodeStore;
  logger: Logger;
  net?: JobNetOptions;
  /** How long to wait for missing records once the first one of a round arrived (default 30 s). */
  recordWaitMs?: number;
  /**
   * How long a round's all-reduce group stays open for members that are connected but have not
   * said they are ready, counted from the first provider that did (default 5 s).
   */
  groupWaitMs?: number;
  /** How long the reward split waits for validators to check the last round (default 180 s). */
  validatorWaitMs?: number;
  /** …and how long it waits when no validator reports a new check (default 30 s). */
  validatorStallMs?: number;
  /**
   * The requester's agora home: once the job is closed, the final model (fetched from a provider,
   * checked against the final model hash on chain) and its provenance manifest are written to
   * `<home>/jobs/<jobId>/` for `agora job model`. Without it nothing is written.
   */
  home?: string;
  onProgress?: (message: string) => void;
  /** Called once a round's commit is mined and persisted (the dashboard shows it at once). */
  onRoundCommitted?: (c: RoundCommitted) => void;
};

export type RoundCommitted = {
  jobId: bigint;
  round: number;
  txHash: Hex;
  block: number;
  recordsRoot: Hex;
  modelHash: Hex;
};

type Collected = { modelHash: Hex; group: string[]; signed: SignedRecordJson };

const ZERO32 = `0x${'0'.repeat(64)}`;

export class JobCoordinator implements Startable {
  readonly name = 'coordinator';
  readonly #o: CoordinatorOptions;
  #host?: AgoraHost;
  #peers?: JobPeers;
  #stopped = false;
  #loop?: Promise<void>;
  /** The job's inner steps per round (a record's trace must have them). */
  #innerSteps = 0;
  /** The job's last round when its task computes an LDA head there (records must commit to it), else −1. */
  #ldaRound = -1;
  /** Whether the job's task all-reduces statistics before round 0 (round 0's records carry them). */
  #prepStats = false;
  /** The reward split is fixed (or posted): validators seen from now on took no part in the job. */
  #splitFixed = false;
  /** The all-reduce groups being formed, by `round:attempt`: who said it is ready, and the decision. */
  readonly #forming = new Map<string, { ready: Set<string>; members: Promise<Address[]> }>();

  constructor(o: CoordinatorOptions) {
    this.#o = o;
  }

  get host(): AgoraHost | undefined {
    return this.#host;
  }

  /** Multiaddrs providers and validators dial (with /p2p/<PeerId>). */
  multiaddrs(): string[] {
    return this.#host?.multiaddrs() ?? [];
  }

  async start(): Promise<void> {
    const { conn, contracts, jobId } = this.#o;
    this.#peers = await jobPeers(conn, contracts, jobId);
    const job = await computeMarketClient(conn, contracts.market).getJob(jobId);
    this.#innerSteps = job.innerSteps;
    const spec = await jobSpecOf(this.#o.conn, this.#o.contracts.market, job, this.#o.store);
    if (spec.calibration === 'lda-head') this.#ldaRound = job.rounds - 1;
    this.#prepStats = taskOf(spec.kind).preparation !== undefined;
    const host = new AgoraHost({
      account: this.#o.account,
      chainId: conn.chainId,
      jobId: jobId.toString(),
      participants: this.#peers.all,
      logger: this.#o.logger,
      announceIntervalMs: this.#o.net?.announceIntervalMs ?? 1000,
      // the coordinator listens while its job fills: a provider that joined a moment ago is let in
      refreshParticipants: async () => {
        this.#peers = await jobPeers(conn, contracts, jobId);
        return this.#peers.all;
      },
      ...(this.#o.net?.listen ? { listen: this.#o.net.listen } : {}),
      ...(this.#o.net?.privateKey ? { privateKey: this.#o.net.privateKey } : {}),
    });
    // the validators that took part in this job (persisted: a restarted coordinator still waits for them)
    const seenKey = `validators-seen:${jobId}`;
    host.addEventListener('peer:authorized', (e) => {
      const a = (e as CustomEvent<{ address: string }>).detail.address.toLowerCase();
      if (!this.#peers?.validators.some((v) => v.toLowerCase() === a)) return;
      // once the split is fixed a validator arriving takes no part: not waited for, not paid
      if (this.#splitFixed) return;
      const seen = this.#o.store.getJson<string[]>(seenKey) ?? [];
      if (!seen.includes(a)) this.#o.store.setJson(seenKey, [...seen, a]);
    });
    await host.start();
    this.#host = host;
    await serveRoundProtocol(host, {
      record: async (req, peer) => this.#onRecord(req, peer.address),
      'round-state': async (req) => {
        if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        const committed = await trainingLedgerClient(conn, contracts.ledger).roundsCommitted(jobId);
        const row = req.round === committed ? this.#o.store.getRound(jobId, req.round) : undefined;
        return { ok: true, committed, attempt: Number(row?.data.attempt ?? 0) };
      },
      group: async (req, peer) => {
        if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        return this.#onGroup(req.round, req.attempt, peer.address);
      },
      'round-records': async (req) => {
        if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        // the chain may report the commit before this coordinator recorded it: served from the
        // records it persisted before sending the commit (`#committedRow`)
        const d = await this.#committedRow(req.round);
        if (!d) return { ok: false, reason: `round ${req.round} is not committed` };
        return { ok: true, recordsRoot: d.recordsRoot, modelHash: d.modelHash, records: d.records };
      },
      checked: async (req, peer) => {
        if (!this.#peers?.validators.some((v) => v.toLowerCase() === peer.address.toLowerCase())) {
          return { ok: false, reason: 'not an approved validator' };
        }
        let attestation: CheckAttestationJson | undefined;
        if (req.attestation) {
          const a = checkAttestationFromJson(req.attestation as CheckAttestationJson);
          if (
            a.jobId !== jobId ||
            a.round !== req.round ||
            a.validator.toLowerCase() !== peer.address.toLowerCase() ||
            !(await checkAttestationValid(a))
          )
            return {
              ok: false,
              reason: 'the check attestation is not signed by this validator for this round',
            };
          attestation = checkAttestationToJson(a);
        }
        const key = `checks:${jobId}:${peer.address.toLowerCase()}`;
        const akey = `attestations:${jobId}:${peer.address.toLowerCase()}`;
        this.#o.store.transaction(() => {
          if (attestation) {
            // one per validator and round (the first kept: a validator does not change its word)
            const all = this.#o.store.getJson<CheckAttestationJson[]>(akey) ?? [];
            if (!all.some((x) => x.round === req.round)) this.#o.store.setJson(akey, [...all, attestation]);
          }
          const rounds = new Set(this.#o.store.getJson<number[]>(key) ?? []);
          rounds.add(req.round);
          this.#o.store.setJson(
            key,
            [...rounds].sort((a, b) => a - b),
          );
        });
        return { ok: true };
      },
      rewards: async (req) => {
        if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
        // the split is stored before it is posted; it is served once the chain has exactly that root
        const r = this.#o.store.getJson<{ root: Hex; total: string } & RewardInputs>(`rewards:${jobId}`);
        if (!r) return { ok: false, reason: 'the reward split is not posted yet' };
        const l = await trainingLedgerClient(conn, contracts.ledger).getJobLedger(jobId);
        return l.rewardRoot === r.root
          ? { ok: true, ...r, attestations: r.attestations ?? [] }
          : { ok: false, reason: 'the reward split is not posted yet' };
      },
    });
    this.#o.logger.info({ jobId: jobId.toString(), addrs: host.multiaddrs() }, 'coordinator started');
  }

  /**
   * The accounts of the posted reward split (this coordinator's) that have not claimed yet: the
   * daemon keeps serving the split until this is empty (a validator that is behind claims last).
   */
  async unclaimed(): Promise<Address[]> {
    const { conn, contracts, jobId, store } = this.#o;
    const accounts = store.getJson<Address[]>(`reward-accounts:${jobId}`) ?? [];
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const r = store.getJson<{ root: Hex }>(`rewards:${jobId}`);
    if (!r || (await ledger.getJobLedger(jobId)).rewardRoot !== r.root) return [];
    const claimed = await Promise.all(accounts.map((a) => ledger.isClaimed(jobId, a)));
    return accounts.filter((_, i) => !claimed[i]);
  }

  /** Runs the job to its end (all rounds committed, closed, rewards posted); resolves then. */
  run(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop?.catch(() => {});
    await this.#host?.stop();
  }

  // ---- records in

  async #onRecord(
    req: {
      jobId: string;
      round: number;
      modelHash: string;
      group: string[];
      attempt: number;
      record: SignedRecordJson['record'];
      signature: string;
      provenance: SignedRecordJson['provenance'];
      trace: TraceJson;
      traceSignature: string;
      lda?: { hash: string; signature: string } | undefined;
      prep?: { hash: string; signature: string } | undefined;
    },
    from: Address,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    const { jobId, conn, contracts, store } = this.#o;
    if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
    const record = recordFromJson(req.record);
    if (getAddress(record.worker) !== getAddress(from))
      return { ok: false, reason: 'a record must come from its worker' };
    if (record.jobId !== jobId || record.round !== BigInt(req.round))
      return { ok: false, reason: 'record is for another round' };
    const committed = await trainingLedgerClient(conn, contracts.ledger).roundsCommitted(jobId);
    if (req.round < committed) return { ok: true }; // already committed without it
    if (req.round > committed) return { ok: false, reason: `round ${committed} is not committed yet` };
    const market = computeMarketClient(conn, contracts.market);
    if (!(await verifyRoundRecordSignature(market, record, req.signature as Hex))) {
      return { ok: false, reason: 'bad record signature' };
    }
    const p = req.provenance as ProvenanceRecord;
    const again = provenanceRecord({
      worker: p.worker,
      pseudoGradientHash: p.pseudoGradientHash,
      lossBefore: BigInt(p.lossBefore),
      lossAfter: BigInt(p.lossAfter),
      samples: BigInt(p.samples),
      pairs: samplesFromJson(p.samplePairs),
    });
    if (
      again.sampleRoot !== record.sampleRoot ||
      p.pseudoGradientHash !== record.pseudoGradientHash ||
      p.lossBefore !== record.lossBefore.toString() ||
      p.lossAfter !== record.lossAfter.toString() ||
      p.samples !== record.samples.toString() ||
      getAddress(p.worker) !== getAddress(record.worker)
    ) {
      return { ok: false, reason: 'the provenance does not match the signed record' };
    }
    // the round trace validators replay: for this job, round and worker, signed by the worker
    const trace = traceFromJson(req.trace);
    const problems = traceProblems(trace, {
      jobId,
      round: BigInt(req.round),
      worker: record.worker,
      innerSteps: this.#innerSteps,
    });
    if (problems.length > 0) return { ok: false, reason: `bad round trace: ${problems.join('; ')}` };
    const traceSigner = await roundTraceSigner(trace, req.traceSignature as Hex).catch(() => undefined);
    if (traceSigner !== getAddress(record.worker)) return { ok: false, reason: 'bad round trace signature' };
    // the last round of an lda-head job: the worker's signed commitment to its LDA statistics
    if (req.round === this.#ldaRound) {
      if (!req.lda)
        return { ok: false, reason: 'the last round of an lda-head job needs the LDA statistics commitment' };
      const ldaSigner = await ldaStatsSigner(
        jobId,
        req.round,
        record.worker,
        req.lda.hash as Hex,
        req.lda.signature as Hex,
      ).catch(() => undefined);
      if (ldaSigner !== getAddress(record.worker))
        return { ok: false, reason: 'bad LDA statistics signature' };
    }
    // round 0 of a task with swarm statistics: the worker's signed commitment to its statistics
    if (req.round === 0 && this.#prepStats) {
      if (!req.prep)
        return { ok: false, reason: 'round 0 of this task needs the swarm statistics commitment' };
      const prepSigner = await prepStatsSigner(
        jobId,
        record.worker,
        req.prep.hash as Hex,
        req.prep.signature as Hex,
      ).catch(() => undefined);
      if (prepSigner !== getAddress(record.worker))
        return { ok: false, reason: 'bad swarm statistics signature' };
    }
    // persisted before the reply
    return store.transaction(() => {
      const row = store.getRound(jobId, req.round);
      const data = (row?.state === 'collecting' ? row.data : { records: {} }) as {
        records: Record<string, Collected>;
        attempt?: number;
      };
      const current = data.attempt ?? 0;
      if (req.attempt !== current) {
        return {
          ok: false as const,
          reason: `round ${req.round} is at attempt ${current}, not ${req.attempt}`,
        };
      }
      data.records[from.toLowerCase()] = {
        modelHash: req.modelHash as Hex,
        group: req.group.map((a) => a.toLowerCase()),
        signed: {
          record: req.record,
          signature: req.signature,
          provenance: req.provenance,
          trace: req.trace,
          traceSignature: req.traceSignature,
          ...(req.lda ? { lda: req.lda } : {}),
          ...(req.prep ? { prep: req.prep } : {}),
        },
      };
      store.saveRound(jobId, req.round, 'collecting', data);
      return { ok: true as const };
    });
  }

  // ---- the all-reduce group of a round

  /**
   * A provider says it is ready for round `c`, attempt `a`; the reply is that attempt's all-reduce
   * group. The coordinator fixes each group once, so every provider all-reduces with the same
   * peers: the members that said they are ready before every connected member did, or before
   * `groupWaitMs` after the first one did. A member that says (`status`) it skips the round — it is
   * rejoining, or cannot sync — is not waited for. The group is persisted before it is served; a
   * provider that comes after the decision gets a group without itself and sits the round out.
   */
  async #onGroup(
    c: number,
    a: number,
    from: Address,
  ): Promise<{ ok: true; members: Address[] } | { ok: false; reason: string }> {
    const { conn, contracts, jobId, store } = this.#o;
    const committed = await trainingLedgerClient(conn, contracts.ledger).roundsCommitted(jobId);
    if (c !== committed) {
      return { ok: false, reason: `round ${committed} is the round in flight, not ${c}` };
    }
    const row = store.getRound(jobId, c);
    const current = Number(row?.state === 'collecting' ? (row.data.attempt ?? 0) : 0);
    if (a !== current) return { ok: false, reason: `round ${c} is at attempt ${current}, not ${a}` };
    const key = `group:${jobId}:${c}:${a}`;
    const saved = store.getJson<Address[]>(key);
    if (saved) return { ok: true, members: saved };
    const members = await roundMembers(conn, contracts, jobId, c, this.#peers!.providers);
    if (!members.some((m) => m.toLowerCase() === from.toLowerCase())) {
      return { ok: false, reason: `${from} is not a member of round ${c}` };
    }
    const id = `${c}:${a}`;
    let forming = this.#forming.get(id);
    if (!forming) {
      for (const k of this.#forming.keys()) if (Number(k.split(':')[0]) < c) this.#forming.delete(k);
      const ready = new Set<string>([from.toLowerCase()]);
      forming = { ready, members: this.#fixGroup(c, a, members, ready, key) };
      this.#forming.set(id, forming);
    } else forming.ready.add(from.toLowerCase());
    return { ok: true, members: await forming.members };
  }

  async #fixGroup(
    c: number,
    a: number,
    members: readonly Address[],
    ready: Set<string>,
    key: string,
  ): Promise<Address[]> {
    const host = this.#host!;
    const jobId = this.#o.jobId.toString();
    const until = Date.now() + (this.#o.groupWaitMs ?? 5000);
    const skipping = new Set<string>();
    const asking = new Set<string>();
    // a group below the commit quorum cannot commit, and its left-out members sit the round out:
    // until ⌈2K/3⌉ are ready, members not connected yet (slow to start, on a loaded machine) are
    // waited for too, up to a minute more
    const need = Math.ceil((2 * (this.#peers?.providers.length ?? members.length)) / 3);
    const state = (): GroupState => {
      const short = ready.size < need && Date.now() < until + 60_000 && !this.#stopped;
      return {
        members,
        ready,
        skipping,
        connected: (m) => short || peerOf(host, m) !== undefined,
        expired: (Date.now() > until && !short) || this.#stopped,
      };
    };
    const group = await pollUntil(
      () => {
        const s = state();
        const fixed = decideGroup(s);
        if (fixed) return fixed;
        // ask the awaited members where they are: one that sits the round out is not waited for
        for (const m of awaitedMembers(s)) {
          const k = m.toLowerCase();
          const p = peerOf(host, m);
          if (asking.has(k) || !p) continue;
          asking.add(k);
          void roundRequest(host, p, { t: 'status', jobId }, { timeoutMs: 2000 })
            .then((r) => {
              if (r.ok && (r.ready > c || (r.ready === c && r.attempt > a))) skipping.add(k);
            })
            .catch(() => {})
            .finally(() => asking.delete(k));
        }
        return undefined;
      },
      24 * 3600_000,
      50,
    );
    // a coordinator that stops (killed, or restarted after an error) decides nothing: a group fixed
    // because it stopped would hold only the members ready so far, and its successor would serve
    // that group from the store and leave the others out of the attempt
    if (this.#stopped)
      throw new AgoraError('NODE_STOPPED', `round ${c}: the coordinator stopped before the group was fixed`, {
        hint: 'ask the restarted coordinator for the group again',
      });
    if (!group) throw new AgoraError('NODE_GROUP', `round ${c}: no all-reduce group was fixed`);
    // persisted before anyone is told (a restarted coordinator serves the same group)
    this.#o.store.setJson(key, group);
    this.#o.logger.info(
      { round: c, attempt: a, group, left: members.length - group.length },
      'all-reduce group fixed',
    );
    return group;
  }

  // ---- the job loop

  async #run(): Promise<void> {
    const { conn, contracts, jobId, store, logger } = this.#o;
    const progress = this.#o.onProgress ?? (() => {});
    const market = computeMarketClient(conn, contracts.market);
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const job = await market.getJob(jobId);
    const need = Math.ceil((2 * job.workers) / 3);
    const host = this.#host!;
    await this.#awaitStart();
    const peers = this.#peers!;
    while (!this.#stopped) {
      // a chain node that is briefly unreachable (restarted) costs a pass of the loop, not the
      // coordinator: a restart would drop every provider's connection and the group in forming
      try {
        const c = await ledger.roundsCommitted(jobId);
        if (c >= job.rounds) break;
        const state = (await market.getJob(jobId)).state;
        // closed after its completion deadline (by this coordinator or anyone): the split of the
        // committed rounds is still this coordinator's to post
        if (state === 'Expired') break;
        if (state !== 'Running') {
          logger.warn({ jobId: jobId.toString(), state }, 'job is no longer running');
          return;
        }
        if (await this.#expired()) break;
        const members = await roundMembers(conn, contracts, jobId, c, peers.providers);
        const collected = () =>
          (
            (store.getRound(jobId, c)?.state === 'collecting' ? store.getRound(jobId, c)?.data : undefined) as
              | { records: Record<string, Collected> }
              | undefined
          )?.records ?? {};
        // wait for the first record, then for the records of every reachable member that took part
        // in an all-reduce of this round (the groups the records name), or the deadline
        let checked = Date.now();
        const expired = await pollUntil(
          async () => {
            if (Object.keys(collected()).length > 0 || this.#stopped) return false;
            // no provider sends anything: the job may be past its deadline
            if (Date.now() - checked < 5000) return undefined;
            checked = Date.now();
            return (await this.#expired()) ? true : undefined;
          },
          24 * 3600_000,
          50,
        );
        if (expired) break;
        const until = Date.now() + (this.#o.recordWaitMs ?? 30_000);
        const allIn = () => {
          const have = collected();
          const named = new Set(Object.values(have).flatMap((x) => x.group));
          const expected = members.filter(
            (m) => named.has(m.toLowerCase()) && (peerOf(host, m) !== undefined || have[m.toLowerCase()]),
          );
          return expected.every((m) => have[m.toLowerCase()]);
        };
        await pollUntil(
          () => (allIn() || Date.now() > until || this.#stopped ? true : undefined),
          this.#o.recordWaitMs ?? 30_000,
          50,
        );
        if (this.#stopped) break;
        // the largest group that computed the same model (ties: the lowest hash)
        const byHash = new Map<Hex, Collected[]>();
        for (const [worker, x] of Object.entries(collected())) {
          if (!members.some((m) => m.toLowerCase() === worker)) continue;
          byHash.set(x.modelHash, [...(byHash.get(x.modelHash) ?? []), x]);
        }
        const [modelHash, group] =
          [...byHash].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))[0] ?? [];
        if (!modelHash || !group || group.length < need) {
          const groups = [...byHash].map(([h, g]) => `${h.slice(0, 10)}:${g.length}`);
          // wait for every reachable provider that is in this round, then retry: no ⌈2K/3⌉ agree (the
          // providers' all-reduce groups differed, e.g. a provider died as the round started)
          const seen = Object.keys(collected()).length;
          const inRound = await this.#inRound(c, members);
          const complete = await pollUntil(
            () => (inRound.every((m) => collected()[m.toLowerCase()]) ? true : undefined),
            Math.max(0, until - Date.now()),
            200,
          );
          if (Object.keys(collected()).length > seen) continue; // new records: look for a quorum again
          if (complete || Date.now() >= until) {
            const attempt = this.#retry(c);
            logger.warn({ round: c, groups, need, attempt }, 'no quorum on one model: round retried');
            progress(
              `job ${jobId}: round ${c + 1} retried (attempt ${attempt}): no ${need} providers agreed`,
            );
          } else logger.debug({ round: c, groups, need }, 'not enough matching records yet');
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        const signed = sortRecords(
          group.map((g) => g.signed).map((s) => ({ ...s, worker: s.record.worker })),
        ).map(({ worker: _w, ...s }) => s);
        const provenance = signed.map((s) => s.provenance as ProvenanceRecord);
        const recordsRoot = roundRecordsRoot(jobId, c, provenance);
        store.saveRound(jobId, c, 'collecting', {
          records: collected(),
          attempt: store.getRound(jobId, c)?.data.attempt ?? 0,
          committing: { recordsRoot, modelHash, records: signed },
        });
        const sigs = (
          await Promise.all(
            signed.map(async (s) => {
              const p = peerOf(host, s.record.worker as Address);
              if (!p) return undefined;
              const r = await roundRequest(host, p, {
                t: 'sign-commit',
                jobId: jobId.toString(),
                round: c,
                recordsRoot,
                modelHash,
                records: signed,
              }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
              if (!r.ok)
                logger.warn({ round: c, worker: s.record.worker, reason: r.reason }, 'commit not co-signed');
              return r.ok ? (r.signature as Hex) : undefined;
            }),
          )
        ).filter((x): x is Hex => x !== undefined);
        if (sigs.length < need) {
          logger.warn({ round: c, sigs: sigs.length, need }, 'not enough commit signatures; retrying');
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        const receipt = await ledger.commitRound(
          this.#o.signer,
          jobId,
          BigInt(c),
          recordsRoot,
          modelHash,
          sigs,
        );
        store.saveRound(jobId, c, 'committed', { recordsRoot, modelHash, records: signed });
        store.upsertJob(jobId, 'requester', 'running', { roundsCommitted: c + 1 });
        this.#o.onRoundCommitted?.({
          jobId,
          round: c,
          txHash: receipt.transactionHash,
          block: Number(receipt.blockNumber),
          recordsRoot,
          modelHash,
        });
        progress(
          `job ${jobId}: round ${c + 1}/${job.rounds} committed (${sigs.length}/${job.workers} signatures)`,
        );
      } catch (e) {
        if (!isChainOutage(e) || this.#stopped) throw e;
        logger.warn({ err: (e as Error).message }, 'chain unreachable; the round goes on once it answers');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (this.#stopped) return;
    await this.#finish(need);
  }

  /** Closes the job if its completion deadline has passed (src/node/job-expiry.ts); true if closed. */
  #expired(): Promise<boolean> {
    const { conn, contracts, jobId, signer, logger } = this.#o;
    return closeIfExpired({
      conn,
      contracts,
      signer,
      jobId,
      logger,
      ...(this.#o.onProgress ? { onProgress: this.#o.onProgress } : {}),
    });
  }

  /**
   * A job still filling (Open): the coordinator listens already, so the providers find it the
   * moment the job runs, and lets each provider in as it joins (participants polled). Returns once
   * the job is no longer Open, with the final participants set.
   */
  async #awaitStart(): Promise<void> {
    const { conn, contracts, jobId } = this.#o;
    const market = computeMarketClient(conn, contracts.market);
    const host = this.#host!;
    let known = this.#peers?.all.length ?? 0;
    while (!this.#stopped && (await market.getJob(jobId)).state === 'Open') {
      const peers = await jobPeers(conn, contracts, jobId);
      if (peers.all.length !== known) {
        known = peers.all.length;
        this.#peers = peers;
        host.setParticipants(peers.all);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    this.#peers = await jobPeers(conn, contracts, jobId);
    host.setParticipants(this.#peers.all);
  }

  /**
   * Round `r` as committed: the stored committed row, or — when the chain has the commit but this
   * coordinator did not record it yet (the commit is in flight, or it was killed right after
   * sending it) — the records it persisted before sending, if the chain's records root is theirs
   * (then recorded as committed).
   */
  async #committedRow(
    r: number,
  ): Promise<{ recordsRoot: Hex; modelHash: Hex; records: SignedRecordJson[] } | undefined> {
    const { conn, contracts, jobId, store } = this.#o;
    const row = store.getRound(jobId, r);
    if (row?.state === 'committed')
      return row.data as { recordsRoot: Hex; modelHash: Hex; records: SignedRecordJson[] };
    const pending = row?.data.committing as
      | { recordsRoot: Hex; modelHash: Hex; records?: SignedRecordJson[] }
      | undefined;
    if (!pending?.records) return undefined;
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    if ((await ledger.roundsCommitted(jobId)) <= r) return undefined;
    const onChain = await ledger.getRound(jobId, BigInt(r));
    if (onChain.recordsRoot !== pending.recordsRoot || onChain.modelHash !== pending.modelHash)
      return undefined;
    const d = { recordsRoot: pending.recordsRoot, modelHash: pending.modelHash, records: pending.records };
    store.saveRound(jobId, r, 'committed', d);
    return d;
  }

  /** The members that are connected and say they are in round `c` (their `status`). */
  async #inRound(c: number, members: readonly Address[]): Promise<Address[]> {
    const host = this.#host!;
    const jobId = this.#o.jobId.toString();
    const inRound = await Promise.all(
      members.map(async (m) => {
        const p = peerOf(host, m);
        if (!p) return false;
        const s = await roundRequest(host, p, { t: 'status', jobId }, { timeoutMs: 3000 }).catch(
          () => undefined,
        );
        return s?.ok === true && s.ready === c;
      }),
    );
    return members.filter((_, i) => inRound[i]);
  }

  /**
   * Starts the next attempt of round `c` (persisted): the collected records are dropped, and the
   * providers all-reduce their same Δ again and send their records anew. Returns the new attempt.
   */
  #retry(c: number): number {
    const { jobId, store } = this.#o;
    return store.transaction(() => {
      const row = store.getRound(jobId, c);
      const attempt = Number(row?.state === 'collecting' ? (row.data.attempt ?? 0) : 0) + 1;
      if (attempt >= MAX_ROUND_ATTEMPTS) {
        throw new AgoraError('NODE_ROUND_ATTEMPTS', `round ${c} of job ${jobId} failed ${attempt} times`, {
          hint: 'the providers cannot agree on a model: check their logs and connectivity',
        });
      }
      store.saveRound(jobId, c, 'collecting', { records: {}, attempt });
      return attempt;
    });
  }

  /**
   * Before the job is closed and its reward split fixed: waits until every validator that took part
   * in the job (connected now, or seen during it: one restarting after a crash comes back and catches
   * up) has checked the last round, so that all its checks are paid and the providers (who leave
   * once they claimed) are still there to serve its last checks. It stops waiting when no validator
   * has reported a new check for `validatorStallMs` (default 30 s), or after `validatorWaitMs`
   * (default 180 s).
   */
  async #awaitValidators(rounds: number): Promise<void> {
    const { jobId, store, logger } = this.#o;
    const host = this.#host!;
    const validators = this.#peers?.validators ?? [];
    const checked = (v: Address) => store.getJson<number[]>(`checks:${jobId}:${v.toLowerCase()}`) ?? [];
    let seen = -1;
    let lastProgress = Date.now();
    const stallMs = this.#o.validatorStallMs ?? 30_000;
    const behind = await pollUntil(
      () => {
        const tookPart = store.getJson<string[]>(`validators-seen:${jobId}`) ?? [];
        const waiting = validators.filter(
          (v) =>
            (peerOf(host, v) !== undefined || tookPart.includes(v.toLowerCase())) &&
            !checked(v).includes(rounds - 1),
        );
        if (waiting.length === 0 || this.#stopped) return [];
        const total = validators.reduce((n, v) => n + checked(v).length, 0);
        if (total !== seen) {
          seen = total;
          lastProgress = Date.now();
        }
        return Date.now() - lastProgress > stallMs ? waiting : undefined;
      },
      this.#o.validatorWaitMs ?? 180_000,
      250,
    );
    if (behind === undefined || behind.length > 0) {
      logger.warn({ behind: behind ?? 'timeout' }, 'validators did not check every round: splitting without');
    }
  }

  async #finish(need: number): Promise<void> {
    const { conn, contracts, jobId, store, logger, signer } = this.#o;
    const progress = this.#o.onProgress ?? (() => {});
    const market = computeMarketClient(conn, contracts.market);
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const job = await market.getJob(jobId);
    let l = await ledger.getJobLedger(jobId);
    // the validators' last checks come before the close: the challenge window, which a fraud report
    // must land in, opens at the close (an LDA check of the last round could miss it otherwise)
    if (l.rewardRoot === ZERO32) await this.#awaitValidators(l.roundsCommitted);
    if (!l.closed) {
      await ledger.closeJob(signer, jobId);
      l = await ledger.getJobLedger(jobId);
      progress(`job ${jobId} closed: ${l.roundsCommitted} rounds, ${l.funded} wei funded`);
    }
    store.upsertJob(jobId, 'requester', 'closed', { roundsCommitted: l.roundsCommitted });
    if (this.#o.home && l.roundsCommitted > 0) await this.#saveModel(this.#o.home, l.roundsCommitted);
    this.#splitFixed = true;
    if (l.rewardRoot === ZERO32) {
      const rounds: CommittedRound[] = [];
      for (let r = 0; r < l.roundsCommitted; r++) {
        await this.#committedRow(r);
        const row = store.getRound(jobId, r);
        if (row?.state !== 'committed') {
          throw new AgoraError('NODE_MISSING_ROUND', `the coordinator's store has no committed round ${r}`, {
            hint: 'the rounds were committed by another process; run the coordinator that committed them',
          });
        }
        rounds.push({
          round: r,
          records: (row.data.records as SignedRecordJson[]).map((s) => s.provenance as ProvenanceRecord),
        });
      }
      const validators: ValidatorWork[] = (this.#peers?.validators ?? [])
        .map((v) => ({
          account: v,
          checks: (store.getJson<number[]>(`checks:${jobId}:${v.toLowerCase()}`) ?? []).length,
        }))
        .filter((v) => v.checks > 0)
        .map((v) => ({ ...v, checks: Math.min(v.checks, job.rounds) }));
      const attestations = validators.flatMap(
        (v) =>
          store.getJson<CheckAttestationJson[]>(`attestations:${jobId}:${v.account.toLowerCase()}`) ?? [],
      );
      const split = await jobSplitFromChain({ conn, contracts, jobId, rounds, validators, attestations });
      if (!split.tree) throw new AgoraError('REWARD_EMPTY', `job ${jobId}: nobody earned anything`);
      const posted = { root: split.tree.root, total: split.total.toString(), validators, attestations };
      store.transaction(() => {
        store.setJson(`rewards:${jobId}`, posted);
        store.setJson(
          `reward-accounts:${jobId}`,
          split.tree!.entries.map((e) => e.account),
        );
      });
      const host = this.#host!;
      let sigs: Hex[] = [];
      for (let attempt = 0; attempt < 60 && !this.#stopped; attempt++) {
        sigs = (
          await Promise.all(
            this.#peers!.providers.map(async (p) => {
              const peer = peerOf(host, p);
              if (!peer) return undefined;
              const r = await roundRequest(
                host,
                peer,
                {
                  t: 'sign-rewards',
                  jobId: jobId.toString(),
                  root: posted.root,
                  total: posted.total,
                  validators,
                  attestations,
                },
                { timeoutMs: 60_000 },
              ).catch((e: Error) => ({ ok: false as const, reason: e.message }));
              if (!r.ok) logger.warn({ provider: p, reason: r.reason }, 'reward root not co-signed');
              return r.ok ? (r.signature as Hex) : undefined;
            }),
          )
        ).filter((x): x is Hex => x !== undefined);
        if (sigs.length >= need) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (sigs.length < need)
        throw new AgoraError('NODE_REWARD_SIGS', `only ${sigs.length}/${need} reward signatures`);
      try {
        await ledger.postRewardRoot(signer, jobId, posted.root, split.total, sigs);
        progress(`job ${jobId}: reward root posted (${sigs.length} signatures, ${split.total} wei)`);
      } catch (e) {
        // the providers posted theirs first (they thought this requester gone): theirs stands
        if (revertName(e) !== 'RootAlreadyPosted') throw e;
        logger.warn({ jobId: jobId.toString() }, 'another reward root was posted first');
      }
    }
    // slash reported providers once their challenge period is over
    for (const rep of await fraudReports(conn, contracts.market, jobId)) {
      await pollUntil(
        async () => {
          // a new block's time is at least the wall clock (devnets mine on demand)
          const head = (await conn.publicClient.getBlock()).timestamp;
          const wall = BigInt(Math.floor(Date.now() / 1000));
          const now = head > wall ? head : wall;
          const x = await executeFraudSlashWhenDue(market, signer, rep.reportId, now);
          if (x.status === 'slashed') progress(`${rep.provider} slashed (fraud report ${rep.reportId})`);
          return x.status === 'not-due' ? undefined : true;
        },
        Number(job.challengePeriod) * 1000 + 60_000,
        1000,
      );
    }
    store.upsertJob(jobId, 'requester', 'done', { roundsCommitted: l.roundsCommitted });
  }

  /**
   * Writes the job's final model (the last committed round's checkpoint, fetched from a provider
   * and checked against the final model hash on chain) and its provenance manifest (every
   * committed round's records, the datasets' roots and licences). Kept if already there; a failure
   * is logged, not fatal: the model can still be taken from a provider's home.
   */
  async #saveModel(home: string, roundsCommitted: number): Promise<void> {
    const { conn, contracts, jobId, store, logger } = this.#o;
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const want = await ledger.finalModelHash(jobId);
    const modelPath = jobModelPath(home, jobId);
    if (existsSync(modelPath) && readCheckpointFile(modelPath).hash === want) return;
    let ck: { bytes: Uint8Array } | undefined;
    for (let attempt = 0; attempt < 10 && !ck && !this.#stopped; attempt++) {
      ck = await fetchCommittedCheckpoint({
        host: this.#host!,
        providers: this.#peers!.providers,
        jobId,
        round: roundsCommitted - 1,
        want,
        logger,
      });
      if (!ck) await new Promise((r) => setTimeout(r, 1000));
    }
    if (!ck) {
      logger.warn({ jobId: jobId.toString() }, 'final model not saved: no provider served it');
      return;
    }
    const registry = dataRegistryClient(conn, contracts.registry);
    const market = computeMarketClient(conn, contracts.market);
    const rounds: ProvenanceManifest['rounds'] = [];
    for (let r = 0; r < roundsCommitted; r++) {
      const row = store.getRound(jobId, r);
      if (row?.state !== 'committed') return;
      rounds.push({
        round: r,
        modelHash: row.data.modelHash as Hex,
        records: (row.data.records as SignedRecordJson[]).map((x) => x.provenance as ProvenanceRecord),
      });
    }
    const manifest: ProvenanceManifest = {
      version: 1,
      kind: 'agora-provenance',
      chainId: conn.chainId,
      trainingLedger: contracts.ledger,
      jobId: jobId.toString(),
      modelHash: want,
      datasets: await Promise.all(
        (await market.datasetsOf(jobId)).map(async (id) => {
          const d = await registry.getDataset(id);
          return { datasetId: id.toString(), root: d.root, licence: d.licence };
        }),
      ),
      rounds,
    };
    mkdirSync(dirname(modelPath), { recursive: true });
    writeCheckpointFile(modelPath, ck.bytes);
    const path = writeProvenanceManifest(modelPath, manifest);
    this.#o.onProgress?.(`job ${jobId}: final model saved to ${modelPath} (provenance manifest ${path})`);
  }
}
