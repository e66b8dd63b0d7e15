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
import { type Address, getAddress } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { readThroughOutage } from './chain-outage.ts';
import { jobPeers, reportedAsOf } from './job-chain.ts';
import { closeIfExpired } from './job-expiry.ts';
import { jobSpecOf } from './job-spec.ts';
import { claimPostedReward, type JobContracts, pollUntil } from './job-sync.ts';
import type { Logger } from './logger.ts';
import { claimReward, type JobNetOptions, type ProviderNode, type ProviderRound } from './provider.ts';
import { ProviderJobSession } from './provider-session.ts';

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
  const { node, conn, contracts, jobId } = o;
  const job = await computeMarketClient(conn, contracts.market).getJob(jobId);
  const spec = await jobSpecOf(conn, contracts.market, job, node.store);
  const peers = await jobPeers(conn, contracts, jobId);
  try {
    return await runOpenedJob(o, spec, peers);
  } catch (e) {
    // a failed runner leaves no job network behind: the next one reopens the job from the store
    await node.abandonJobNetwork().catch(() => {});
    throw e;
  }
}

async function runOpenedJob(
  o: ProviderJobOptions,
  spec: Awaited<ReturnType<typeof jobSpecOf>>,
  peers: Awaited<ReturnType<typeof jobPeers>>,
): Promise<ProviderJobResult> {
  const { node, conn, contracts, jobId, logger } = o;
  const log = logger.child({ jobId: jobId.toString(), node: node.name });
  const progress = o.onProgress ?? (() => {});
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const job = await market.getJob(jobId);
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
  const session = new ProviderJobSession(
    {
      node,
      conn,
      contracts,
      jobId,
      job,
      peers,
      ledger,
      log,
      progress,
      bootstrap: o.bootstrap,
      ...(o.commitWaitMs !== undefined ? { commitWaitMs: o.commitWaitMs } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    },
    resumed,
  );
  await session.serve();
  const host = node.jobHost;
  const coordinator = () => session.coordinator();
  const { syncTo, sitOut, awaitNextAttempt, groupOfRound, sendRecord, roundState } = bound(session);

  // ---- start: everyone at once for a fresh job; a restarted provider rejoins at the next commit
  let trained = 0;
  const committed = () => session.committed();
  await coordinator();
  if (!resumed && (await committed()) === 0) {
    const others = () => host.authorizedPeers().filter((p) => session.isProvider(p.address)).length;
    await pollUntil(() => (others() >= K - 1 ? true : undefined), 60_000, 200, o.signal);
    progress(`${node.name}: ${others() + 1}/${K} providers connected`);
  } else {
    // round `at` may be in flight without this node: it joins the round after it (or the round's
    // next attempt, when it is retried), and says so, so that the others neither wait for it now
    // nor leave it out then
    const at = await committed();
    log.info({ committed: at }, 'rejoining: waiting for the next commit or attempt');
    if (at < job.rounds) await awaitNextAttempt(at, (await roundState(at))?.attempt ?? 0);
  }

  for (;;) {
    if (o.signal?.aborted) break;
    const t0 = performance.now();
    const c = await committed();
    const state = (await readThroughOutage(() => market.getJob(jobId), { signal: o.signal })).state;
    if (c >= job.rounds || state !== 'Running') break;
    // past the completion deadline (the requester is gone, or the swarm too slow): the job ends by
    // the market's rules, closed by whoever sees it first
    if (
      await closeIfExpired({ conn, contracts, signer: node.signer, jobId, logger: log, onProgress: progress })
    )
      break;
    const reported = await readThroughOutage(() => reportedAsOf(conn, contracts.market, jobId));
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
    session.ready = c;
    session.readyAttempt = attempt;
    const members = await groupOfRound(c, attempt);
    if (members === 'retry') {
      // the round moved on meanwhile (committed, or retried), or the coordinator is unreachable
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    if (members === 'left-out') {
      await awaitNextAttempt(c, attempt);
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
      session.readyAttempt = attempt;
      log.info({ round: c, attempt }, 'round retried by the coordinator');
      const again = await groupOfRound(c, attempt);
      if (again === 'left-out') {
        await awaitNextAttempt(c, attempt);
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

  // ---- rewards: once the root is posted, recompute the split and claim this provider's leaf. The
  // requester posts it (it may wait minutes for the validators' last checks); while it is reachable
  // this provider waits for it, and once the job is closed and the requester is gone the providers
  // post the split of the committed rounds themselves (`settleWithoutCoordinator`)
  const zero = `0x${'0'.repeat(64)}`;
  const waitUntil = Date.now() + (o.commitWaitMs ?? 120_000) + 15 * 60_000;
  let claimed: bigint | undefined;
  for (;;) {
    let l = await readThroughOutage(() => ledger.getJobLedger(jobId), { signal: o.signal });
    const reachable = (await coordinator()) !== undefined;
    if (!l.closed && !reachable) {
      // every round committed (or the deadline passed) and the requester, who closes it, is gone
      await closeIfExpired({
        conn,
        contracts,
        signer: node.signer,
        jobId,
        logger: log,
        onProgress: progress,
        complete: true,
      });
      l = await ledger.getJobLedger(jobId);
    }
    const requesterGone = l.closed && !reachable;
    if (!requesterGone) {
      claimed = await claimPostedReward({
        host,
        coordinator,
        conn,
        ledger: contracts.ledger,
        jobId,
        store: node.store,
        signer: node.signer,
        recompute: (inputs, from) => session.recomputeSplit(inputs, from),
        timeoutMs: 30_000,
        logger: log,
        signal: o.signal,
      });
      if (claimed !== undefined) {
        progress(`${node.name}: claimed ${claimed} wei from job ${jobId}`);
        break;
      }
    }
    const posted = (await ledger.getJobLedger(jobId)).rewardRoot !== zero;
    if (requesterGone || posted) {
      // no split from the requester, or a root it did not serve (posted by the providers)
      const own = await session.settleWithoutCoordinator();
      if (own?.tree?.entries.some((e) => getAddress(e.account) === me)) {
        const c = await claimReward({
          store: node.store,
          conn,
          ledger: contracts.ledger,
          signer: node.signer,
          jobId,
          tree: own.tree,
        });
        claimed = c.amount;
        progress(`${node.name}: claimed ${claimed} wei from job ${jobId} (split posted by the providers)`);
      }
      if (own) break;
      // a root the requester posted (its split, with the validators' shares) is claimed from the
      // split it serves: while it is unreachable (restarting after a kill) this provider keeps
      // asking until `waitUntil` instead of giving up what it earned; a split it served that this
      // node cannot claim from (not in it, or not the posted root) ends the wait
      if (posted && (await coordinator()) !== undefined) break;
    }
    if (o.signal?.aborted || Date.now() > waitUntil) {
      log.warn('no reward root this provider can claim from; giving up on the claim');
      break;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  await node.closeJobNetwork();
  return { jobId, roundsTrained: trained, claimed };
}

/** The session's round steps as plain functions (the loop above reads like the round it runs). */
function bound(s: ProviderJobSession) {
  return {
    syncTo: (c: number) => s.syncTo(c),
    sitOut: (c: number) => s.sitOut(c),
    awaitNextAttempt: (c: number, a: number) => s.awaitNextAttempt(c, a),
    groupOfRound: (c: number, a: number) => s.groupOfRound(c, a),
    sendRecord: (c: number, a: number, r: ProviderRound) => s.sendRecord(c, a, r),
    roundState: (c: number) => s.roundState(c),
  };
}
