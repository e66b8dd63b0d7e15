/**
 * One chaos-soak trial: a fresh swarm of processes (bench/soak/swarm.ts), a tiny job, one role
 * killed with SIGKILL at the planned moment and restarted after the planned delay
 * (bench/soak/plan.ts), then the end of the job awaited and checked (bench/soak/checks.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, getAddress } from 'viem';
import { connectChain } from '../../src/chain/connect.ts';
import { readDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import {
  type Check,
  type CheckInput,
  checkTrial,
  storePath,
  type TrialFacts,
  tokenBalances,
} from './checks.ts';
import { describePlan, type TrialPlan } from './plan.ts';
import {
  providerAccount,
  REQUESTER_ACCOUNT,
  type Swarm,
  type SwarmRole,
  startSwarm,
  VALIDATOR_ACCOUNT,
} from './swarm.ts';

export type TrialOptions = {
  providers: number;
  rounds: number;
  H: number;
  /** the job's completion deadline, seconds after creation */
  deadlineSeconds: number;
  /** the whole trial's limit (setup + job + claims) */
  timeoutMs: number;
  shardSize: number;
  /** keep the trial's directory (homes, logs) even when it passes */
  keep?: boolean;
  log?: (line: string) => void;
  /** called after the checks, while the chain still runs, with what they read (tests of the checks) */
  inspect?: (input: CheckInput) => Promise<void>;
};

export type TrialResult = {
  seed: number;
  plan: string;
  passed: boolean;
  /** what went wrong: a failed check, a timeout, a crash of the harness */
  failures: string[];
  checks: Check[];
  facts?: TrialFacts;
  jobId?: string;
  /** when the kill happened (rounds committed on chain at that moment) and when the role came back */
  killedAtRound?: number;
  killedAtMs?: number;
  restartedAtMs?: number;
  /** setup, job (creation → every claim) and total wall time */
  setupMs: number;
  jobMs: number;
  wallMs: number;
  /** the trial's directory when kept (failures keep it) */
  dir?: string;
};

export async function runTrial(plan: TrialPlan, o: TrialOptions): Promise<TrialResult> {
  const log = o.log ?? (() => {});
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `agora-soak-${plan.seed}-`));
  const result: TrialResult = {
    seed: plan.seed,
    plan: describePlan(plan),
    passed: false,
    failures: [],
    checks: [],
    setupMs: 0,
    jobMs: 0,
    wallMs: 0,
  };
  let swarm: Swarm | undefined;
  const deadline = t0 + o.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  try {
    swarm = await startSwarm({
      dir,
      providers: o.providers,
      shardSize: o.shardSize,
      stepTimeoutMs: Math.min(180_000, o.timeoutMs),
      log,
    });
    const conn = await connectChain({ rpcUrl: swarm.rpc });
    const d = readDeployment(swarm.chainHome, conn.chainId)!;
    const contracts = {
      market: d.contracts.ComputeMarket!,
      ledger: d.contracts.TrainingLedger!,
      token: d.contracts.AgoraToken!,
      params: d.contracts.ProtocolParams!,
    };
    const ledger = trainingLedgerClient(conn, contracts.ledger);
    const address = (n: number) => getAddress(devnetAccount(n).address);
    const requester = address(REQUESTER_ACCOUNT);
    const validator = address(VALIDATOR_ACCOUNT);
    const providerAddrs = swarm.providers.map((_, i) => address(providerAccount(i)));
    const before = await tokenBalances(conn, contracts, [requester, validator, ...providerAddrs]);
    result.setupMs = Date.now() - t0;

    const tJob = Date.now();
    const jobId = await swarm.createJob({
      rounds: o.rounds,
      H: o.H,
      deadlineSeconds: o.deadlineSeconds,
      joinWindowSeconds: Math.max(1, Math.min(120, Math.floor(o.deadlineSeconds / 2))),
      challengeSeconds: 10,
    });
    result.jobId = jobId.toString();
    log(`job ${jobId} created; plan: ${result.plan}`);

    const victim: SwarmRole =
      plan.role === 'requester'
        ? swarm.requester
        : plan.role === 'validator'
          ? swarm.validator
          : swarm.providers[plan.provider ?? 0];
    // wait for the planned moment
    const m = plan.moment;
    const reached = async () => {
      const l = await ledger.getJobLedger(jobId);
      if (m.after === 'created') return true;
      if (m.after === 'closed') return l.closed;
      return l.roundsCommitted >= m.rounds || l.closed;
    };
    await waitFor('the kill moment', reached, left());
    await sleep(plan.jitterMs);
    result.killedAtRound = await ledger.roundsCommitted(jobId);
    result.killedAtMs = Date.now() - tJob;
    swarm.kill(victim);
    log(`killed ${victim.name} (${result.killedAtRound} rounds committed)`);
    await sleep(plan.restartDelayMs);
    swarm.restart(victim);
    result.restartedAtMs = Date.now() - tJob;
    log(`restarted ${victim.name}`);

    // the end: closed, and (when anything was earned) the root posted and every leaf claimed
    const end = await waitFor(
      'the job to close and every reward to be claimed',
      async () => {
        const l = await ledger.getJobLedger(jobId);
        if (!l.closed) return false;
        if (l.roundsCommitted === 0) return true;
        return l.rewardRoot !== `0x${'0'.repeat(64)}` && l.claimed === l.rewardTotal;
      },
      left(),
    ).catch((e: Error) => e);
    result.jobMs = Date.now() - tJob;
    if (end instanceof Error) result.failures.push(end.message);
    swarm.stopNodes();
    await sleep(300);
    swarm.saveOutputs(join(dir, 'out'));

    const providerStores = new Map<string, string>(
      swarm.providers.map((p, i) => [providerAddrs[i], storePath(p.home, p.name)] as [Address, string]),
    );
    const input: CheckInput = {
      conn,
      contracts,
      jobId,
      requester,
      validator,
      requesterStore: storePath(swarm.requester.home, swarm.requester.name),
      validatorStore: storePath(swarm.validator.home, swarm.validator.name),
      providerStores,
      before,
    };
    const { checks, facts } = await checkTrial(input);
    result.checks = checks;
    result.facts = facts;
    for (const c of checks) if (!c.ok) result.failures.push(`${c.name}: ${c.detail ?? 'failed'}`);
    await o.inspect?.(input);
  } catch (e) {
    result.failures.push(`harness: ${(e as Error).message.split('\n').slice(0, 6).join(' | ')}`);
  } finally {
    // the chain process goes last: the checks above read it
    swarm?.stop();
    swarm?.saveOutputs(join(dir, 'out'));
    result.passed = result.failures.length === 0;
    result.wallMs = Date.now() - t0;
    if (result.passed && !o.keep) rmSync(dir, { recursive: true, force: true });
    else result.dir = dir;
  }
  return result;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
