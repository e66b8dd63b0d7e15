/**
 * View models (pure, no I/O; the page renders them and the server builds entries with them):
 * the job's curves and round table, the reward table per party, a validator's checks from its
 * store, and the number formats the pages use.
 */
import type { DashboardState, JobInfo, RewardInfo, RoundInfo, WorkerCheck } from './types.ts';

/** The job the pages show: the newest one (highest id). */
export function currentJobId(s: DashboardState): string | null {
  const ids = Object.keys(s.jobs).sort((a, b) => Number(b) - Number(a));
  return ids[0] ?? null;
}

/** Committed rounds of a job, in order. */
export function committedRounds(s: DashboardState, jobId: string): RoundInfo[] {
  return Object.values(s.rounds)
    .filter((r) => r.jobId === jobId && r.commit !== null)
    .sort((a, b) => a.round - b.round);
}

export type JobSeries = {
  /** Round numbers, 1-based, one per committed round. */
  round: number[];
  trainLoss: (number | null)[];
  testAccuracy: (number | null)[];
  /** Bytes sent per worker so far (DiLoCo), and what DDP would have sent by then. */
  bytesPerWorker: number[];
  ddpBytesPerWorker: (number | null)[];
};

/** The curves of the Job page: one point per committed round. */
export function jobSeries(s: DashboardState, jobId: string): JobSeries {
  const job: JobInfo | undefined = s.jobs[jobId];
  const rows = committedRounds(s, jobId);
  const workers = Math.max(1, job?.workers ?? 1);
  let sent = 0;
  const out: JobSeries = {
    round: [],
    trainLoss: [],
    testAccuracy: [],
    bytesPerWorker: [],
    ddpBytesPerWorker: [],
  };
  for (const r of rows) {
    sent += r.bytesSent;
    out.round.push(r.round + 1);
    out.trainLoss.push(r.trainLoss);
    out.testAccuracy.push(r.testAccuracy);
    out.bytesPerWorker.push(sent / workers);
    out.ddpBytesPerWorker.push(job?.ddpBytesPerRound ? job.ddpBytesPerRound * (r.round + 1) : null);
  }
  return out;
}

/** The latest test accuracy measured on the job's committed models, with its round. */
export function latestAccuracy(s: DashboardState, jobId: string): { round: number; accuracy: number } | null {
  const rows = committedRounds(s, jobId).filter((r) => r.testAccuracy !== null);
  const last = rows[rows.length - 1];
  return last ? { round: last.round, accuracy: last.testAccuracy as number } : null;
}

export type PartyReward = {
  account: string;
  roles: string;
  amount: bigint;
  claimed: bigint;
  jobs: string[];
};

/** Rewards per party over all jobs (largest first), with what each has claimed. */
export function rewardsByParty(rewards: readonly RewardInfo[]): PartyReward[] {
  const by = new Map<string, PartyReward & { roleSet: Set<string> }>();
  for (const r of rewards) {
    const k = r.account.toLowerCase();
    const p = by.get(k) ?? {
      account: r.account,
      roles: '',
      amount: 0n,
      claimed: 0n,
      jobs: [],
      roleSet: new Set<string>(),
    };
    p.amount += BigInt(r.amount);
    if (r.claimed) p.claimed += BigInt(r.amount);
    if (r.role) for (const x of r.role.split('+')) p.roleSet.add(x);
    if (!p.jobs.includes(r.jobId)) p.jobs.push(r.jobId);
    by.set(k, p);
  }
  return [...by.values()]
    .map(({ roleSet, ...p }) => ({ ...p, roles: [...roleSet].sort().join(' + ') || 'unknown' }))
    .sort((a, b) =>
      a.amount === b.amount ? a.account.localeCompare(b.account) : a.amount > b.amount ? -1 : 1,
    );
}

/** Mean of the finite train losses the providers recorded for a round (null when none). */
export function meanLoss(losses: readonly unknown[]): number | null {
  const xs = losses.map(Number).filter((x) => Number.isFinite(x));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** A validator's checks of one round, from its store's `checked` round row. */
export function checksFromRound(data: Record<string, unknown>): WorkerCheck[] {
  const checks = (data.checks ?? []) as {
    worker?: string;
    link?: { status?: string };
    replays?: { status?: string; window?: number }[];
    failed?: boolean;
  }[];
  return checks.map((c) => ({
    worker: String(c.worker ?? ''),
    link: c.link?.status ?? 'unknown',
    replays: (c.replays ?? []).map((r) => r.status ?? 'unknown').filter((x) => x !== 'skipped'),
    failed: c.failed === true,
  }));
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

export function formatBytes(n: number): string {
  let i = 0;
  let x = n;
  while (Math.abs(x) >= 1000 && i < UNITS.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x.toFixed(0) : x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2)} ${UNITS[i]}`;
}

/** wei (decimal string or bigint) as AGORA with at most `digits` decimals. */
export function formatAgora(wei: string | bigint, digits = 4): string {
  const v = BigInt(wei);
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, '0').slice(0, digits).replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole.toLocaleString('en-US')}${frac ? `.${frac}` : ''} AGORA`;
}

export function shortHex(h: string | null | undefined, n = 10): string {
  if (!h) return '—';
  return h.length > n + 4 ? `${h.slice(0, n)}…${h.slice(-4)}` : h;
}

export function percent(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '—' : `${(100 * x).toFixed(digits)}%`;
}

/**
 * Why an account is paid by a job, from what the chain says: a provider of the job, a contributor
 * of one of its datasets, a validator (one account can be several).
 */
export function roleOf(
  account: string,
  s: Pick<DashboardState, 'jobs' | 'datasets' | 'peers'>,
  jobId: string,
): string | null {
  const a = account.toLowerCase();
  const job = s.jobs[jobId];
  const roles: string[] = [];
  if (job?.participants.some((p) => p.toLowerCase() === a)) roles.push('provider');
  const contributes = Object.values(s.datasets).some(
    (d) => d.contributor.toLowerCase() === a && (!job || job.datasetIds.includes(d.datasetId)),
  );
  if (contributes) roles.push('data');
  if (Object.values(s.peers).some((p) => p.role === 'validator' && p.address.toLowerCase() === a))
    roles.push('validator');
  return roles.length ? roles.join('+') : null;
}

/** Names for addresses on the pages: peers by name, contracts by name, else a short address. */
export function addressNamer(
  s: Pick<DashboardState, 'peers' | 'contracts'>,
): (address: string | null) => string {
  const names = new Map<string, string>();
  for (const c of Object.values(s.contracts)) names.set(c.address.toLowerCase(), c.name);
  for (const p of Object.values(s.peers)) names.set(p.address.toLowerCase(), p.name);
  return (a) => (a ? (names.get(a.toLowerCase()) ?? shortHex(a, 8)) : '—');
}
