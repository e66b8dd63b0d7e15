/**
 * The task kinds this node runs, and the whole check of a job spec (common fields, then the kind's
 * own). A new task kind is one file implementing `Task` and one line here.
 */
import { AgoraError } from '../errors.ts';
import { imageTask } from './image.ts';
import { checkCommon, type JobSpec, parseSpecJson } from './spec.ts';
import { tabularTask } from './tabular.ts';
import type { Task } from './task.ts';
import { textTask } from './text.ts';

const TASKS: readonly Task[] = [imageTask, tabularTask, textTask];

/** The task kinds this node can train and validate. */
export const TASK_KINDS: readonly string[] = TASKS.map((t) => t.kind);

export function taskOf(kind: string): Task {
  const t = TASKS.find((x) => x.kind === kind);
  if (!t) {
    throw new AgoraError('UNKNOWN_TASK', `unknown task kind "${kind}"`, {
      hint: `this node runs: ${TASK_KINDS.join(', ')}; upgrade agora for others`,
    });
  }
  return t;
}

/** The task that reads data of `format` (`--format`). */
export function taskForFormat(format: string): Task {
  const t = TASKS.find((x) => (x.formats as readonly string[]).includes(format));
  if (!t) {
    throw new AgoraError('DATA_BAD_FORMAT', `no task of this node reads --format ${format}`, {
      hint: `formats: ${[...new Set(TASKS.flatMap((x) => x.formats))].join(', ')}`,
    });
  }
  return t;
}

/** A checked job spec from any JSON value (throws `SPEC_*` with what is wrong). */
export function validateJobSpec(input: unknown): JobSpec {
  const common = checkCommon(input);
  const spec = taskOf(common.kind).validate(common);
  if (spec.innerSteps > 0 && spec.rounds * spec.innerSteps > 100_000_000) {
    throw new AgoraError('SPEC_INVALID', 'invalid job spec: rounds × innerSteps is over 10^8');
  }
  if ((spec.drift !== 'none' || spec.calibration !== 'none') && spec.objective !== 'classification') {
    throw new AgoraError(
      'SPEC_INVALID',
      'invalid job spec: drift heads and the LDA head are for classification',
      {
        hint: 'use "drift": "none" and "calibration": "none"',
      },
    );
  }
  if (spec.calibration === 'lda-head' && spec.model.kind !== 'mlp') {
    throw new AgoraError('SPEC_INVALID', 'invalid job spec: the LDA head needs an MLP model');
  }
  return spec;
}

/** A checked job spec from its bytes (UTF-8 JSON, size-capped). */
export function jobSpecFromBytes(bytes: Uint8Array): JobSpec {
  return validateJobSpec(parseSpecJson(bytes));
}
