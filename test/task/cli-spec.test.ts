/**
 * `agora job spec` prints the documents `agora job create --spec` takes: presets and specs made from
 * a data file; a bad spec file is a clear error (no chain needed for any of this).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSpecFile } from '../../src/task/cli-spec.ts';
import { modelSpecHash } from '../../src/task/spec.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');

describe('agora job spec', () => {
  it('prints the mnist-mlp preset and a tabular spec made from a CSV; both read back as --spec files', async () => {
    const home = tempHome();
    const preset = await runCli([
      '--home',
      home,
      'job',
      'spec',
      '--preset',
      'mnist-mlp',
      '--H',
      '25',
      '--rounds',
      '40',
      '--json',
    ]);
    expect(preset.code, preset.stderr).toBe(0);
    const p = JSON.parse(preset.stdout);
    expect(p).toMatchObject({ name: 'mnist-mlp', kind: 'image', innerSteps: 25, rounds: 40 });
    const tab = await runCli([
      '--home',
      home,
      'job',
      'spec',
      '--task',
      'tabular',
      '--data',
      CSV,
      '--label',
      'triage',
      '--json',
    ]);
    expect(tab.code, tab.stderr).toBe(0);
    const t = JSON.parse(tab.stdout);
    expect(t.data).toMatchObject({
      format: 'csv',
      label: 'triage',
      numeric: ['age', 'systolic_bp', 'glucose', 'bmi', 'heart_rate'],
      categorical: [
        { name: 'clinic', values: ['east', 'north', 'south', 'west'] },
        { name: 'smoker', values: ['current', 'former', 'never'] },
      ],
      classes: ['follow-up', 'routine', 'urgent'],
      missing: { numeric: 'mean', categorical: 'zeros' },
    });
    expect(t.model.sizes).toEqual([12, 64, 3]);
    const file = join(home, 'spec.json');
    writeFileSync(file, JSON.stringify(t, null, 2));
    expect(modelSpecHash(readSpecFile(file))).toBe(modelSpecHash(t));
  });

  it('a malformed spec file is a clear error', () => {
    const home = tempHome();
    const file = join(home, 'bad.json');
    writeFileSync(file, JSON.stringify({ version: 1, name: 'x', kind: 'image' }));
    expect(() => readSpecFile(file)).toThrow(/invalid job spec: .*objective/);
    writeFileSync(file, '{ nope');
    expect(() => readSpecFile(file)).toThrow(/not UTF-8 JSON/);
    expect(() => readSpecFile(join(home, 'missing.json'))).toThrow(/cannot read the spec file/);
  });
});
