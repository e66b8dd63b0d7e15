/**
 * A validator daemon's part in one running job, across processes (docs/swarm.md, "Across
 * processes"; docs/validation-and-rewards.md §3). After each round's commit it fetches the committed
 * records with the workers' signed round traces from the coordinator, or from a provider that
 * co-signed the commit when the coordinator is down (records checked against the chain's records
 * root, traces against their workers' signatures), every worker's Δ from that worker
 * (`delta`, checked against the signed pseudo-gradient hash) and the committed model the round started
 * from (`checkpoint`, checked against the chain). Then, per worker (`checkWorkerRound`):
 *   - the samples and link checks (every worker): the provenance is the trace's sampler's samples, and
 *     Δ == f32(θ_start − θ_final) bit-exactly with θ_final the trace's last state;
 *   - a random replay: one (worker, window) per round from the round's commit (`replaySeed`,
 *     `selectReplayWindow`), retrained and compared with the signed end state;
 *   - a targeted replay of every window of a worker the statistical checks flag (`validateRound`).
 * Only a failed check — proof against the worker's own signatures and the chain — is reported
 * (`reportFraud`, which takes the worker out of the following rounds); statistical flags alone and
 * rounds it cannot verify (worker down, refusing, serving bytes that do not match its commitments)
 * are logged and persisted, not reported. It tells the coordinator which rounds it checked
 * (`checked`, kept until the coordinator takes it: src/node/check-reports.ts), which is what
 * validators are paid by, and claims its reward at the end. Per-round
 * results and evidence are persisted before any report is sent.
 */
import { type Address, getAddress, type Hex, keccak256, type LocalAccount, zeroHash } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { Signer } from '../chain/tx.ts';
import { roundRecordsRoot } from '../data/provenance.ts';
import { AgoraError } from '../errors.ts';
import { AgoraHost } from '../net/host.ts';
import { taskOf } from '../task/registry.ts';
import { innerOptimizerFor, type TaskSpec } from '../task/spec.ts';
import { type PrepState, prepOfInfo } from '../task/task.ts';
import { decodeTrainingCheckpoint } from '../train/checkpoint/training-checkpoint.ts';
import { createRuntime } from '../train/onnx/index.ts';
import { checkAttestationToJson, signCheckAttestation } from '../verify/check-attestation.ts';
import { evidenceHash, evidenceJson, type FraudEvidence, submitFraudReport } from '../verify/evidence.ts';
import { asReplayable, type RoundTrace, selectReplayWindow } from '../verify/replay.ts';
import { validateRound } from '../verify/round-validator.ts';
import { roundTraceSigner, traceFromJson, traceProblems, traceWindow } from '../verify/trace-wire.ts';
import { readThroughOutage } from './chain-outage.ts';
import { CheckReportOutbox } from './check-reports.ts';
import { jobPeers, reportedAsOf } from './job-chain.ts';
import { closeIfExpired } from './job-expiry.ts';
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
} from './job-sync.ts';
import { checkLdaStats, type LdaCheckInput } from './lda-checks.ts';
import type { Logger } from './logger.ts';
import { checkPrepStats, type PrepCheckInput } from './prep-checks.ts';
import type { JobNetOptions } from './provider.ts';
import { checkWorkerRound, replaySeed, type WorkerRoundCheck } from './round-checks.ts';
import { provenanceFromJson, roundRequest, type SignedRecordJson } from './round-protocol.ts';
import type { NodeStore } from './store.ts';
import { createTaskRuntime, initTaskParams } from './task-runtime.ts';

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
  /** Swarm-statistics chunks recomputed per provider of round 0 (default `PREP_CHUNKS_CHECKED`). */
  prepChunks?: number;
};

export async function runValidatorJob(
  o: ValidatorJobOptions,
): Promise<{ checked: number; reported: Address[] }> {
  const { conn, contracts, jobId, store, logger } = o;
  const progress = o.onProgress ?? (() => {});
  const market = computeMarketClient(conn, contracts.market);
  const ledger = trainingLedgerClient(conn, contracts.ledger);
  const job = await market.getJob(jobId);
  const spec = await jobSpecOf(conn, contracts.market, job, store).catch((e: Error) => {
    logger.warn(
      { jobId: jobId.toString(), err: e.message },
      'cannot read the job spec: not validating this job',
    );
    return undefined;
  });
  if (!spec) return { checked: 0, reported: [] };
  const task = taskOf(spec.kind);
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
  // scoring runtime (loss reduction) and replay runtime (the providers' inner schedule over the job)
  const runtime = createRuntime({ model: spec.model, optimizer: innerOptimizerFor(spec, 1), threads: 1 });
  const replayRt = asReplayable(
    createTaskRuntime(spec, { totalSteps: job.innerSteps * job.rounds, threads: 1, stepsPerCall: 5 }),
  );
  // the task's public held-out data for loss-reduction scores (none: the statistical checks are skipped)
  const heldOut = task.heldOut?.(spec) ?? [];
  /** The task's swarm statistics (tabular standardization), read from a committed checkpoint. */
  let prep: PrepState | undefined;
  const registry = dataRegistryClient(conn, contracts.registry);
  const jobDatasets = new Set((await market.datasetsOf(jobId)).map(String));
  const datasets = new Map<string, { id: bigint; root: Hex; records: number }>();
  const datasetOf = async (id: string) => {
    let d = datasets.get(id);
    if (!d) {
      const x = await registry.getDataset(BigInt(id));
      d = { id: BigInt(id), root: x.root, records: Number(x.records) };
      datasets.set(id, d);
    }
    return d;
  };
  const reported: Address[] = [];
  let checked = 0;
  try {
    const coordinator = async () =>
      peerOf(host, peers.requester) ?? (await connectTo(host, peers.requester, o.bootstrap, 5000, o.signal));
    /**
     * Who serves a committed round's records with their traces: the coordinator, and every provider
     * that co-signed the commit (it keeps them), so a round is checked while the requester is down.
     */
    const roundSources = async (): Promise<string[]> => {
      const connected = [peers.requester, ...peers.providers].flatMap((a) => peerOf(host, a) ?? []);
      if (connected.length > 0) return connected;
      const c = await coordinator();
      return c ? [c] : [];
    };
    const reports = new CheckReportOutbox({ store, host, jobId, requester: peers.requester, logger });
    let previous: { worker: Address; delta: Float32Array }[] | undefined;
    let next = Number(store.getJson<number>(`validator:${jobId}:next`) ?? 0);
    store.setJson(`validator:${jobId}:started`, true);
    let expiryCheckedAt = 0;
    /**
     * The job is closed and its reward split posted: a round this validator cannot fetch (its
     * coordinator or providers gone, e.g. after a restart) is left unchecked and it goes on to its
     * claim. Rounds it can fetch are still checked: a fraud report stands while stakes are held.
     */
    const splitPosted = async () => {
      const l = await readThroughOutage(() => ledger.getJobLedger(jobId), { signal: o.signal });
      if (!l.closed || l.rewardRoot === zeroHash) return false;
      logger.info(
        { jobId: jobId.toString(), from: next },
        'job closed and its split posted: rounds left unchecked',
      );
      return true;
    };
    while (!o.signal?.aborted && next < job.rounds) {
      const committed = await readThroughOutage(() => ledger.roundsCommitted(jobId), { signal: o.signal });
      if (committed <= next) {
        const l = await readThroughOutage(() => ledger.getJobLedger(jobId), { signal: o.signal });
        if (l.closed) break;
        // nothing to check and the job past its completion deadline: it ends by the market's rules
        if (Date.now() - expiryCheckedAt > 5000) {
          expiryCheckedAt = Date.now();
          await closeIfExpired({ conn, contracts, signer: o.signer, jobId, logger, onProgress: progress });
        }
        await reports.flush();
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      await reports.flush();
      const sources = await roundSources();
      if (sources.length === 0) {
        if (await splitPosted()) break;
        continue;
      }
      const round = next;
      const t0 = performance.now();
      const onChain = await ledger.getRound(jobId, BigInt(round));
      const rec = await fetchRoundFromAny(host, sources, jobId, round, onChain, logger);
      if (!rec) {
        if (await splitPosted()) break;
        await new Promise((r) => setTimeout(r, 300));
        continue;
      }
      // θ the round started from: the committed model of round − 1 (round 0: the task's seeded init)
      let theta: Float32Array | undefined;
      let startModelHash: Hex = `0x${'0'.repeat(64)}`;
      if (round === 0) {
        theta = initTaskParams(spec, runtime);
        if (task.preparation && !prep) {
          // round 0's statistics are in its committed model (they never change after round 0)
          const ck0 = await fetchCommittedCheckpoint({
            host,
            providers: peers.providers,
            jobId,
            round: 0,
            want: onChain.modelHash,
            logger,
          });
          if (ck0) prep = prepOfInfo(decodeTrainingCheckpoint(ck0.bytes).info);
        }
      } else {
        startModelHash = (await ledger.getRound(jobId, BigInt(round - 1))).modelHash;
        const ck = await fetchCommittedCheckpoint({
          host,
          providers: peers.providers,
          jobId,
          round: round - 1,
          want: startModelHash,
          logger,
        });
        if (ck) {
          const c = decodeTrainingCheckpoint(ck.bytes);
          theta = c.params;
          prep = prepOfInfo(c.info) ?? prep;
        }
      }
      const current: { worker: Address; delta: Float32Array; pseudoGradientHash: Hex }[] = [];
      for (const r of rec) {
        const p = peerOf(host, r.record.worker as Address);
        const d = p
          ? await roundRequest(host, p, { t: 'delta', jobId: jobId.toString(), round }).catch(() => undefined)
          : undefined;
        if (!d?.ok || !d.payload || keccak256(d.payload) !== r.record.pseudoGradientHash) continue;
        const bytes = d.payload.slice();
        current.push({
          worker: getAddress(r.record.worker),
          delta: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
          pseudoGradientHash: r.record.pseudoGradientHash as Hex,
        });
      }
      // statistical checks: they choose whom to replay in full, they do not report on their own
      const tFetched = performance.now();
      let flagged: Address[] = [];
      if (theta && current.length >= 2 && heldOut.length > 0) {
        const v = await validateRound({
          jobId,
          round: BigInt(round),
          current,
          previous,
          theta,
          runtime,
          heldOut,
        });
        flagged = v.evidence.map((e) => e.worker);
        previous = current;
      } else previous = undefined;
      // proof-based checks: samples + link for every worker with a valid trace, one random window,
      // every window of a flagged worker
      const traced: { r: SignedRecordJson; trace: RoundTrace; traceSignature: Hex }[] = [];
      const unusable: string[] = [];
      for (const r of rec) {
        const t = await verifiedTrace(r, jobId, round, job.innerSteps, spec);
        if (typeof t === 'string') {
          unusable.push(getAddress(r.record.worker));
          logger.warn(
            { round, worker: r.record.worker, reason: t },
            'round trace unusable: worker not checked',
          );
        } else traced.push({ r, trace: t, traceSignature: r.traceSignature as Hex });
      }
      const tStats = performance.now();
      const checks: WorkerRoundCheck[] = [];
      if (traced.length > 0) {
        const W = traceWindow(job.innerSteps);
        const sel = selectReplayWindow({
          jobId,
          round: BigInt(round),
          validatorSeed: replaySeed(onChain.recordsRoot, onChain.modelHash),
          workers: traced.map((x) => x.trace.worker),
          innerSteps: job.innerSteps,
          window: W,
        });
        for (const x of traced) {
          const w = x.trace.worker;
          const ids = Object.keys(x.r.provenance.samplePairs);
          if (ids.length !== 1 || !jobDatasets.has(ids[0])) {
            unusable.push(w);
            logger.warn({ round, worker: w, datasets: ids }, 'provenance names no single dataset of the job');
            continue;
          }
          const all = Array.from({ length: job.innerSteps / W }, (_, k) => k);
          const windows = flagged.some((f) => getAddress(f) === w)
            ? all
            : getAddress(sel.worker) === w
              ? [sel.windowIndex]
              : [];
          checks.push(
            await checkWorkerRound({
              host,
              jobId,
              round,
              spec,
              ...(prep ? { prep } : {}),
              trace: x.trace,
              traceSignature: x.traceSignature,
              provenance: provenanceFromJson(x.r.provenance),
              delta: current.find((c) => c.worker === w)?.delta,
              thetaStart: theta,
              startModelHash,
              dataset: await datasetOf(ids[0]),
              windows,
              runtime: replayRt,
              signal: o.signal,
            }),
          );
        }
      }
      if (spec.calibration === 'lda-head' && round === job.rounds - 1 && traced.length > 0) {
        await checkLastRoundLda(round, onChain.modelHash, traced, checks);
      }
      if (round === 0 && task.preparation && traced.length > 0) {
        await checkRoundZeroStats(onChain.modelHash, traced, checks);
      }
      const evidence = checks.flatMap((c) => (c.evidence ? [c.evidence] : []));
      const already = await reportedAsOf(conn, contracts.market, jobId);
      const toReport = evidence.filter((e) => !already.has(e.worker.toLowerCase()));
      const verified = checks.some(
        (c) =>
          c.link.status === 'pass' ||
          c.link.status === 'fail' ||
          c.replays.some((r) => r.status !== 'unverifiable' && r.status !== 'skipped'),
      );
      // persisted before any report is sent (a restart re-checks this round and skips sent reports)
      store.saveRound(jobId, round, 'checked', {
        workers: rec.map((r) => getAddress(r.record.worker)),
        flagged,
        checks: checks.map(summary),
        unusable,
        reporting: toReport.map((e) => ({ evidence: evidenceJson(e), evidenceHash: evidenceHash(e) })),
      });
      logChecks(logger, round, checks);
      const ms = (a: number, b: number) => Math.round(b - a);
      const tDone = performance.now();
      logger.info(
        {
          round,
          behind: committed - 1 - round,
          fetchMs: ms(t0, tFetched),
          statsMs: ms(tFetched, tStats),
          proofMs: ms(tStats, tDone),
          bytes: checks.reduce((a, c) => a + c.bytesFetched, 0),
        },
        'round validated',
      );
      for (const ev of toReport) {
        const rep = await submitFraudReport(market, o.signer, ev);
        reported.push(ev.worker);
        progress(
          `validator: ${ev.worker} failed the ${checkName(ev)} check of round ${round + 1}; fraud report ${rep.reportId}`,
        );
      }
      if (verified) {
        checked++;
        // the workers this validator could not verify (no usable trace, or no Δ / states from them):
        // signed, so the reward split can leave those rounds unpaid (src/verify/check-attestation.ts)
        const unverifiable =
          theta === undefined
            ? []
            : [
                ...unusable.map((w) => getAddress(w)),
                ...checks
                  .filter(
                    (c) =>
                      c.link.status === 'unverifiable' ||
                      c.lda?.status === 'unverifiable' ||
                      c.prep?.status === 'unverifiable',
                  )
                  .map((c) => getAddress(c.worker)),
              ];
        const attestation = await signCheckAttestation(o.account, jobId, round, unverifiable);
        reports.add({
          round,
          flagged: evidence.map((e) => getAddress(e.worker)),
          attestation: checkAttestationToJson(attestation),
        });
        await reports.flush();
      } else {
        logger.warn(
          { round, deltas: current.length, theta: theta !== undefined },
          'round could not be checked',
        );
      }
      next = round + 1;
      store.setJson(`validator:${jobId}:next`, next);
    }
    // ---- the reports the coordinator has not taken (it was down): sent once it is back, before the
    // split it fixes (it waits for them), unless the split is posted without it
    await pollUntil(
      async () => {
        if (reports.pending().length === 0) return true;
        await coordinator(); // dials it when it is not connected (flush does not)
        if ((await reports.flush()) === 0) return true;
        const l = await readThroughOutage(() => ledger.getJobLedger(jobId), { signal: o.signal });
        return l.closed && l.rewardRoot !== zeroHash ? true : undefined;
      },
      180_000,
      1000,
      o.signal,
    );
    // ---- claim: recompute the posted split and claim this validator's leaf
    const claimed = await claimPostedReward({
      host,
      coordinator,
      conn,
      ledger: contracts.ledger,
      jobId,
      store,
      signer: o.signer,
      recompute: async ({ validators, attestations }, peer) => {
        const l = await ledger.getJobLedger(jobId);
        const rounds = await fetchCommittedRounds({
          host,
          peer,
          conn,
          ledger: contracts.ledger,
          jobId,
          rounds: l.roundsCommitted,
        });
        return jobSplitFromChain({ conn, contracts, jobId, rounds, validators, attestations });
      },
      timeoutMs: 180_000,
      logger,
      signal: o.signal,
    });
    if (claimed !== undefined) progress(`validator: claimed ${claimed} wei from job ${jobId}`);
    return { checked, reported };

    /**
     * The swarm statistics of round 0's workers (sampled chunks recomputed from their records),
     * against the preprocessing state of round 0's committed model: each result goes into the
     * worker's round check (a failure is its evidence, if it has none yet).
     */
    async function checkRoundZeroStats(
      modelHash: Hex,
      traced: readonly { r: SignedRecordJson; trace: RoundTrace; traceSignature: Hex }[],
      checks: WorkerRoundCheck[],
    ): Promise<void> {
      const workers: PrepCheckInput['workers'][number][] = [];
      for (const x of traced) {
        const ids = Object.keys(x.r.provenance.samplePairs);
        if (ids.length !== 1 || !jobDatasets.has(ids[0])) continue;
        workers.push({
          worker: getAddress(x.r.record.worker),
          statement: x.r.prep,
          dataset: await datasetOf(ids[0]),
        });
      }
      // a bug must not end the validator's job: unverifiable, logged
      const results = await checkPrepStats({
        host,
        jobId,
        spec: spec!,
        committedPrep: prep,
        committedModelHash: modelHash,
        workers,
        ...(o.prepChunks !== undefined ? { chunks: o.prepChunks } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      }).catch((e: Error) =>
        workers.map((w) => ({
          worker: getAddress(w.worker),
          status: 'unverifiable' as const,
          reason: `statistics check failed: ${e.message}`,
          chunks: [] as number[],
          bytesFetched: 0,
          evidence: undefined,
        })),
      );
      for (const p of results) {
        const c = checks.find((x) => getAddress(x.worker) === p.worker);
        if (!c) continue;
        c.prep = { status: p.status, ...(p.reason ? { reason: p.reason } : {}), chunks: p.chunks };
        c.bytesFetched += p.bytesFetched;
        if (p.evidence) c.evidence ??= p.evidence;
      }
      logger.info(
        {
          prep: results.map(
            (p) =>
              `${p.worker.slice(0, 8)}:${p.status}[${p.chunks.join(',')}]${p.reason ? `(${p.reason})` : ''}`,
          ),
        },
        'swarm statistics checked',
      );
    }

    /**
     * The LDA statistics of the last round's workers, against the round's committed model: each
     * result goes into the worker's round check (a failure is its evidence, if it has none yet).
     */
    async function checkLastRoundLda(
      round: number,
      modelHash: Hex,
      traced: readonly { r: SignedRecordJson; trace: RoundTrace; traceSignature: Hex }[],
      checks: WorkerRoundCheck[],
    ): Promise<void> {
      const ck = await fetchCommittedCheckpoint({
        host,
        providers: peers.providers,
        jobId,
        round,
        want: modelHash,
        logger,
      });
      const workers: LdaCheckInput['workers'][number][] = [];
      for (const x of traced) {
        const ids = Object.keys(x.r.provenance.samplePairs);
        if (ids.length !== 1 || !jobDatasets.has(ids[0])) continue;
        workers.push({
          trace: x.trace,
          traceSignature: x.traceSignature,
          statement: x.r.lda,
          dataset: await datasetOf(ids[0]),
        });
      }
      // a bug or a malformed committed model must not end the validator's job: unverifiable, logged
      const results = await checkLdaStats({
        host,
        jobId,
        round,
        spec: spec!,
        ...(prep ? { prep } : {}),
        committed: ck ? decodeTrainingCheckpoint(ck.bytes).params : undefined,
        committedModelHash: modelHash,
        workers,
        ...(o.signal ? { signal: o.signal } : {}),
      }).catch((e: Error) =>
        workers.map((w) => ({
          worker: getAddress(w.trace.worker),
          status: 'unverifiable' as const,
          reason: `LDA check failed: ${e.message}`,
          bytesFetched: 0,
          evidence: undefined,
        })),
      );
      for (const l of results) {
        const c = checks.find((x) => getAddress(x.worker) === l.worker);
        if (!c) continue;
        c.lda = { status: l.status, ...(l.reason ? { reason: l.reason } : {}) };
        c.bytesFetched += l.bytesFetched;
        if (l.evidence) c.evidence ??= l.evidence;
      }
      logger.info(
        {
          round,
          lda: results.map((l) => `${l.worker.slice(0, 8)}:${l.status}${l.reason ? `(${l.reason})` : ''}`),
        },
        'LDA statistics checked',
      );
    }
  } finally {
    await runtime.dispose();
    await replayRt.dispose();
    await host.stop();
  }
}

/**
 * A committed round's signed records with their traces from the first of `sources` that serves
 * them (the coordinator first, then the providers), or undefined when none does yet.
 */
async function fetchRoundFromAny(
  host: AgoraHost,
  sources: readonly string[],
  jobId: bigint,
  round: number,
  onChain: { recordsRoot: Hex; modelHash: Hex },
  logger: Logger,
): Promise<SignedRecordJson[] | undefined> {
  const errors: string[] = [];
  for (const peer of sources) {
    const rec = await fetchRoundWithTraces(host, peer, jobId, round, onChain).catch((e: Error) => {
      errors.push(e.message);
      return undefined;
    });
    if (rec) return rec;
  }
  // committed on chain a moment before the coordinator recorded it: asked again shortly
  if (errors.every((e) => /is not committed|holds no committed records/.test(e)))
    logger.debug({ round, errors }, 'round records not yet');
  else logger.warn({ round, errors }, 'round records not available');
  return undefined;
}

/** A committed round's signed records with their traces, the records checked against the chain. */
async function fetchRoundWithTraces(
  host: AgoraHost,
  peer: string,
  jobId: bigint,
  round: number,
  onChain: { recordsRoot: Hex; modelHash: Hex },
): Promise<SignedRecordJson[]> {
  const r = await roundRequest(host, peer, { t: 'round-records', jobId: jobId.toString(), round });
  if (!r.ok) throw new AgoraError('NODE_ROUND_RECORDS', `round ${round} records: ${r.reason}`);
  const root = roundRecordsRoot(
    jobId,
    round,
    r.records.map((x) => provenanceFromJson(x.provenance)),
  );
  if (root !== onChain.recordsRoot || r.modelHash !== onChain.modelHash) {
    throw new AgoraError(
      'NODE_ROUND_RECORDS',
      `the records of round ${round} do not match the chain's commit`,
      {
        hint: 'the coordinator serves a wrong or stale round',
      },
    );
  }
  return r.records;
}

/**
 * The record's trace if it is usable — for this job, round and worker, of the task's shape, and
 * signed by the worker (the coordinator relays it, so it is not trusted) — else why not.
 */
async function verifiedTrace(
  r: SignedRecordJson,
  jobId: bigint,
  round: number,
  innerSteps: number,
  spec: TaskSpec,
): Promise<RoundTrace | string> {
  if (!r.trace || !r.traceSignature) return 'no trace';
  const t = traceFromJson(r.trace);
  const problems = traceProblems(t, {
    jobId,
    round: BigInt(round),
    worker: getAddress(r.record.worker),
    innerSteps,
    batchSize: spec.batchSize,
  });
  if (problems.length > 0) return problems.join('; ');
  const signer = await roundTraceSigner(t, r.traceSignature as Hex).catch(() => undefined);
  return signer === getAddress(r.record.worker) ? t : 'the trace is not signed by its worker';
}

function summary(c: WorkerRoundCheck): Record<string, unknown> {
  return {
    worker: c.worker,
    samples: c.samples,
    link: c.link,
    replays: c.replays,
    ...(c.lda ? { lda: c.lda } : {}),
    ...(c.prep ? { prep: c.prep } : {}),
    bytesFetched: c.bytesFetched,
    failed: c.evidence !== undefined,
  };
}

function checkName(e: FraudEvidence): string {
  const d = e.details as { check?: string };
  return d.check ?? (e.kind === 'replay-mismatch' ? 'replay' : e.kind);
}

function logChecks(logger: Logger, round: number, checks: readonly WorkerRoundCheck[]): void {
  for (const c of checks) {
    const replays = c.replays.filter((r) => r.status !== 'skipped');
    logger.info(
      {
        round,
        worker: c.worker,
        samples: c.samples.status,
        link: c.link.status,
        replays: replays.map(
          (r) => `${r.window}:${r.status}${r.replayMs ? `:${r.replayMs.toFixed(1)}ms` : ''}`,
        ),
        bytes: c.bytesFetched,
        ...(c.link.reason ? { linkReason: c.link.reason } : {}),
        ...(replays.some((r) => r.reason) ? { replayReason: replays.find((r) => r.reason)?.reason } : {}),
      },
      c.evidence ? 'round check failed' : 'round checked',
    );
  }
}
