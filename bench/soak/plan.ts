/**
 * A chaos-soak trial's plan, drawn from its seed alone (pure): which role is killed with SIGKILL,
 * at which moment of the job, and how long it stays down before it is restarted. The same seed
 * gives the same plan, so a failing trial is rerun with `npm run soak -- --seed S --trials 1`.
 */
import { Rng } from '../../src/train/models/prng.ts';

export type KillRole = 'provider' | 'validator' | 'requester';
export const KILL_ROLES: readonly KillRole[] = ['provider', 'validator', 'requester'];

/**
 * When the kill happens: after the job is created (`rounds: 0`, while providers join and train
 * round 0), after `rounds` rounds are committed on chain (1..R; R is the finish: close, reward
 * root, claims), or after the ledger closed the job (`closed`: reward signatures and claims), then
 * `jitterMs` later.
 */
export type KillMoment = { after: 'created' } | { after: 'committed'; rounds: number } | { after: 'closed' };

export type TrialPlan = {
  seed: number;
  role: KillRole;
  /** the provider killed (0-based), when `role` is provider */
  provider?: number;
  moment: KillMoment;
  jitterMs: number;
  /** how long the killed process stays down */
  restartDelayMs: number;
};

export type PlanLimits = {
  rounds: number;
  providers: number;
  maxJitterMs: number;
  maxRestartDelayMs: number;
  /** only these roles (default: all three) */
  roles?: readonly KillRole[];
};

export function planTrial(seed: number, l: PlanLimits): TrialPlan {
  const rng = new Rng(seed, 0x50a6);
  const int = (n: number) => rng.nextU32() % n;
  const roles = l.roles && l.roles.length > 0 ? l.roles : KILL_ROLES;
  const role = roles[int(roles.length)];
  const provider = int(l.providers);
  // moments 0 (created), 1..R (rounds committed), R+1 (closed), uniformly
  const m = int(l.rounds + 2);
  const moment: KillMoment =
    m === 0 ? { after: 'created' } : m <= l.rounds ? { after: 'committed', rounds: m } : { after: 'closed' };
  const jitterMs = int(l.maxJitterMs + 1);
  const restartDelayMs = int(l.maxRestartDelayMs + 1);
  return { seed, role, ...(role === 'provider' ? { provider } : {}), moment, jitterMs, restartDelayMs };
}

/** Trial i's seed from the soak's seed (distinct, reproducible, a safe positive int32). */
export function trialSeed(soakSeed: number, i: number): number {
  return new Rng(soakSeed, i + 1).nextU32() & 0x7fffffff;
}

export function describeMoment(m: KillMoment): string {
  return m.after === 'created'
    ? 'after the job was created'
    : m.after === 'closed'
      ? 'after the job was closed'
      : `after ${m.rounds} round${m.rounds === 1 ? '' : 's'} committed`;
}

export function describePlan(p: TrialPlan): string {
  const who = p.role === 'provider' ? `provider p${(p.provider ?? 0) + 1}` : p.role;
  return `kill -9 ${who} ${describeMoment(p.moment)} +${p.jitterMs} ms, restart after ${p.restartDelayMs} ms`;
}
