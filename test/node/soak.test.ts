/**
 * The chaos soak's CI subset: one trial of `npm run soak` with a fixed seed (a tiny job across
 * separate processes, a role killed with SIGKILL mid-job and restarted), which must pass every
 * check. Then the checks themselves are shown to bite: a record signature removed from a
 * provider's store, and one wei too few in the balance snapshot, each fail their check.
 */
import { DatabaseSync } from 'node:sqlite';
import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { checkTrial } from '../../bench/soak/checks.ts';
import { describePlan, KILL_ROLES, planTrial, trialSeed } from '../../bench/soak/plan.ts';
import { runTrial } from '../../bench/soak/trial.ts';

const limits = { rounds: 4, providers: 3, maxJitterMs: 3000, maxRestartDelayMs: 8000 };

describe('soak plans', () => {
  it('are drawn from the seed alone and cover every role and moment', () => {
    expect(planTrial(42, limits)).toEqual(planTrial(42, limits));
    const plans = Array.from({ length: 300 }, (_, i) => planTrial(trialSeed(7, i), limits));
    expect(new Set(plans.map((p) => p.seed)).size).toBe(300);
    for (const r of KILL_ROLES) expect(plans.some((p) => p.role === r)).toBe(true);
    const moments = new Set(
      plans.map((p) => (p.moment.after === 'committed' ? p.moment.rounds : p.moment.after)),
    );
    expect([...moments].sort()).toEqual([1, 2, 3, 4, 'closed', 'created'].sort());
    for (const p of plans) {
      expect(p.restartDelayMs).toBeLessThanOrEqual(8000);
      expect(p.jitterMs).toBeLessThanOrEqual(3000);
      expect(p.role === 'provider' ? p.provider! < 3 : p.provider).toBe(
        p.role === 'provider' ? true : undefined,
      );
    }
    expect(planTrial(5, { ...limits, roles: ['validator'] }).role).toBe('validator');
  });
});

describe('npm run soak: one trial in CI', () => {
  // a provider killed after 2 rounds are committed, back 7 s later
  const seed = 1175572272;
  it('a job survives kill -9 of a role and every check passes; the checks catch tampering', async () => {
    const plan = planTrial(seed, limits);
    expect(describePlan(plan)).toMatch(/^kill -9 provider p3 after 2 rounds committed/);
    let tampered: { signature: string[]; balance: string[] } | undefined;
    const r = await runTrial(plan, {
      providers: 3,
      rounds: 4,
      H: 5,
      deadlineSeconds: 300,
      timeoutMs: 540_000,
      shardSize: 2000,
      inspect: async (input) => {
        // one wei missing from the requester's starting balance: the money check fails
        const before = new Map(input.before);
        before.set(getAddress(input.requester), before.get(getAddress(input.requester))! - 1n);
        const balance = (await checkTrial({ ...input, before })).checks
          .filter((c) => !c.ok)
          .map((c) => c.name);
        // a committed record signature gone from its worker's store: the signature check fails
        const [, p1] = [...input.providerStores][0];
        const db = new DatabaseSync(p1);
        db.prepare("DELETE FROM signatures WHERE kind = 'round-record' AND round = 0").run();
        db.close();
        const signature = (await checkTrial(input)).checks.filter((c) => !c.ok).map((c) => c.name);
        tampered = { signature, balance };
      },
    });
    expect(r.failures, `${r.plan}; kept in ${r.dir}`).toEqual([]);
    expect(r.passed).toBe(true);
    expect(r.killedAtRound).toBeGreaterThanOrEqual(2);
    expect(r.facts).toMatchObject({ state: 'Completed', roundsCommitted: 4, rounds: 4, refund: '0' });
    expect(r.facts!.claimed).toBe(r.facts!.funded);
    expect(r.checks.length).toBeGreaterThanOrEqual(10);
    expect(tampered!.balance).toEqual(['every balance moved by exactly the job’s flows (to the wei)']);
    expect(tampered!.signature).toEqual(['no signature lost, none doubled (stores ↔ chain)']);
  }, 600_000);
});
