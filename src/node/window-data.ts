/**
 * The validator's side of a replay window's data (pure): checks that the samples a worker served
 * for window k are the ones its signed trace trained on — the step indices equal `windowBatches`
 * from the trace's sampler start, and every record hashes to a leaf under the worker's registered
 * dataset root (on chain) — and decodes them into the task's tensors exactly as the provider's
 * task loader does (src/task/).
 */
import type { Hex } from 'viem';
import { keccak256Bytes } from '../data/keccak.ts';
import { slotHex, twoWordLeaf, verifyProof } from '../data/merkle.ts';
import { taskOf } from '../task/registry.ts';
import type { TaskSpec } from '../task/spec.ts';
import type { PrepState } from '../task/task.ts';
import type { Dataset } from '../train/data/dataset.ts';
import type { WindowRecord, WindowSamples } from '../verify/trace-wire.ts';

/** Problems with served window samples against the expected step indices and the dataset root. */
export function windowSampleProblems(w: WindowSamples, expected: readonly Int32Array[], root: Hex): string[] {
  const problems: string[] = [];
  const same =
    w.steps.length === expected.length &&
    w.steps.every((s, i) => s.length === expected[i].length && s.every((x, j) => x === expected[i][j]));
  if (!same) problems.push("the window's sample indices are not the trace's sampler's");
  const byIndex = new Map<number, WindowRecord>();
  for (const r of w.records) byIndex.set(r.index, r);
  const need = new Set(expected.flatMap((s) => Array.from(s)));
  for (const i of need) {
    const r = byIndex.get(i);
    if (!r) {
      problems.push(`record ${i} is missing`);
      continue;
    }
    const contentHash = slotHex(keccak256Bytes(r.bytes), 0);
    if (!verifyProof(root, twoWordLeaf(i, contentHash), r.proof))
      problems.push(`record ${i} is not in the registered dataset (root ${root})`);
  }
  return problems.slice(0, 8);
}

/**
 * A dataset of just the window's records, addressed by their dataset indices (what `replayWindow`
 * asks `getBatch` for), decoded by the job's task with its swarm statistics `prep`. Throws if a
 * record is not a valid record of the task.
 */
export function windowDataset(records: readonly WindowRecord[], spec: TaskSpec, prep?: PrepState): Dataset {
  return taskOf(spec.kind).windowDataset(spec, records, prep);
}
