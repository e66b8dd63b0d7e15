/**
 * A provider daemon's part in one running job, across processes (docs/swarm.md, "Across
 * processes"). The chain paces the rounds: round r starts once round r−1 is committed, from the
 * committed model. Per round the provider
 *   1. puts itself at the committed state (its own checkpoint when its hash is the committed one,
 *      else the checkpoint fetched from a peer and checked against the committed hash);
 *   2. says it is ready (`group`), trains H steps, and all-reduces Δ with the group the coordinator
 *      fixed for the round (members not reported as of the previous commit's block that were ready);
 *   3. persists, signs its record and its round trace, and sends record + provenance + trace + model
 *      hash to the coordinator;
 *   4. co-signs the commit when the coordinator asks (`sign-commit`), then waits for the commit.
 * It serves its Δ, round traces and window samples (`delta`, `trace-state`, `window-samples`) to
 * validators, its checkpoints (`checkpoint`) to peers that resync, and
 * co-signs the reward split after recomputing it (`sign-rewards`). At the end it claims its reward.
 * A restarted provider reopens the job from its store and rejoins at the next commit.
 */
import { type Address, getAddress, type Hex } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { AgoraError } from '../errors.ts';
import { jobPeers, reportedAsOf } from './job-chain.ts';
import { jobSpecOf } from './job-spec.ts';
import {
  claimPostedReward,
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
import type { JobNetOptions, ProviderNode, ProviderRound } from './provider.ts';
import { providerRoundDataHandlers } from './provider-serving.ts';
import { recordFromJson, recordToJson, roundRequest, serveRoundProtocol } from './round-protocol.ts';

export type ProviderJobOptions = {
  node: ProviderNode;
  conn: ChainConnection;
  contracts: JobContracts & { token: Address };
  jobId: bigint;
  logger: Logger;
  /** Multiaddrs of the coordinator (or any peer of the job) to dial first. */
  bootstrap: string[];
  net?: JobNetOptions;
  /** All-reduce deadline (default 20 s). */
  deadlineMs?: number;
  /** How long to wait for a round's commit before re-checking the chain (default 90 s). */
  commitWaitMs?: number;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
};

export type ProviderJobResult = { jobId: bigint; roundsTrained: number; claimed: bigint | undefined };

export async function runProviderJob(o: ProviderJobOptions): Promise<ProviderJobResult> {
  const { node, conn, contracts, jobId, logger } = o;
  const log = logger.child({ jobId: jobId.toString(), node: node.name });
  const progress = o.onProgress ?? (() => {});
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const job = await market.getJob(jobId);
  const spec = await jobSpecOf(conn, contracts.market, job, node.store);
  const peers = await jobPeers(conn, contracts, jobId);
  const me = getAddress(node.address);
  const K = job.workers;
  const resumed = node.store.latestCheckpoint(jobId) !== undefined;
  await node.openJob({
    jobId,
    spec,
    H: job.innerSteps,
    rounds: job.rounds,
    participants: peers.all,
    bootstrap: o.bootstrap,
    deadlineMs: o.deadlineMs ?? 20_000,
    net: { announceIntervalMs: 1000, ...o.net },
  });
  const host = node.jobHost;
  const isProvider = (a: string) => peers.providers.some((p) => p.toLowerCase() === a.toLowerCase());
  const isRequester = (a: string) => a.toLowerCase() === peers.requester.toLowerCase();
  /**
   * The round this provider runs next (or is running). A fresh provider of a fresh job is about to
   * run round 0; a rejoining one names the round after the one in flight. −1: not yet known.
   */
  let ready = resumed ? -1 : 0;
  /** The attempt of round `ready` this provider is at (a retried round's all-reduce is run again). */
  let readyAttempt = 0;
  await serveRoundProtocol(host, {
    status: async (req) =>
      req.jobId === jobId.toString()
        ? { ok: true, ready, attempt: readyAttempt }
        : { ok: false, reason: `not job ${req.jobId}` },
    'sign-commit': async (req, peer) => {
      if (!isRequester(peer.address))
        return { ok: false, reason: 'only the job requester coordinates commits' };
      if (req.jobId !== jobId.toString()) return { ok: false, reason: `not job ${req.jobId}` };
      const records = req.records.map((r) => recordFromJson(r.record));
      const signature = await node.signCommit(
        req.round,
        req.recordsRoot as Hex,
        req.modelHash as Hex,
        records,
      );
      return { ok: true, signature };
    },
    ...providerRoundDataHandlers(node),
    checkpoint: async (req) => {
      const c = node.checkpointOf(BigInt(req.jobId), req.round);
      return c
        ? { ok: true, hash: c.hash, bytes: c.bytes.byteLength, payload: c.bytes }
        : { ok: false, reason: 'no such checkpoint' };
    },
    'sign-rewards': async (req, peer) => {
      if (!isRequester(peer.address)) return { ok: false, reason: 'only the job requester posts rewards' };
      const split = await recomputeSplit(
        {
          validators: req.validators as { account: Address; checks: number }[],
          attestations: req.attestations as RewardInputs['attestations'],
        },
        peer.peerId,
      ).catch((e: Error) => e);
      if (split instanceof Error) return { ok: false, reason: `${node.name}: ${split.message}` };
      if (!split.tree || split.tree.root !== req.root || split.total.toString() !== req.total) {
        return { ok: false, reason: `${node.name} computed a different reward split` };
      }
      const signature = await node.signRewardRoot(jobId, split.tree, split.tree);
      return { ok: true, signature };
    },
  });

  const recomputeSplit = async ({ validators, attestations }: RewardInputs, from: string) => {
    for (const v of validators) {
      if (!peers.validators.some((x) => x.toLowerCase() === v.account.toLowerCase())) {
        throw new AgoraError('NODE_REWARD_MISMATCH', `${v.account} is not an approved validator`);
      }
      if (v.checks > job.rounds)
        throw new AgoraError('NODE_REWARD_MISMATCH', `${v.account}: too many checks`);
    }
    const rounds = await fetchCommittedRounds({
      host,
      peer: from,
      conn,
      ledger: contracts.ledger,
      jobId,
      rounds: job.rounds,
    });
    return jobSplitFromChain({ conn, contracts, jobId, rounds, validators, attestations });
  };

  const coordinator = async (): Promise<string | undefined> =>
    peerOf(host, peers.requester) ?? (await connectTo(host, peers.requester, o.bootstrap, 5000, o.signal));

  // ---- start: everyone at once for a fresh job; a restarted provider rejoins at the next commit
  let trained = 0;
  const committed = () => ledger.roundsCommitted(jobId);
  await coordinator();
  if (!resumed && (await committed()) === 0) {
    const others = () => host.authorizedPeers().filter((p) => isProvider(p.address)).length;
    await pollUntil(() => (others() >= K - 1 ? true : undefined), 60_000, 200, o.signal);
    progress(`${node.name}: ${others() + 1}/${K} providers connected`);
  } else {
    // round `at` may be in flight without this node: it joins the round after it, and says so, so
    // that the others neither wait for it now nor leave it out then
    const at = await committed();
    ready = at + 1;
    log.info({ committed: at }, 'rejoining: waiting for the next commit');
    await pollUntil(
      async () => (at >= job.rounds || (await committed()) > at ? true : undefined),
      o.commitWaitMs ?? 90_000,
      250,
      o.signal,
    );
  }

  for (;;) {
    if (o.signal?.aborted) break;
    const t0 = performance.now();
    const c = await committed();
    const state = (await market.getJob(jobId)).state;
    if (c >= job.rounds || state !== 'Running') break;
    const reported = await reportedAsOf(conn, contracts.market, jobId);
    if (reported.has(me.toLowerCase())) {
      log.warn('this provider was reported for fraud: it stops training this job');
      progress(`${node.name}: reported for fraud on job ${jobId}, stopping`);
      break;
    }
    try {
      await syncTo(c);
    } catch (e) {
      log.warn({ round: c, err: (e as Error).message }, 'cannot sync; waiting for the next commit');
      await sitOut(c);
      continue;
    }
    // the attempt the coordinator is at for this round (a provider that arrives late joins it)
    const tSynced = performance.now();
    let attempt = (await roundState(c))?.attempt ?? 0;
    ready = c;
    readyAttempt = attempt;
    const members = await groupOfRound(c, attempt);
    if (members === 'retry') {
      // the round moved on meanwhile (committed, or retried), or the coordinator is unreachable
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (members === 'left-out') {
      await sitOut(c);
      continue;
    }
    const tReady = performance.now();
    let r = await node.runRound(c, members, attempt);
    const tTrained = performance.now();
    trained++;
    let outcome: 'committed' | 'timeout' | 'sat-out' = 'timeout';
    for (;;) {
      // send the record until it is taken; wait for the commit, or for the coordinator to retry the
      // round (no ⌈2K/3⌉ of the providers computed the same model): then all-reduce the same Δ again
      let taken = false;
      const next = await pollUntil(
        async (): Promise<'committed' | number | undefined> => {
          const st = await roundState(c);
          if ((st?.committed ?? (await committed())) > c) return 'committed';
          if (st && st.attempt > attempt) return st.attempt;
          if (!taken) taken = await sendRecord(c, attempt, r);
          return undefined;
        },
        o.commitWaitMs ?? 90_000,
        100, // a round-state request to the coordinator: cheap, and the commit gates the next round
        o.signal,
      );
      if (typeof next !== 'number') {
        outcome = next ?? 'timeout';
        break;
      }
      attempt = next;
      readyAttempt = attempt;
      log.info({ round: c, attempt }, 'round retried by the coordinator');
      const again = await groupOfRound(c, attempt);
      if (again === 'left-out') {
        await sitOut(c);
        outcome = 'sat-out';
        break;
      }
      // committed or retried once more meanwhile: the outer loop reads the chain again (this
      // node's Δ is of an older attempt, so its record must not be sent for this one)
      if (again === 'retry') break;
      r = await node.retryRound(c, attempt, again);
    }
    const ms = (a: number, b: number) => Math.round(b - a);
    log.info(
      {
        round: c,
        outcome,
        syncMs: ms(t0, tSynced),
        readyMs: ms(tSynced, tReady),
        trainAndReduceMs: ms(tReady, tTrained),
        commitWaitMs: ms(tTrained, performance.now()),
      },
      'round done',
    );
    if (outcome === 'committed')
      progress(`${node.name}: round ${c + 1}/${job.rounds} committed (loss ${r.trainLoss.toFixed(3)})`);
    else if (outcome === 'timeout')
      log.warn({ round: c }, 'round not committed in time; re-checking the chain');
  }

  // ---- rewards: once the root is posted, recompute the split and claim this provider's leaf
  const claimed = await claimPostedReward({
    host,
    coordinator,
    conn,
    ledger: contracts.ledger,
    jobId,
    store: node.store,
    signer: node.signer,
    recompute: recomputeSplit,
    timeoutMs: o.commitWaitMs ?? 120_000,
    logger: log,
    signal: o.signal,
  });
  if (claimed !== undefined) progress(`${node.name}: claimed ${claimed} wei from job ${jobId}`);
  await node.closeJobNetwork();
  return { jobId, roundsTrained: trained, claimed };

  /** Sends the signed record of round `c` (attempt `a`) to the coordinator; true once it took it. */
  async function sendRecord(c: number, a: number, r: ProviderRound): Promise<boolean> {
    const coord = await coordinator();
    if (!coord) return false;
    const reply = await roundRequest(host, coord, {
      t: 'record',
      jobId: jobId.toString(),
      round: c,
      attempt: a,
      modelHash: r.modelHash,
      group: groupOf(r.report.included),
      record: recordToJson(r.record),
      signature: r.recordSignature,
      provenance: r.provenance,
      trace: r.trace,
      traceSignature: r.traceSignature,
      ...(r.lda ? { lda: r.lda } : {}),
    }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
    if (!reply.ok) log.debug({ round: c, attempt: a, reason: reply.reason }, 'record not taken yet');
    return reply.ok;
  }

  /** The coordinator's view of round `c`: rounds committed and the attempt in flight. */
  async function roundState(c: number): Promise<{ committed: number; attempt: number } | undefined> {
    const coord = peerOf(host, peers.requester);
    if (!coord) return undefined;
    const s = await roundRequest(
      host,
      coord,
      { t: 'round-state', jobId: jobId.toString(), round: c },
      { timeoutMs: 5000 },
    ).catch(() => undefined);
    return s?.ok ? { committed: s.committed, attempt: s.attempt } : undefined;
  }

  /** Accounts of the peers whose Δ is in an all-reduce result. */
  function groupOf(included: readonly string[]): string[] {
    const byPeer = new Map(host.authorizedPeers().map((p) => [p.peerId, p.address as string]));
    byPeer.set(host.peerId, me);
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
  async function groupOfRound(c: number, a: number): Promise<string[] | 'left-out' | 'retry'> {
    const reply = await pollUntil(
      async () => {
        const coord = await coordinator();
        if (!coord) return undefined;
        return roundRequest(
          host,
          coord,
          { t: 'group', jobId: jobId.toString(), round: c, attempt: a },
          { timeoutMs: 60_000 },
        ).catch((e: Error) => {
          log.debug({ round: c, attempt: a, err: e.message }, 'group request failed; asking again');
          return undefined;
        });
      },
      o.commitWaitMs ?? 90_000,
      500,
      o.signal,
    );
    if (!reply?.ok) {
      log.info({ round: c, attempt: a, reason: reply?.reason }, 'no all-reduce group for this round');
      return 'retry';
    }
    if (!reply.members.some((m) => m.toLowerCase() === me.toLowerCase())) return 'left-out';
    const out = [host.peerId];
    await Promise.all(
      reply.members.map(async (m) => {
        if (m.toLowerCase() === me.toLowerCase()) return;
        const p = await pollUntil(() => peerOf(host, m as Address), 5000, 100, o.signal);
        if (p) out.push(p);
        else log.warn({ round: c, peer: m }, 'a member of the all-reduce group is not connected');
      }),
    );
    return out;
  }

  /** This node does not run round `c`: it says so (`status`), and waits for the round's commit. */
  async function sitOut(c: number): Promise<void> {
    log.info({ round: c }, 'sitting this round out: waiting for its commit');
    ready = c + 1;
    readyAttempt = 0;
    await pollUntil(
      async () => ((await committed()) > c ? true : undefined),
      o.commitWaitMs ?? 90_000,
      250,
      o.signal,
    );
  }

  /** Puts the node at the committed state before round `c`. */
  async function syncTo(c: number): Promise<void> {
    if (c === 0) {
      if (node.resumeRound !== 0) node.rewindTo(0);
      return;
    }
    const want = (await ledger.getRound(jobId, BigInt(c - 1))).modelHash;
    const own = node.checkpointOf(jobId, c - 1);
    if (own && own.hash === want) {
      if (node.resumeRound !== c) node.rewindTo(c);
      return;
    }
    const ck = await fetchCommittedCheckpoint({
      host,
      providers: peers.providers,
      jobId,
      round: c - 1,
      want,
      logger: log,
    });
    if (ck) {
      node.rewindTo(c, ck);
      log.info({ round: c - 1, from: ck.from }, 'resynced to the committed checkpoint');
      progress(`${node.name}: resynced to the committed model of round ${c}`);
      return;
    }
    throw new AgoraError(
      'NODE_RESYNC_FAILED',
      `${node.name} found no peer with the committed checkpoint of round ${c - 1}`,
      {
        hint: 'the other providers must be reachable; the node retries at the next round',
      },
    );
  }
}
