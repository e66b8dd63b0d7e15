/**
 * Writes examples/tabular/clinic-visits.csv: a small synthetic classification data set with numeric
 * and categorical columns and missing values, for `agora devnet --task tabular` and the tests.
 * Synthetic (seeded, no real patients): 3 triage classes from a few measurements, a clinic and a
 * smoking status, with ~5% of the numeric cells and ~3% of the categorical cells left empty.
 *
 * Usage: node scripts/gen-tabular-example.ts [OUT] [ROWS]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { seededRandom } from './seeded-random.ts';

const out = process.argv[2] ?? 'examples/tabular/clinic-visits.csv';
const rows = Number(process.argv[3] ?? 2400);

const { rand, normal, pick } = seededRandom(0x2545f491);

const clinics = ['north', 'south', 'east', 'west'];
const smoking = ['never', 'former', 'current'];
const classes = ['routine', 'follow-up', 'urgent'];
const lines = ['age,systolic_bp,glucose,bmi,heart_rate,clinic,smoker,triage'];
for (let i = 0; i < rows; i++) {
  const y = Math.floor(rand() * 3);
  const age = 30 + 12 * y + 10 * normal();
  const bp = 118 + 12 * y + 9 * normal();
  const glucose = 92 + 18 * y + 12 * normal();
  const bmi = 24 + 2.2 * y + 3 * normal();
  const hr = 72 + 5 * normal() + (y === 2 ? 8 : 0);
  const clinic = pick(clinics);
  const smoker = rand() < 0.25 + 0.2 * y ? (rand() < 0.5 ? 'current' : 'former') : pick(smoking.slice(0, 1));
  const num = (x: number, digits: number) => (rand() < 0.05 ? '' : x.toFixed(digits));
  const cat = (v: string) => (rand() < 0.03 ? '' : v);
  lines.push(
    [
      num(age, 0),
      num(bp, 0),
      num(glucose, 1),
      num(bmi, 1),
      num(hr, 0),
      cat(clinic),
      cat(smoker),
      classes[y],
    ].join(','),
  );
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(`wrote ${rows} rows to ${out}`);
