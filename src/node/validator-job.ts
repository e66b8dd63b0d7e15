/**
 * A validator daemon's part in one running job, across processes. After each round's commit it
 * fetches the committed records from the coordinator (checked against the chain's records root),
 * every worker's Δ from that worker (`delta`, checked against the signed pseudo-gradient hash) and
 * the committed model the round started from (`checkpoint`, checked against the chain), then runs
 * the contribution checks and loss-reduction scores (`validateRound`). A worker flagged in
 * FLAG_STREAK consecutive rounds is reported on chain (`reportFraud`), which takes it out of the
 * following rounds. It tells the coordinator which rounds it checked (`checked`), which is what
 * validators are paid by, and claims its reward at the end. Per-round results are persisted before
 * any report is sent.
 */
import { type Address, getAddress, type Hex, keccak256, type LocalAccount } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraHost } from '../net/host.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { createRuntime } from '../train/onnx/index.ts';
import { submitFraudReport } from '../verify/evidence.ts';
import { validateRound } from '../verify/round-validator.ts';
import { jobPeers, reportedAsOf } from './job-chain.ts';
import {
  claimPostedReward,
  connectTo,
  fetchCommittedCheckpoint,
  fetchCommittedRound,
  fetchCommittedRounds,
  type JobContracts,
  jobSplitFromChain,
  peerOf,
} from './job-sync.ts';
import type { Logger } from './logger.ts';
import type { JobNetOptions } from './provider.ts';
import { roundRequest } from './round-protocol.ts';
import { batchesOf, planMnistShards } from './shard-data.ts';
import type { NodeStore } from './store.ts';
import { innerOptimizerFor, modelSpecHash, TASKS, taskSpec } from './task.ts';

/** Consecutive flagged rounds before a worker is reported (an honest label-skewed Δ can look odd once). */
export const FLAG_STREAK = 3;

export type ValidatorJobOptions = {
  conn: ChainConnection;
  contracts: JobContracts;
  jobId: bigint;
  account: LocalAccount;
  signer: Signer;
  store: NodeStore;
  logger: Logger;
  bootstrap: string[];
  net?: JobNetOptions;
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
};

export async function runValidatorJob(
  o: ValidatorJobOptions,
): Promise<{ checked: number; reported: Address[] }> {
  const { conn, contracts, jobId, store, logger } = o;
  const progress = o.onProgress ?? (() => {});
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const job = await market.getJob(jobId);
  const task = TASKS.find((t) => modelSpecHash(taskSpec(t)) === job.modelSpecHash);
  if (!task) {
    logger.warn({ jobId: jobId.toString() }, 'unknown task: not validating this job');
    return { checked: 0, reported: [] };
  }
  const spec = taskSpec(task);
  const peers = await jobPeers(conn, contracts, jobId);
  const host = new AgoraHost({
    account: o.account,
    chainId: conn.chainId,
    jobId: jobId.toString(),
    participants: peers.all,
    logger,
    announceIntervalMs: o.net?.announceIntervalMs ?? 1000,
    bootstrap: o.bootstrap,
    ...(o.net?.listen ? { listen: o.net.listen } : {}),
  });
  await host.start();
  const runtime = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
  const plan = planMnistShards(2, 5);
  const heldOut = batchesOf(plan.pool, plan.test).slice(0, 1);
  const reported: Address[] = [];
  let checked = 0;
  try {
    const coordinator = async () =>
      peerOf(host, peers.requester) ?? (await connectTo(host, peers.requester, o.bootstrap, 5000, o.signal));
    let previous: { worker: Address; delta: Float32Array }[] | undefined;
    const streak = new Map<string, number>();
    let next = Number(store.getJson<number>(`validator:${jobId}:next`) ?? 0);
    while (!o.signal?.aborted && next < job.rounds) {
      const committed = await ledger.roundsCommitted(jobId);
      if (committed <= next) {
        const l = await ledger.getJobLedger(jobId);
        if (l.closed) break;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const coord = await coordinator();
      if (!coord) continue;
      const round = next;
      const rec = await fetchCommittedRound({
        host,
        peer: coord,
        conn,
        ledger: contracts.ledger,
        jobId,
        round,
      }).catch((e: Error) => {
        logger.warn({ round, err: e.message }, 'round records not available');
        return undefined;
      });
      if (!rec) {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      // θ the round started from: the committed model of round − 1 (round 0: the task's seeded init)
      let theta: Float32Array | undefined;
      if (round === 0) {
        runtime.init(spec.seed);
        theta = runtime.getParams();
      } else {
        const want = (await ledger.getRound(jobId, BigInt(round - 1))).modelHash;
        const ck = await fetchCommittedCheckpoint({
          host,
          providers: peers.providers,
          jobId,
          round: round - 1,
          want,
          logger,
        });
        if (ck) theta = decodeTrainingCheckpoint(ck.bytes).params;
      }
      const current: { worker: Address; delta: Float32Array; pseudoGradientHash: Hex }[] = [];
      for (const r of rec.records) {
        const p = peerOf(host, r.worker);
        const d = p
          ? await roundRequest(host, p, { t: 'delta', jobId: jobId.toString(), round }).catch(() => undefined)
          : undefined;
        if (!d?.ok || !d.payload || keccak256(d.payload) !== r.pseudoGradientHash) continue;
        const bytes = d.payload.slice();
        current.push({
          worker: getAddress(r.worker),
          delta: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
          pseudoGradientHash: r.pseudoGradientHash,
        });
      }
      let flagged: Address[] = [];
      if (theta && current.length >= 2) {
        const v = await validateRound({
          jobId,
          round: BigInt(round),
          current,
          previous,
          theta,
          runtime,
          heldOut,
        });
        const now = new Set(v.evidence.map((e) => e.worker.toLowerCase()));
        for (const c of current) {
          const k = c.worker.toLowerCase();
          streak.set(k, now.has(k) ? (streak.get(k) ?? 0) + 1 : 0);
        }
        flagged = v.evidence.map((e) => e.worker);
        const already = await reportedAsOf(conn, contracts.market, jobId);
        const toReport = v.evidence.filter(
          (e) =>
            (streak.get(e.worker.toLowerCase()) ?? 0) >= FLAG_STREAK && !already.has(e.worker.toLowerCase()),
        );
        store.saveRound(jobId, round, 'checked', {
          workers: current.map((c) => c.worker),
          flagged,
          reporting: toReport.map((e) => e.worker),
        });
        for (const ev of toReport) {
          const rep = await submitFraudReport(market, o.signer, ev);
          reported.push(ev.worker);
          progress(
            `validator: ${ev.worker} flagged ${FLAG_STREAK} rounds in a row (${ev.kind}); fraud report ${rep.reportId}`,
          );
        }
        previous = current;
        checked++;
        await roundRequest(host, coord, { t: 'checked', jobId: jobId.toString(), round, flagged }).catch(
          () => undefined,
        );
      } else {
        logger.warn(
          { round, deltas: current.length, theta: theta !== undefined },
          'round could not be checked',
        );
        previous = undefined;
      }
      next = round + 1;
      store.setJson(`validator:${jobId}:next`, next);
    }
    // ---- claim: recompute the posted split and claim this validator's leaf
    const claimed = await claimPostedReward({
      host,
      coordinator,
      conn,
      ledger: contracts.ledger,
      jobId,
      store,
      signer: o.signer,
      recompute: async (validators, peer) => {
        const l = await ledger.getJobLedger(jobId);
        const rounds = await fetchCommittedRounds({
          host,
          peer,
          conn,
          ledger: contracts.ledger,
          jobId,
          rounds: l.roundsCommitted,
        });
        return jobSplitFromChain({ conn, contracts, jobId, rounds, validators });
      },
      timeoutMs: 180_000,
      logger,
      signal: o.signal,
    });
    if (claimed !== undefined) progress(`validator: claimed ${claimed} wei from job ${jobId}`);
    return { checked, reported };
  } finally {
    await runtime.dispose();
    await host.stop();
  }
}
