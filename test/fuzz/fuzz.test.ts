/**
 * The CI-sized fuzz run: the same harness and targets as `npm run fuzz` (bench/fuzz.ts), a few
 * thousand cases with a fixed seed. The long campaign's figures are in docs/dev/fuzzing.md.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runFuzz } from '../../bench/fuzz/harness.ts';
import { httpTargets } from '../../bench/fuzz/http-targets.ts';
import { decoderTargets } from '../../bench/fuzz/targets.ts';
import { AgoraError } from '../../src/errors.ts';

const CASES = Number(process.env.AGORA_FUZZ_CASES ?? 4000);

describe('fuzz harness', () => {
  it(`every decoder and server survives ${CASES} random and mutated inputs`, async () => {
    const targets = [...(await decoderTargets()), ...httpTargets()];
    // (a generous limit: a 1,025-record provenance manifest legitimately takes seconds on a loaded machine)
    const report = await runFuzz(targets, { cases: CASES, seed: 20261207, caseTimeoutMs: 30_000 });
    const findings = report.targets.flatMap((t) =>
      t.findings.map((f) => ({ target: t.name, seed: t.seed, ...f })),
    );
    expect(findings).toEqual([]);
    expect(report.crashes + report.hangs).toBe(0);
    expect(report.targets.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'chain/json-rpc',
        'train/codecs',
        'task/job-spec',
        'serve/http-api',
        'serve/exported-body',
        'dashboard/http-api',
        'agent/mcp',
      ]),
    );
    for (const t of report.targets) {
      expect(t.cases, t.name).toBeGreaterThan(20);
      // the mutations must get both past the decoder and stopped by it
      expect(t.rejected, t.name).toBeGreaterThan(0);
    }
    expect(report.accepted).toBeGreaterThan(report.cases / 20);
    expect(report.cases).toBeGreaterThanOrEqual(CASES - report.targets.length);
  }, 120_000);

  it('reports a crash (a throw without an AgoraError code) with its shrunk input and seed', async () => {
    const report = await runFuzz(
      [
        {
          name: 'demo/crashes-on-7',
          boundary: 'test',
          input: fc.nat({ max: 100 }),
          run: (n) => {
            if ((n as number) >= 7) (undefined as unknown as { x: number }).x;
            if ((n as number) === 3) throw new AgoraError('DEMO_REJECT', 'three is refused');
            return 'accepted';
          },
        },
      ],
      { cases: 200, seed: 1 },
    );
    const [t] = report.targets;
    expect(t.crashes).toBe(1);
    expect(t.findings[0].kind).toBe('crash');
    expect(t.findings[0].error).toMatch(/^TypeError/);
    expect(t.findings[0].counterexample).toBe('7'); // shrunk to the smallest crashing input
    expect(t.seed).toBeTypeOf('number');
  });

  it('reports a hang (a case over the time limit)', async () => {
    const report = await runFuzz(
      [
        {
          name: 'demo/hangs',
          boundary: 'test',
          input: fc.nat({ max: 10 }),
          run: (n) => ((n as number) > 5 ? new Promise(() => {}) : 'rejected'),
        },
      ],
      { cases: 50, seed: 2, caseTimeoutMs: 100 },
    );
    expect(report.targets[0].hangs).toBe(1);
    expect(report.targets[0].findings[0].kind).toBe('hang');
  });
});
