/**
 * The fuzz harness: runs fast-check over a list of targets, each a decoder (or server) that reads
 * input from across a trust boundary. The contract every target must keep:
 *
 *   - it accepts the input, or rejects it by throwing an `AgoraError` with a non-empty `code`;
 *   - anything else it throws (TypeError, RangeError, a library's own error, …) is a crash;
 *   - a case that takes longer than `caseTimeoutMs` is a hang.
 *
 * Crashes and hangs are findings: fast-check shrinks the input, and the report carries the target's
 * seed and the counterexample so `npm run fuzz -- --target NAME --seed S` reproduces it. Adding a
 * decoder is one `FuzzTarget` entry (bench/fuzz/targets.ts); the test (test/fuzz/) and the long
 * campaign (bench/fuzz.ts) run the same list.
 */
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { AgoraError } from '../../src/errors.ts';

export type Outcome = 'accepted' | 'rejected';

export type FuzzTarget<T = unknown> = {
  /** Stable name, `area/decoder` (also the `--target` filter). */
  name: string;
  /** Where the input comes from (for the report and docs). */
  boundary: string;
  /** Relative share of the cases (default 1). */
  weight?: number;
  /** Inputs: fully random and structure-aware mutations of valid encodings. */
  input: fc.Arbitrary<T>;
  /** Decodes one input. Returns `accepted`, returns `rejected` for a decoder that answers "no" without throwing, or throws. */
  run(input: T): Outcome | Promise<Outcome>;
  /** Starts what the target needs (a server); called once before the first case. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
};

/** Erases a target's input type so targets of different inputs share one list. */
export function defineTarget<T>(t: FuzzTarget<T>): FuzzTarget {
  return t as unknown as FuzzTarget;
}

export type Finding = {
  kind: 'crash' | 'hang';
  /** The error (name: message) or the hang's duration. */
  error: string;
  /** The shrunk input, printed by fast-check. */
  counterexample: string;
  /** fast-check's path to replay the exact failing case with the same seed. */
  path?: string;
};

export type TargetReport = {
  name: string;
  boundary: string;
  seed: number;
  cases: number;
  accepted: number;
  rejected: number;
  /** Rejections by AgoraError code (the top ones). */
  codes: Record<string, number>;
  crashes: number;
  hangs: number;
  findings: Finding[];
  ms: number;
  casesPerSecond: number;
  maxCaseMs: number;
};

export type FuzzReport = {
  seed: number;
  cases: number;
  accepted: number;
  rejected: number;
  crashes: number;
  hangs: number;
  ms: number;
  casesPerSecond: number;
  caseTimeoutMs: number;
  targets: TargetReport[];
};

export type FuzzOptions = {
  /** Total cases, shared between targets by weight. */
  cases: number;
  seed: number;
  caseTimeoutMs?: number;
  /** Only targets whose name contains this string. */
  filter?: string;
  onProgress?: (r: TargetReport) => void;
};

/** A target's own seed: the run's seed mixed with its name, so targets replay independently. */
export function targetSeed(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}

/** Why `e` is not an acceptable rejection, or undefined when it is one. */
export function crashReason(e: unknown): string | undefined {
  if (e instanceof AgoraError && typeof e.code === 'string' && e.code.length > 0) return undefined;
  if (e instanceof Error) return `${e.name}: ${e.message.slice(0, 300)}`;
  return `non-Error thrown: ${String(e).slice(0, 300)}`;
}

class Hang extends Error {
  override name = 'Hang';
}

/** Runs one target for `cases` cases. */
export async function fuzzTarget<T>(
  t: FuzzTarget<T>,
  cases: number,
  seed: number,
  caseTimeoutMs: number,
): Promise<TargetReport> {
  const r: TargetReport = {
    name: t.name,
    boundary: t.boundary,
    seed,
    cases: 0,
    accepted: 0,
    rejected: 0,
    codes: {},
    crashes: 0,
    hangs: 0,
    findings: [],
    ms: 0,
    casesPerSecond: 0,
    maxCaseMs: 0,
  };
  let failing = false; // after the first failure fast-check shrinks: those runs are not counted
  const t0 = performance.now();
  await t.setup?.();
  try {
    const details = await fc.check(
      fc.asyncProperty(t.input, async (x) => {
        const c0 = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          const out = await Promise.race([
            Promise.resolve().then(() => t.run(x)),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Hang(`no answer within ${caseTimeoutMs} ms`)),
                caseTimeoutMs,
              );
            }),
          ]);
          const dt = performance.now() - c0;
          if (dt > caseTimeoutMs) throw new Hang(`case took ${Math.round(dt)} ms`);
          if (!failing) {
            r.cases++;
            r.maxCaseMs = Math.max(r.maxCaseMs, dt);
            if (out === 'accepted') r.accepted++;
            else r.rejected++;
          }
          return true;
        } catch (e) {
          if (e instanceof Hang) {
            if (!failing) r.hangs++;
            failing = true;
            throw e;
          }
          const why = crashReason(e);
          if (why !== undefined) {
            if (!failing) r.crashes++;
            failing = true;
            throw e;
          }
          if (!failing) {
            r.cases++;
            r.rejected++;
            r.maxCaseMs = Math.max(r.maxCaseMs, performance.now() - c0);
            const code = (e as AgoraError).code;
            r.codes[code] = (r.codes[code] ?? 0) + 1;
          }
          return true;
        } finally {
          clearTimeout(timer);
        }
      }),
      { numRuns: cases, seed, endOnFailure: false, maxSkipsPerRun: 0 },
    );
    if (details.failed) {
      const err = details.errorInstance;
      r.findings.push({
        kind: err instanceof Hang ? 'hang' : 'crash',
        error: crashReason(err) ?? String(err),
        counterexample: fc.stringify(details.counterexample?.[0]).slice(0, 2000),
        path: details.counterexamplePath ?? undefined,
      });
      r.cases++; // the failing case itself
    }
  } finally {
    await t.teardown?.();
  }
  r.ms = performance.now() - t0;
  r.casesPerSecond = r.cases / Math.max(r.ms / 1000, 1e-9);
  return r;
}

/** Shares `cases` between targets by weight (every target gets at least one). */
export function shareCases(targets: readonly FuzzTarget[], cases: number): number[] {
  const total = targets.reduce((s, t) => s + (t.weight ?? 1), 0);
  return targets.map((t) => Math.max(1, Math.round((cases * (t.weight ?? 1)) / total)));
}

export async function runFuzz(targets: readonly FuzzTarget[], o: FuzzOptions): Promise<FuzzReport> {
  const caseTimeoutMs = o.caseTimeoutMs ?? 5000;
  const chosen = targets.filter((t) => !o.filter || t.name.includes(o.filter));
  const shares = shareCases(chosen, o.cases);
  const t0 = performance.now();
  const reports: TargetReport[] = [];
  for (let i = 0; i < chosen.length; i++) {
    const t = chosen[i];
    const rep = await fuzzTarget(t, shares[i], targetSeed(o.seed, t.name), caseTimeoutMs);
    reports.push(rep);
    o.onProgress?.(rep);
  }
  const ms = performance.now() - t0;
  const sum = (k: 'cases' | 'accepted' | 'rejected' | 'crashes' | 'hangs') =>
    reports.reduce((s, r) => s + r[k], 0);
  return {
    seed: o.seed,
    cases: sum('cases'),
    accepted: sum('accepted'),
    rejected: sum('rejected'),
    crashes: sum('crashes'),
    hangs: sum('hangs'),
    ms,
    casesPerSecond: sum('cases') / Math.max(ms / 1000, 1e-9),
    caseTimeoutMs,
    targets: reports,
  };
}
