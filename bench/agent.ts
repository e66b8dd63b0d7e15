/**
 * Accuracy of the embedded command parser (`agora agent parse`) on the labelled sets in
 * test/agent/fixtures/: exact match (tool and every argument; a question where one is expected) and
 * the safety count, value-moving tools chosen for a command that asked for something else (target 0).
 * Also the parse time per command. The held-out sets were written before tuning on them (see the
 * header of each file and docs/agent-language.md for their history).
 * `npm run bench:agent -- [--json FILE] [--verbose]`
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { evaluate, parseEvalSet } from '../src/agent/parse/evaluate.ts';
import { parseCommand } from '../src/agent/parse/index.ts';

const { values } = parseArgs({
  options: { json: { type: 'string' }, verbose: { type: 'boolean', default: false } },
});

const DIR = join(import.meta.dirname, '../test/agent/fixtures');
const SETS = [
  {
    name: 'heldout-1',
    file: 'eval-heldout.txt',
    role: 'held out (first run 218/222 = 98.2% before its failures were fixed)',
  },
  { name: 'heldout-2', file: 'eval-heldout-2.txt', role: 'held out (first run 170/178 = 95.5%)' },
  { name: 'dev', file: 'eval-dev.txt', role: 'development (tuned on)' },
];

const results: Record<string, unknown> = {};
let allCases = 0;
let allExact = 0;
let allUnsafe = 0;
let heldCases = 0;
let heldExact = 0;
for (const s of SETS) {
  const cases = parseEvalSet(readFileSync(join(DIR, s.file), 'utf8'), s.file);
  const t0 = performance.now();
  const r = evaluate(cases, (text, contacts) => parseCommand(text, { contacts }));
  const ms = performance.now() - t0;
  allCases += r.cases;
  allExact += r.exact;
  allUnsafe += r.unsafeValueMoves;
  if (s.name.startsWith('heldout')) {
    heldCases += r.cases;
    heldExact += r.exact;
  }
  console.log(
    `${s.name.padEnd(10)} ${String(r.exact).padStart(4)}/${String(r.cases).padEnd(4)} exact ${(r.accuracy * 100).toFixed(1).padStart(5)}%  ` +
      `value-moving mistakes ${r.unsafeValueMoves}  over-cautious ${r.overCautious}  (${r.clarifyCases} expect a question)  ` +
      `${((ms * 1000) / r.cases).toFixed(0)} µs/command  — ${s.role}`,
  );
  if (values.verbose)
    for (const f of r.failures)
      console.log(`   ${s.file}:${f.line} ${f.text}\n      want ${f.expected}\n      got  ${f.got}`);
  results[s.name] = {
    file: `test/agent/fixtures/${s.file}`,
    role: s.role,
    cases: r.cases,
    exact: r.exact,
    accuracy: r.accuracy,
    unsafeValueMoves: r.unsafeValueMoves,
    overCautious: r.overCautious,
    clarifyCases: r.clarifyCases,
    microsPerCommand: (ms * 1000) / r.cases,
    failures: r.failures,
  };
}
const summary = {
  heldOutCases: heldCases,
  heldOutAccuracy: heldExact / heldCases,
  allCases,
  allAccuracy: allExact / allCases,
  unsafeValueMoves: allUnsafe,
  target: { accuracy: 0.95, unsafeValueMoves: 0 },
};
console.log(
  `held out: ${heldExact}/${heldCases} = ${((heldExact / heldCases) * 100).toFixed(1)}%; all: ${allExact}/${allCases}; value-moving mistakes: ${allUnsafe} (targets ≥ 95%, 0)`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ sets: results, summary }, null, 2)}\n`);
