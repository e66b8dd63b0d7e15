/**
 * The random operation sequences of the protocol invariant test (test/contracts/invariants.test.ts)
 * and its long run (`npm run bench:invariants`, bench/invariants.ts): seeded sequences of market and
 * ledger operations (most valid, some not) against the real contracts, checking every few steps that
 * AGORA is conserved and that the market and ledger hold exactly what they owe (escrow and stakes
 * stay solvent). A broken invariant throws `InvariantError` naming it.
 */
import { type Address, type Hex, parseEther } from 'viem';
import { buildRewardTree, type RewardTree } from '../../src/chain/merkle.ts';
import { roundRecordsTree } from '../../src/chain/round-record.ts';
import { AgoraError } from '../../src/errors.ts';
import { type Fixture, h, STAKE } from './fixture.ts';

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class InvariantError extends Error {
  override name = 'InvariantError';
}

function invariant(ok: boolean, what: string): void {
  if (!ok) throw new InvariantError(`invariant broken: ${what}`);
}

const PROVIDERS = [1, 2, 3, 4, 5, 6];
const REQUESTERS = [10, 11, 12];
const CONTRIBUTOR = 13;
const VALIDATOR = 19;
const ZERO: Hex = `0x${'00'.repeat(32)}`;

export type SequenceResult = { ok: number; reverted: number; jobs: number; checks: number };

export type ProtocolSequences = {
  runSequence(seed: number, steps: number): Promise<SequenceResult>;
  /** Successful operations by kind, over every sequence run so far. */
  successes: Map<string, number>;
};

/** Approves the market for every actor and returns the sequence runner over fixture `f`. */
export async function protocolSequences(f: Fixture): Promise<ProtocolSequences> {
  for (const i of [...PROVIDERS, ...REQUESTERS]) {
    await f.token.approve(f.signers[i], f.market.address, parseEther('100000000'));
  }
  const tracked: Address[] = [
    ...f.accounts.map((a) => a.address),
    f.addr('TimelockController'),
    f.market.address,
    f.ledger.address,
  ];
  const supply = await f.token.totalSupply();
  let checks = 0;

  async function checkInvariants(jobs: bigint[]): Promise<void> {
    checks++;
    // 1. conservation: every holder is tracked and the supply never changes
    const balances = await Promise.all(tracked.map((a) => f.token.balanceOf(a)));
    invariant(
      balances.reduce((s, b) => s + b, 0n) === supply,
      'AGORA supply is conserved across tracked holders',
    );
    invariant((await f.token.totalSupply()) === supply, 'total supply never changes');
    // 2. market solvency: stakes + escrow of live jobs
    let owedByMarket = 0n;
    for (const p of PROVIDERS) {
      const info = await f.market.getProvider(f.accounts[p].address);
      invariant(info.locked <= info.stake, `provider ${p}: locked stake <= stake`);
      owedByMarket += info.stake;
    }
    let owedByLedger = 0n;
    for (const id of jobs) {
      const j = await f.market.getJob(id);
      if (j.state === 'Open') owedByMarket += j.escrow + j.fee;
      if (j.state === 'Running') owedByMarket += j.escrow;
      const l = await f.ledger.getJobLedger(id);
      if (l.closed) {
        invariant(l.claimed <= l.rewardTotal, `job ${id}: claimed <= rewardTotal`);
        invariant(l.rewardTotal <= l.funded, `job ${id}: rewardTotal <= funded`);
        const reserved = l.rewardRoot === ZERO ? l.funded : l.rewardTotal - l.claimed;
        owedByLedger += reserved + (l.rewardRoot !== ZERO && !l.swept ? l.funded - l.rewardTotal : 0n);
      }
    }
    // exact accounting: the contracts hold precisely what they owe (nothing stuck, nothing missing)
    invariant(
      balances[tracked.length - 2] === owedByMarket,
      `market holds ${balances[tracked.length - 2]}, owes ${owedByMarket}`,
    );
    invariant(
      balances[tracked.length - 1] === owedByLedger,
      `ledger holds ${balances[tracked.length - 1]}, owes ${owedByLedger}`,
    );
  }

  const successes = new Map<string, number>();
  const account = (a: Address) => f.accounts.find((x) => x.address === a)!;

  async function runSequence(seed: number, steps: number): Promise<SequenceResult> {
    checks = 0;
    const rnd = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const amount = (max: bigint) => (max * BigInt(Math.floor(rnd() * 1000))) / 1000n;
    const jobs: bigint[] = [];
    const trees = new Map<bigint, RewardTree>();
    let ok = 0;
    let reverted = 0;
    const commitNext = async (jobId: bigint, signProbability: number) => {
      const parts = await f.market.participants(jobId);
      const round = BigInt(await f.ledger.roundsCommitted(jobId));
      const recs = parts.map((w, i) => ({
        jobId,
        round,
        worker: w,
        pseudoGradientHash: h(`pg${i}`),
        sampleRoot: h('s'),
        lossBefore: 2n,
        lossAfter: 1n,
        samples: 1n,
      }));
      const root = parts.length > 0 ? roundRecordsTree(recs).root : h('empty');
      const signers = parts.filter(() => rnd() < signProbability);
      const sigs = await Promise.all(
        signers.map((a) => f.ledger.signRoundCommit(account(a), jobId, round, root, h(`model${round}`))),
      );
      await f.ledger.commitRound(f.signers[0], jobId, round, root, h(`model${round}`), sigs);
    };
    const postRoot = async (jobId: bigint) => {
      const l = await f.ledger.getJobLedger(jobId);
      const parts = await f.market.participants(jobId);
      const budget = rnd() < 0.1 ? l.funded + 1n : amount(l.funded); // sometimes insolvent on purpose
      const shares = [...parts, f.accounts[CONTRIBUTOR].address, f.accounts[VALIDATOR].address];
      const each = budget / BigInt(shares.length);
      const tree = buildRewardTree(
        shares.map((a, i) => ({
          account: a,
          amount: i === 0 ? budget - each * BigInt(shares.length - 1) : each,
        })),
      );
      const sigs = await Promise.all(
        parts.map((a) => f.ledger.signRewardRoot(account(a), jobId, tree.root, tree.total)),
      );
      await f.ledger.postRewardRoot(f.signers[0], jobId, tree.root, tree.total, sigs);
      trees.set(jobId, tree);
    };
    const attempt = async (fn: () => Promise<unknown>, op = 'other') => {
      try {
        await fn();
        ok++;
        successes.set(op, (successes.get(op) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof AgoraError) || e.code !== 'CONTRACT_REVERT') throw e;
        if (process.env.INV_DEBUG === op) console.log(op, e.message.slice(0, 160));
        reverted++;
      }
    };
    for (let step = 0; step < steps; step++) {
      const p = pick(PROVIDERS);
      // a third of the steps push a recent job one step further along its lifecycle, so deep states
      // (closed jobs, reward roots, claims) are reached; the rest are random, often invalid, operations
      if (rnd() < 0.35 && jobs.length > 0) {
        const id = jobs[Math.max(0, jobs.length - 1 - Math.floor(rnd() * 3))];
        const j = await f.market.getJob(id);
        const l = await f.ledger.getJobLedger(id);
        if (j.state === 'Open') {
          await attempt(() => f.market.joinJob(f.signers[p], id), 'join');
        } else if (j.state === 'Running' && l.roundsCommitted < j.rounds) {
          await attempt(() => commitNext(id, 1), 'commit');
        } else if (j.state === 'Running') {
          await attempt(() => f.ledger.closeJob(f.signers[p], id), 'close');
        } else if (l.closed && l.rewardRoot === ZERO) {
          await attempt(() => postRoot(id), 'postRewardRoot');
        } else if ((l.closed && rnd() < 0.3) || j.state === 'Cancelled' || j.state === 'Unfilled') {
          const parts = await f.market.participants(id);
          if (parts.length > 0)
            await attempt(() => f.market.releaseStake(f.signers[p], id, pick(parts)), 'release');
        } else if (l.closed) {
          const tree = trees.get(id);
          if (tree)
            await attempt(
              () => f.ledger.claimFromTree(f.signers[p], id, tree, pick(tree.entries).account),
              'claim',
            );
        }
        if (step % 4 === 3) await checkInvariants(jobs);
        continue;
      }
      const r = rnd();
      // recent jobs are where the interesting state is
      const jobId =
        jobs.length === 0
          ? 1n
          : rnd() < 0.8
            ? jobs[Math.max(0, jobs.length - 1 - Math.floor(rnd() * 2))]
            : pick(jobs);
      if (r < 0.06) {
        await attempt(() =>
          f.market.registerProvider(
            f.signers[p],
            h(`hw${p}`),
            parseEther(pick(['1', '2'])),
            STAKE * 2n + amount(STAKE),
          ),
        );
      } else if (r < 0.09) {
        await attempt(() => f.market.addStake(f.signers[p], amount(STAKE) + 1n));
      } else if (r < 0.14) {
        const info = await f.market.getProvider(f.accounts[p].address);
        await attempt(() => f.market.withdrawStake(f.signers[p], amount(info.stake) + 1n));
      } else if (r < 0.16) {
        await attempt(() => f.market.deregisterProvider(f.signers[p]));
      } else if (r < 0.23) {
        const now = await f.now();
        await attempt(async () => {
          const res = await f.market.createJob(f.signers[pick(REQUESTERS)], {
            modelSpecHash: h(`m${seed}-${step}`),
            datasetIds: [],
            workers: 1 + Math.floor(rnd() * 3),
            // (rounds 1..2 keep jobs short enough to finish)
            innerSteps: 10,
            rounds: 1 + Math.floor(rnd() * 2),
            pricePerRound: parseEther(pick(['1', '2', '3'])),
            joinDeadline: now + 300n,
            completionDeadline: now + 900n,
            challengePeriod: 60n,
          });
          jobs.push(res.jobId);
        });
      } else if (r < 0.43) {
        await attempt(() => f.market.joinJob(f.signers[p], jobId), 'join');
      } else if (r < 0.46) {
        const j = await f.market.getJob(jobId).catch(() => undefined);
        const owner = j ? f.accounts.findIndex((a) => a.address === j.requester) : -1;
        const who = owner >= 0 && rnd() < 0.8 ? owner : p; // sometimes a stranger tries
        await attempt(() => f.market.cancelJob(f.signers[who], jobId), 'cancel');
      } else if (r < 0.49) {
        await attempt(() => f.market.refundUnfilled(f.signers[p], jobId), 'unfilled');
      } else if (r < 0.66) {
        await attempt(() => commitNext(jobId, 0.95), 'commit');
      } else if (r < 0.73) {
        await attempt(() => f.ledger.closeJob(f.signers[p], jobId), 'close');
      } else if (r < 0.8) {
        await attempt(() => postRoot(jobId), 'postRewardRoot');
      } else if (r < 0.89) {
        const tree = trees.get(jobId);
        if (tree)
          await attempt(
            () => f.ledger.claimFromTree(f.signers[p], jobId, tree, pick(tree.entries).account),
            'claim',
          );
        else await attempt(() => f.ledger.claim(f.signers[p], jobId, f.accounts[p].address, 1n, []));
      } else if (r < 0.91) {
        await attempt(() => f.ledger.sweepUnallocated(f.signers[p], jobId), 'sweep');
      } else if (r < 0.94) {
        await attempt(() => f.market.releaseStake(f.signers[p], jobId, f.accounts[p].address), 'release');
      } else if (r < 0.96) {
        await attempt(async () => {
          const rec = {
            jobId,
            round: 0n,
            worker: f.accounts[p].address,
            pseudoGradientHash: h('a'),
            sampleRoot: h('s'),
            lossBefore: 1n,
            lossAfter: 1n,
            samples: 1n,
          };
          const rec2 = { ...rec, pseudoGradientHash: h('b') };
          const a = f.accounts[p];
          await f.market.proveEquivocation(
            f.signers[0],
            rec,
            await f.market.signRoundRecord(a, rec),
            rec2,
            await f.market.signRoundRecord(a, rec2),
          );
        }, 'equivocation');
      } else if (r < 0.97) {
        await attempt(() =>
          f.market.reportFraud(f.signers[VALIDATOR], jobId, f.accounts[p].address, 0n, h(`ev${step}`)),
        );
      } else if (r < 0.98) {
        await attempt(() => f.market.executeFraudSlash(f.signers[p], BigInt(1 + Math.floor(rnd() * 5))));
      } else {
        await f.increaseTime(pick([30, 120, 400, 1000]));
      }
      if (step % 4 === 3) await checkInvariants(jobs);
    }
    await checkInvariants(jobs);
    return { ok, reverted, jobs: jobs.length, checks };
  }
  return { runSequence, successes };
}
