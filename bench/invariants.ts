/**
 * `npm run bench:invariants -- --sequences N [--contract protocol|channels|all] [--steps S] [--seed S]
 *   [--minutes M] [--json FILE]`
 *
 * The contract invariant tests at scale: the same seeded random operation sequences as
 * test/contracts/invariants.test.ts (ComputeMarket + TrainingLedger + token: conservation, escrow and
 * stake solvency, exact accounting) and test/pay/invariants.test.ts (PaymentChannels: conservation,
 * channel bounds, op-by-op agreement with a model), N sequences per contract on the embedded chain.
 * Reports sequences run and passed, operations, throughput, and every failure with its seed.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Hex } from 'viem';
import { startFixture } from '../test/contracts/fixture.ts';
import { protocolSequences } from '../test/contracts/protocol-sequences.ts';
import { channelSequences, N } from '../test/pay/channel-sequences.ts';
import { startPayFixture } from '../test/pay/fixture.ts';

const { values } = parseArgs({
  options: {
    sequences: { type: 'string', default: '10000' },
    contract: { type: 'string', default: 'all' },
    steps: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    /** time budget per contract: stop early and report the sequences reached */
    minutes: { type: 'string' },
    json: { type: 'string' },
  },
});
const sequences = Number(values.sequences);
const steps = Number(values.steps);
const firstSeed = Number(values.seed);
const which = values.contract ?? 'all';
const budgetMs = values.minutes === undefined ? Number.POSITIVE_INFINITY : Number(values.minutes) * 60_000;
if (!Number.isSafeInteger(sequences) || sequences < 1 || !['all', 'protocol', 'channels'].includes(which)) {
  console.error(
    'usage: npm run bench:invariants -- --sequences N [--contract protocol|channels|all] [--steps S] [--json FILE]',
  );
  process.exit(2);
}

type Failure = { seed: number; error: string };
type ContractReport = {
  contract: string;
  invariants: string[];
  sequences: number;
  passed: number;
  operations: number;
  stateChanges?: number;
  failures: Failure[];
  ms: number;
  sequencesPerSecond: number;
};

const reports: ContractReport[] = [];
const progressEvery = Math.max(1, Math.floor(sequences / 20));

function progress(name: string, done: number, t0: number, failures: number): void {
  if (done % progressEvery !== 0 && done !== sequences) return;
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${name}: ${done}/${sequences} sequences, ${failures} failures, ${(done / s).toFixed(2)} seq/s`,
  );
}

if (which === 'all' || which === 'protocol') {
  const f = await startFixture();
  try {
    const seq = await protocolSequences(f);
    const r: ContractReport = {
      contract: 'ComputeMarket + TrainingLedger + AgoraToken',
      invariants: [
        'AGORA supply conserved across every holder',
        'provider locked stake <= stake',
        'ledger: claimed <= rewardTotal <= funded',
        'market holds exactly stakes + escrow of live jobs',
        'ledger holds exactly what it owes',
      ],
      sequences: 0,
      passed: 0,
      operations: 0,
      stateChanges: 0,
      failures: [],
      ms: 0,
      sequencesPerSecond: 0,
    };
    const t0 = performance.now();
    for (let i = 0; i < sequences && performance.now() - t0 < budgetMs; i++) {
      const seed = firstSeed + i;
      const snap: Hex = await f.snapshot();
      try {
        const res = await seq.runSequence(seed, steps);
        r.passed++;
        r.stateChanges = (r.stateChanges ?? 0) + res.ok;
      } catch (e) {
        r.failures.push({ seed, error: `${(e as Error).name}: ${(e as Error).message.slice(0, 500)}` });
      }
      r.sequences++;
      r.operations += steps;
      await f.revert(snap);
      progress('protocol', i + 1, t0, r.failures.length);
    }
    r.ms = performance.now() - t0;
    r.sequencesPerSecond = r.sequences / (r.ms / 1000);
    reports.push(r);
  } finally {
    await f.stop();
  }
}

if (which === 'all' || which === 'channels') {
  const f = await startPayFixture(N + 1);
  try {
    const seq = await channelSequences(f);
    const r: ContractReport = {
      contract: 'PaymentChannels',
      invariants: [
        'every operation succeeds exactly when the model says it should',
        'a channel never pays more than its deposit',
        'tokens conserved (participants + contract)',
        'the contract holds exactly the unpaid deposits of open channels',
      ],
      sequences: 0,
      passed: 0,
      operations: 0,
      failures: [],
      ms: 0,
      sequencesPerSecond: 0,
    };
    const t0 = performance.now();
    for (let i = 0; i < sequences && performance.now() - t0 < budgetMs; i++) {
      const seed = firstSeed + i;
      try {
        await seq.runSequence(seed);
        r.passed++;
      } catch (e) {
        // the model may now disagree with the chain: later sequences still run on fresh channels
        r.failures.push({ seed, error: `${(e as Error).name}: ${(e as Error).message.slice(0, 500)}` });
      }
      r.sequences++;
      r.operations += seq.opsPerSequence + 1;
      progress('channels', i + 1, t0, r.failures.length);
    }
    r.ms = performance.now() - t0;
    r.sequencesPerSecond = r.sequences / (r.ms / 1000);
    reports.push(r);
  } finally {
    await f.stop();
  }
}

for (const r of reports) {
  console.log(
    `${r.failures.length ? 'FAIL' : 'ok  '} ${r.contract}: ${r.passed}/${r.sequences} sequences passed, ` +
      `${r.operations} operations in ${(r.ms / 1000).toFixed(1)} s (${r.sequencesPerSecond.toFixed(2)} seq/s)`,
  );
  for (const x of r.failures.slice(0, 10)) console.log(`     seed ${x.seed}: ${x.error}`);
}
if (values.json) {
  writeFileSync(
    values.json,
    `${JSON.stringify({ sequences, steps, firstSeed, contracts: reports }, null, 2)}\n`,
  );
}
process.exit(reports.some((r) => r.failures.length > 0) ? 1 : 0);
