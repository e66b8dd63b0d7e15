/**
 * `npm run fuzz -- --cases N [--seed S] [--target NAME] [--json FILE]`: drives fast-check over the
 * decoders and trust-boundary parsers (scripts/fuzz-targets.ts) and reports per target the cases
 * run, accepted, rejected (typed), and every crash or hang with its seed. Exit code 1 on a finding.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startEmbeddedChain } from '../src/chain/embedded-chain.ts';
import { fuzzTarget, fuzzTargets, rpcServerTarget, type TargetReport } from './fuzz-targets.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    target: { type: 'string' },
    json: { type: 'string' },
  },
});
const cases = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
// the JSON-RPC server is fuzzed over HTTP against a real embedded chain
const chain = await startEmbeddedChain({ port: 0 });
const targets = [...fuzzTargets(), rpcServerTarget(chain.url!)].filter(
  (t) => !values.target || t.name.includes(values.target),
);
const per = Math.max(1, Math.floor(cases / targets.length));
const started = performance.now();
const reports: TargetReport[] = [];
for (const t of targets) {
  const t0 = performance.now();
  // an HTTP round trip on a loaded machine: a hang is 5 s there, 2 s for in-process decoders
  const r = await fuzzTarget(t, per, seed, t.name.startsWith('rpc-server') ? 5000 : 2000);
  reports.push(r);
  console.error(
    `${t.name.padEnd(28)} ${String(r.cases).padStart(8)} cases  ${String(r.accepted).padStart(7)} accepted  ${String(r.rejected).padStart(7)} rejected  ${r.crashes.length} crashes  ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (const c of r.crashes.slice(0, 3)) console.error(`    seed ${c.seed}: ${c.error}  input ${c.input}`);
}
const summary = {
  seed,
  cases: reports.reduce((a, r) => a + r.cases, 0),
  crashes: reports.reduce((a, r) => a + r.crashes.length, 0),
  seconds: (performance.now() - started) / 1000,
  targets: reports,
};
console.error(
  `total ${summary.cases} cases, ${summary.crashes} crashes/hangs, seed ${seed}, ${summary.seconds.toFixed(1)} s`,
);
await chain.stop();
if (values.json) writeFileSync(values.json, `${JSON.stringify(summary, null, 2)}\n`);
process.exitCode = summary.crashes > 0 ? 1 : 0;
