/**
 * A job spec from command-line options (`agora job create|spec`, `agora devnet`): a spec file
 * (`--spec FILE`), a preset (`--preset NAME`, or `--task NAME` for a preset name), or a spec made
 * from a data file (`--task tabular --data FILE --label COLUMN`), with `--H`, `--rounds`, `--drift`,
 * `--aggregator`, `--calibration` applied on top. Every result is checked (`validateJobSpec`).
 */
import { readFileSync, statSync } from 'node:fs';
import { AgoraError } from '../errors.ts';
import { imageFolderSpec } from './image-spec.ts';
import { PRESETS, presetSpec } from './presets.ts';
import { validateJobSpec } from './registry.ts';
import { defaultWarmup, type JobSpec, MAX_SPEC_BYTES, parseSpecJson } from './spec.ts';
import { tabularSpecFromFile } from './tabular-spec.ts';
import { textSpec } from './text-spec.ts';

export const SPEC_CLI_HELP = {
  task: `a preset (${PRESETS.join(', ')}) or a task kind to make a spec for: tabular (--data --label), image (--data ROOT), text`,
  data: 'with --task tabular: the CSV/JSONL file whose columns the spec declares; with --task image: the image folder',
  label: 'with --task tabular: the label column',
  objective:
    'with --task tabular: classification or regression (default: regression for a numeric label with non-integer or over 20 distinct values)',
};

export type SpecCliOptions = {
  spec?: string;
  preset?: string;
  task?: string;
  data?: string;
  label?: string;
  format?: string;
  objective?: string;
  H?: string;
  rounds?: string;
  drift?: string;
  aggregator?: string;
  calibration?: string;
};

function posInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new AgoraError('BAD_OPTION', `--${name} must be a positive integer, not "${v}"`);
  return n;
}

/** Reads and checks a spec file (size-capped before reading). */
export function readSpecFile(path: string): JobSpec {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new AgoraError('SPEC_UNREADABLE', `cannot read the spec file ${path}: ${(e as Error).message}`);
  }
  if (size > 4 * MAX_SPEC_BYTES) {
    throw new AgoraError(
      'SPEC_TOO_LARGE',
      `${path} is ${size} bytes; a job spec is at most ${MAX_SPEC_BYTES}`,
    );
  }
  return validateJobSpec(parseSpecJson(new Uint8Array(readFileSync(path))));
}

function objectiveOf(v: string): 'classification' | 'regression' {
  if (v !== 'classification' && v !== 'regression')
    throw new AgoraError('BAD_OPTION', `--objective must be classification or regression, not "${v}"`);
  return v;
}

export function jobSpecFromCli(o: SpecCliOptions): JobSpec {
  const innerSteps = posInt(o.H, 'H');
  const rounds = posInt(o.rounds, 'rounds');
  const choices = {
    ...(o.drift ? { drift: o.drift } : {}),
    ...(o.aggregator ? { aggregator: o.aggregator } : {}),
    ...(o.calibration ? { calibration: o.calibration } : {}),
  };
  const sources = [o.spec, o.preset, o.task].filter((x) => x !== undefined);
  if (sources.length !== 1) {
    throw new AgoraError('BAD_OPTION', 'give exactly one of --spec FILE, --preset NAME, --task KIND', {
      hint: `presets: ${PRESETS.join(', ')}; \`agora job spec --preset mnist-mlp\` prints one to edit`,
    });
  }
  if (o.spec) {
    const spec = readSpecFile(o.spec);
    const over = {
      ...spec,
      ...choices,
      ...(innerSteps ? { innerSteps } : {}),
      ...(rounds ? { rounds } : {}),
    };
    return validateJobSpec(over);
  }
  const name = o.preset ?? o.task!;
  if ((PRESETS as readonly string[]).includes(name)) {
    return presetSpec(name, {
      ...choices,
      ...(innerSteps ? { innerSteps } : {}),
      ...(rounds ? { rounds } : {}),
    });
  }
  if (name === 'tabular') {
    if (!o.data || !o.label) {
      throw new AgoraError('BAD_OPTION', '--task tabular needs --data FILE and --label COLUMN');
    }
    const base = tabularSpecFromFile({
      path: o.data,
      label: o.label,
      ...(o.format ? { format: o.format as 'csv' | 'jsonl' } : {}),
      ...(o.objective ? { objective: objectiveOf(o.objective) } : {}),
    });
    const R = rounds ?? base.rounds;
    const H = innerSteps ?? base.innerSteps;
    return validateJobSpec({
      ...base,
      ...choices,
      innerSteps: H,
      rounds: R,
      schedule: { ...base.schedule, warmupSteps: defaultWarmup(R * H) },
    });
  }
  if (name === 'image' || name === 'text') {
    if (name === 'image' && !o.data) {
      throw new AgoraError(
        'BAD_OPTION',
        '--task image needs --data ROOT (an image folder ROOT/<label>/<image>)',
        {
          hint: 'or --preset mnist-mlp for IDX digits',
        },
      );
    }
    const base =
      name === 'image'
        ? imageFolderSpec({
            path: o.data!,
            ...(innerSteps ? { innerSteps } : {}),
            ...(rounds ? { rounds } : {}),
          })
        : textSpec({ ...(innerSteps ? { innerSteps } : {}), ...(rounds ? { rounds } : {}) });
    return validateJobSpec({ ...base, ...choices });
  }
  return presetSpec(name);
}
