/**
 * `npm run soak -- --trials N [--seed S] [--json FILE] [--roles provider,validator,requester]
 *   [--providers K] [--rounds R] [--H n] [--deadline s] [--timeout s] [--max-delay ms] [--keep]`
 *
 * The chaos soak: each trial runs a tiny devnet job across separate processes (a chain, a
 * requester, a validator and K providers, each `agora node start` in its own home), kills one
 * role with SIGKILL at a random moment, restarts it after a random delay, and checks that the job
 * ends by the market's rules, that the money adds up to the wei, that nobody is paid twice and that
 * no signature is lost (bench/soak/checks.ts). The trial's seed fixes its plan (role, moment,
 * delay): `--seed S --trials 1` reruns trial S (`--trial-seed`) exactly as planned. Prints one
 * line per trial and a summary; `--json FILE` writes every trial, failures with their seed, plan,
 * the directory kept with the homes and logs, wall times and the machine's load. Exits 1 on any
 * failure.
 */

import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { KILL_ROLES, type KillRole, planTrial, trialSeed } from './soak/plan.ts';
import { runTrial, type TrialResult } from './soak/trial.ts';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '10' },
    seed: { type: 'string' },
    'trial-seed': { type: 'string' },
    json: { type: 'string' },
    roles: { type: 'string' },
    providers: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
    H: { type: 'string', default: '5' },
    deadline: { type: 'string', default: '300' },
    timeout: { type: 'string', default: '900' },
    'max-delay': { type: 'string', default: '8000' },
    'shard-size': { type: 'string', default: '2000' },
    keep: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});
const int = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} takes a non-negative integer, not "${v}"`);
    process.exit(2);
  }
  return n;
};
const trials = values['trial-seed'] !== undefined ? 1 : int('trials', values.trials);
const soakSeed = values.seed === undefined ? Date.now() % 2 ** 31 : int('seed', values.seed);
const roles = (values.roles?.split(',') ?? [...KILL_ROLES]) as KillRole[];
for (const r of roles)
  if (!KILL_ROLES.includes(r)) {
    console.error(`--roles takes ${KILL_ROLES.join(', ')}; not "${r}"`);
    process.exit(2);
  }
const opts = {
  providers: int('providers', values.providers),
  rounds: int('rounds', values.rounds),
  H: int('H', values.H),
  deadlineSeconds: int('deadline', values.deadline),
  timeoutMs: int('timeout', values.timeout) * 1000,
  shardSize: int('shard-size', values['shard-size']),
  keep: values.keep,
};
if (opts.providers < 2 || opts.providers > 9 || opts.rounds < 1 || opts.H < 1) {
  console.error('--providers takes 2..9 (devnet accounts 1..9), --rounds and --H at least 1');
  process.exit(2);
}
const limits = {
  rounds: opts.rounds,
  providers: opts.providers,
  maxJitterMs: 3000,
  maxRestartDelayMs: int('max-delay', values['max-delay']),
  roles,
};

console.log(
  `soak: ${trials} trials, seed ${soakSeed}, ${opts.providers} providers, ${opts.rounds} rounds of H=${opts.H}, ` +
    `deadline ${opts.deadlineSeconds} s, kill ${roles.join('/')}, load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
);
const t0 = Date.now();
const results: (TrialResult & { role: KillRole; load: number[] })[] = [];
for (let i = 0; i < trials; i++) {
  const seed =
    values['trial-seed'] !== undefined ? int('trial-seed', values['trial-seed']) : trialSeed(soakSeed, i);
  const plan = planTrial(seed, limits);
  const load0 = loadavg()[0];
  const r = await runTrial(plan, {
    ...opts,
    ...(values.quiet ? {} : { log: (line: string) => console.log(`  [${seed}] ${line}`) }),
  });
  results.push({ ...r, role: plan.role, load: [load0, loadavg()[0]] });
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...summarize(), results }, null, 2)}\n`);
  const f = r.facts;
  console.log(
    `${r.passed ? 'pass' : 'FAIL'} trial ${i + 1}/${trials} seed ${seed}: ${r.plan}; ` +
      (f
        ? `${f.state} ${f.roundsCommitted}/${f.rounds} rounds, funded ${f.funded}, claimed ${f.claimed} by ${f.claims}, refund ${f.refund}; `
        : '') +
      `killed at round ${r.killedAtRound ?? '-'}; setup ${(r.setupMs / 1000).toFixed(1)} s, job ${(r.jobMs / 1000).toFixed(1)} s, ` +
      `load ${load0.toFixed(2)}`,
  );
  for (const x of r.failures) console.log(`     ${x}`);
  if (r.dir && !r.passed) console.log(`     homes and logs kept in ${r.dir}`);
}
/** The soak so far (written after every trial, so a soak stopped early keeps its figures). */
function summarize() {
  const failed = results.filter((r) => !r.passed);
  const jobSeconds = results.map((r) => r.jobMs / 1000).sort((a, b) => a - b);
  const trialSeconds = results.map((r) => r.wallMs / 1000).sort((a, b) => a - b);
  const mid = (xs: number[]) => (xs.length ? xs[Math.floor(xs.length / 2)] : 0);
  const loads = results.map((r) => r.load[0]);
  return {
    seed: soakSeed,
    trials: results.length,
    passed: results.length - failed.length,
    failed: failed.length,
    wallSeconds: Math.round((Date.now() - t0) / 1000),
    trialSecondsMedian: mid(trialSeconds),
    jobSecondsMedian: mid(jobSeconds),
    jobSecondsMax: jobSeconds.at(-1) ?? 0,
    loadMean: loads.length ? Number((loads.reduce((a, b) => a + b, 0) / loads.length).toFixed(2)) : 0,
    options: { ...opts, roles, maxRestartDelayMs: limits.maxRestartDelayMs, maxJitterMs: limits.maxJitterMs },
    killed: Object.fromEntries(roles.map((role) => [role, results.filter((r) => r.role === role).length])),
    failures: failed.map((r) => ({ seed: r.seed, plan: r.plan, failures: r.failures, dir: r.dir })),
  };
}
const summary = summarize();
console.log(
  `soak: ${summary.passed}/${summary.trials} passed in ${summary.wallSeconds} s ` +
    `(trial median ${summary.trialSecondsMedian.toFixed(0)} s, job median ${summary.jobSecondsMedian.toFixed(1)} s, ` +
    `max ${summary.jobSecondsMax.toFixed(1)} s, mean load ${summary.loadMean})` +
    (summary.failed ? `; failed seeds: ${summary.failures.map((r) => r.seed).join(', ')}` : ''),
);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ ...summary, results }, null, 2)}\n`);
process.exit(summary.failed > 0 ? 1 : 0);
