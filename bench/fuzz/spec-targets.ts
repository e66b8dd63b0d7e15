/**
 * Fuzz target of job spec documents (src/task/spec.ts, src/task/registry.ts, src/task/spec-source.ts,
 * src/task/bounds.ts). A spec reaches every provider untrusted: as calldata of `publishJobSpec` read
 * back from a `JobSpecPublished` event, or from a peer's cache. What a provider does with the bytes:
 * `specMatching(bytes, modelSpecHash)` (keccak check, size cap, UTF-8 JSON, the common schema, the
 * task kind's own checks), then `boundsRefusal` against its declared bounds and the kind's
 * `mismatch` against its own data's description (src/node/daemon.ts `#refusal`).
 *
 * The valid documents are the ones agora writes: the `mnist-mlp` preset with every drift, aggregator
 * and calibration, an image-folder CNN, tabular classification and regression from the example CSVs,
 * and text LMs of a few shapes; they are mutated as JSON values (fields replaced, deleted, added,
 * retyped, arrays blown up), as JSON text and as raw bytes.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { type Hex, keccak256 } from 'viem';
import { boundsRefusal, DEFAULT_BOUNDS, estimateJob, type ProviderBounds } from '../../src/task/bounds.ts';
import { imageTask } from '../../src/task/image.ts';
import { imageFolderSpec } from '../../src/task/image-spec.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { taskOf } from '../../src/task/registry.ts';
import { type JobSpec, modelSpecHash, specBytes, TASK_AGGREGATORS } from '../../src/task/spec.ts';
import { specMatching } from '../../src/task/spec-source.ts';
import { tabularTask } from '../../src/task/tabular.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import type { DataDescription } from '../../src/task/task.ts';
import { textTask } from '../../src/task/text.ts';
import { textSpec } from '../../src/task/text-spec.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { type Json, mutatedBytes, mutatedJsonBytes } from './mutate.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples');
const CLINIC_CSV = join(EXAMPLES, 'tabular/clinic-visits.csv');
const ENERGY_CSV = join(EXAMPLES, 'tabular/household-energy.csv');
const DIGITS = join(EXAMPLES, 'images/digits');
const TEXT = join(EXAMPLES, 'text/brown-news.txt');

/** Valid specs of every kind and preset agora writes. */
export function validSpecs(): JobSpec[] {
  return [
    mnistMlpPreset(),
    mnistMlpPreset({ innerSteps: 1, rounds: 1, drift: 'etf-head', aggregator: 'centered-clip' }),
    mnistMlpPreset({ drift: 'none', calibration: 'none', aggregator: TASK_AGGREGATORS[2] }),
    imageFolderSpec({ path: DIGITS }),
    imageFolderSpec({ path: DIGITS, height: 8, width: 8, filters: [4], hidden: [16, 8] }),
    tabularSpecFromFile({ path: CLINIC_CSV, label: 'triage' }),
    tabularSpecFromFile({ path: ENERGY_CSV, label: 'kwh' }),
    textSpec(),
    textSpec({ context: 16, layers: 1, dModel: 32, heads: 2, batchSize: 4 }),
  ];
}

/** Provider data of each kind, described as `agora node start` describes it (`Task.describe`). */
function providerData(): DataDescription[] {
  return [
    imageTask.describe({ path: DIGITS, format: 'images' }),
    { kind: 'image', format: 'idx', dtype: 'u8', shape: [28, 28], classes: 10 },
    tabularTask.describe({ path: CLINIC_CSV, format: 'csv', label: 'triage' }),
    tabularTask.describe({ path: ENERGY_CSV, format: 'csv', label: 'kwh' }),
    textTask.describe({ path: TEXT, format: 'text' }),
  ];
}

/** Bounds a provider may declare: the defaults, a small machine, one kind only, a huge one. */
const BOUNDS: ProviderBounds[] = [
  DEFAULT_BOUNDS,
  { maxParams: 1000, maxMemoryMb: 65, maxSecondsPerRound: 0.001, flops: 1e6, kinds: ['text'] },
  { maxParams: 1e12, maxMemoryMb: 1e9, maxSecondsPerRound: 1e9, flops: 1e15, kinds: ['image', 'tabular'] },
];

/** How the case's hash relates to its bytes. */
type HashMode = 'matching' | 'matching-upper' | 'other' | 'valid';

export function specTargets(): FuzzTarget[] {
  const specs = validSpecs();
  const data = providerData();
  const validJson = specs.map((s) => JSON.parse(JSON.stringify(s)) as Json);
  const canonical = specs.map(specBytes);
  const validHash = modelSpecHash(specs[0]);
  return [
    defineTarget({
      name: 'task/job-spec',
      boundary:
        'job spec documents from chain events or peers: specMatching (hash, size, JSON, schemas), bounds, data fit',
      weight: 2,
      input: fc.record({
        bytes: fc.oneof(
          { weight: 6, arbitrary: mutatedJsonBytes(fc.constantFrom(...validJson)) },
          { weight: 2, arbitrary: mutatedBytes(fc.constantFrom(...canonical), 2048) },
        ),
        hash: fc.constantFrom<HashMode>(
          'matching',
          'matching',
          'matching',
          'matching-upper',
          'other',
          'valid',
        ),
      }),
      run({ bytes, hash: mode }: { bytes: Uint8Array; hash: HashMode }): Outcome {
        const own = keccak256(bytes);
        const hash: Hex =
          mode === 'matching'
            ? own
            : mode === 'matching-upper'
              ? (`0x${own.slice(2).toUpperCase()}` as Hex)
              : mode === 'other'
                ? keccak256(own)
                : validHash;
        const spec = specMatching(bytes, hash);
        // what a provider does next with an accepted spec (src/node/daemon.ts #refusal)
        modelSpecHash(spec);
        estimateJob(spec);
        for (const b of BOUNDS) boundsRefusal(spec, b);
        const task = taskOf(spec.kind);
        for (const d of data) task.mismatch(spec, d);
        return 'accepted';
      },
    }),
  ];
}
