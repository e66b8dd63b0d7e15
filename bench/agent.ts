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
    role: 'held out, since tuned on (first run 218/222 = 98.2%, 0 value-moving mistakes)',
  },
  {
    name: 'heldout-2',
    file: 'eval-heldout-2.txt',
    role: 'held out, since tuned on (first run 170/178 = 95.5%, 0)',
  },
  {
    name: 'heldout-3',
    file: 'eval-heldout-3.txt',
    role: 'held out, since tuned on (first run 204/217 = 94.0%, 2)',
  },
  {
    name: 'heldout-4',
    file: 'eval-heldout-4.txt',
    role: 'held out, since tuned on (first run 222/232 = 95.7%, 3)',
  },
  {
    name: 'heldout-5',
    file: 'eval-heldout-5.txt',
    role: 'held out, never tuned on (first run 217/222 = 97.7%, 0)',
  },
  {
    name: 'heldout-6',
    file: 'eval-heldout-6.txt',
    role: 'model.query, held out, since tuned on (first run 40/49 = 81.6%, 1)',
  },
  {
    name: 'heldout-7',
    file: 'eval-heldout-7.txt',
    role: 'model.query, held out, since tuned on (first run 37/41 = 90.2%, 0)',
  },
  {
    name: 'heldout-8',
    file: 'eval-heldout-8.txt',
    role: 'model.query, held out, never tuned on (first run 40/41 = 97.6%, 0)',
  },
  { name: 'dev', file: 'eval-dev.txt', role: 'development (tuned on)' },
];

const results: Record<string, unknown> = {};
let allCases = 0;
let allExact = 0;
let allUnsafe = 0;
for (const s of SETS) {
  const cases = parseEvalSet(readFileSync(join(DIR, s.file), 'utf8'), s.file);
  const t0 = performance.now();
  const r = evaluate(cases, (text, contacts) => parseCommand(text, { contacts }));
  const ms = performance.now() - t0;
  allCases += r.cases;
  allExact += r.exact;
  allUnsafe += r.unsafeValueMoves;
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
const never = results['heldout-5'] as {
  cases: number;
  exact: number;
  accuracy: number;
  unsafeValueMoves: number;
};
const summary = {
  /** The set never tuned on: the parser's held-out figure. */
  heldOut: {
    set: 'heldout-5',
    cases: never.cases,
    exact: never.exact,
    accuracy: never.accuracy,
    unsafeValueMoves: never.unsafeValueMoves,
  },
  /** First runs of every held-out set, before any tuning on it. */
  firstRuns: {
    'heldout-1': [218, 222, 0],
    'heldout-2': [170, 178, 0],
    'heldout-3': [204, 217, 2],
    'heldout-4': [222, 232, 3],
    'heldout-5': [217, 222, 0],
  },
  allCases,
  allAccuracy: allExact / allCases,
  unsafeValueMoves: allUnsafe,
  target: { accuracy: 0.95, unsafeValueMoves: 0 },
};
console.log(
  `held out (heldout-5, never tuned on): ${never.exact}/${never.cases} = ${(never.accuracy * 100).toFixed(1)}%, value-moving mistakes ${never.unsafeValueMoves}; ` +
    `all sets: ${allExact}/${allCases} = ${((allExact / allCases) * 100).toFixed(1)}%, value-moving mistakes ${allUnsafe} (targets ≥ 95%, 0)`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ sets: results, summary }, null, 2)}\n`);
