/**
 * Writes examples/tabular/household-energy.csv: a small synthetic regression data set with numeric
 * and categorical columns and missing values, for `agora devnet --task tabular --label kwh` and the
 * tests. Synthetic (seeded, no real households): a month's electricity use in kWh from the floor
 * area, occupants, the building's age, the month's mean outdoor temperature, the region, the
 * heating system and the insulation grade. The target is nonlinear in its inputs (heating demand
 * below 16 °C scales with the area and the insulation; heat pumps use a third of resistive
 * heating's energy; cooling above 22 °C), plus Gaussian noise (σ = 40 kWh). About 5% of the numeric
 * feature cells and 3% of the categorical ones are left empty; the target is never missing.
 *
 * Usage: node scripts/gen-tabular-regression-example.ts [OUT] [ROWS]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { seededRandom } from './seeded-random.ts';

const out = process.argv[2] ?? 'examples/tabular/household-energy.csv';
const rows = Number(process.argv[3] ?? 2400);

const { rand, normal, pick } = seededRandom(0x5eed1e55);

const regions = ['coast', 'valley', 'mountain', 'city'];
/** Region: offset of the month's mean temperature (°C). */
const regionTemp: Record<string, number> = { coast: 3, valley: 0, mountain: -5, city: 2 };
const heating = ['heat-pump', 'electric', 'gas'];
/** kWh of electricity per m² per degree below 16 °C (gas heating uses electricity for its pump only). */
const heatingFactor: Record<string, number> = { 'heat-pump': 0.09, electric: 0.27, gas: 0.02 };
const insulation = ['poor', 'average', 'good'];
const insulationFactor: Record<string, number> = { poor: 1.45, average: 1, good: 0.65 };

const lines = ['area_m2,occupants,building_age,outdoor_temp_c,region,heating,insulation,kwh'];
for (let i = 0; i < rows; i++) {
  const region = pick(regions);
  const area = Math.max(25, 95 + 35 * normal());
  const occupants = Math.max(1, Math.min(7, Math.round(2.6 + 1.3 * normal())));
  const age = Math.max(0, Math.round(35 + 22 * normal()));
  const temp = 11 + regionTemp[region] + 8 * normal();
  const heat = pick(heating);
  const ins = age > 50 ? (rand() < 0.6 ? 'poor' : pick(insulation)) : pick(insulation);
  const heatingKwh = heatingFactor[heat] * area * Math.max(0, 16 - temp) * insulationFactor[ins] * 30 * 0.1;
  const coolingKwh = 0.06 * area * Math.max(0, temp - 22) ** 1.5;
  const base = 90 + 55 * occupants + 0.6 * area;
  const kwh = Math.max(20, base + heatingKwh + coolingKwh + 40 * normal());
  const num = (x: number, digits: number) => (rand() < 0.05 ? '' : x.toFixed(digits));
  const cat = (v: string) => (rand() < 0.03 ? '' : v);
  lines.push(
    [
      num(area, 1),
      num(occupants, 0),
      num(age, 0),
      num(temp, 1),
      cat(region),
      cat(heat),
      cat(ins),
      kwh.toFixed(1),
    ].join(','),
  );
}
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(`wrote ${rows} rows to ${out}`);
