/**
 * `npm run fuzz -- --cases N [--seed S] [--target NAME] [--timeout MS] [--json FILE]`
 *
 * Drives fast-check over every decoder and server that reads input from across a trust boundary
 * (bench/fuzz/targets.ts, bench/fuzz/http-targets.ts) and reports, per target, the cases run,
 * accepted and rejected, and every crash (a throw that is not an AgoraError with a code) or hang
 * (a case over the time limit) with its seed and shrunk counterexample. Exits 1 on any finding.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runFuzz } from './fuzz/harness.ts';
import { httpTargets } from './fuzz/http-targets.ts';
import { decoderTargets } from './fuzz/targets.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    target: { type: 'string' },
    timeout: { type: 'string', default: '5000' },
    json: { type: 'string' },
  },
});
const cases = Number(values.cases);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(seed)) {
  console.error('usage: npm run fuzz -- --cases N [--seed S] [--target NAME] [--timeout MS] [--json FILE]');
  process.exit(2);
}
const targets = [...(await decoderTargets()), ...httpTargets()];
const chosen = targets.filter((t) => !values.target || t.name.includes(values.target));
if (chosen.length === 0) {
  console.error(`no target matches "${values.target}"; targets: ${targets.map((t) => t.name).join(', ')}`);
  process.exit(2);
}
console.log(`fuzz: ${cases} cases over ${chosen.length} targets, seed ${seed}`);
const report = await runFuzz(chosen, {
  cases,
  seed,
  caseTimeoutMs: Number(values.timeout),
  onProgress: (r) => {
    const bad = r.crashes + r.hangs;
    console.log(
      `${bad ? 'FAIL' : 'ok  '} ${r.name.padEnd(24)} ${String(r.cases).padStart(8)} cases ` +
        `${String(r.accepted).padStart(7)} accepted ${String(r.rejected).padStart(8)} rejected ` +
        `${r.crashes} crashes ${r.hangs} hangs  ${Math.round(r.casesPerSecond)}/s  max ${r.maxCaseMs.toFixed(1)} ms  seed ${r.seed}`,
    );
    for (const f of r.findings) {
      console.log(
        `     ${f.kind}: ${f.error}\n     input: ${f.counterexample.slice(0, 400)}\n     path: ${f.path}`,
      );
    }
  },
});
console.log(
  `total: ${report.cases} cases, ${report.accepted} accepted, ${report.rejected} rejected, ` +
    `${report.crashes} crashes, ${report.hangs} hangs in ${(report.ms / 1000).toFixed(1)} s ` +
    `(${Math.round(report.casesPerSecond)} cases/s)`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.crashes + report.hangs > 0 ? 1 : 0);
