/**
 * A training checkpoint as a safetensors file: the flat parameter vector (`params`, F32 [P]), the
 * outer optimizer's momentum (`outer.momentum`, F32 [P], when present), and `__metadata__` with
 * `format: "agora-train-v1"`, the outer config and step, and any caller fields (task, round, job).
 */
import { AgoraError } from '../../errors.ts';
import type { OuterOptimizerConfig, OuterOptimizerState } from '../outer-optimizer.ts';
import { checkpointHash, type Hex32 } from './hash.ts';
import {
  decodeSafetensors,
  encodeSafetensors,
  type Tensor,
  tensorFrom,
  tensorToFloat32,
} from './safetensors.ts';

export const TRAIN_CHECKPOINT_FORMAT = 'agora-train-v1';

export type TrainingCheckpoint = {
  params: Float32Array;
  outer?: OuterOptimizerState;
  /** Extra string fields (task, model, round, job id, …). */
  info?: Record<string, string>;
};

export function encodeTrainingCheckpoint(c: TrainingCheckpoint): { bytes: Uint8Array; hash: Hex32 } {
  const tensors = new Map<string, Tensor>([['params', tensorFrom('F32', [c.params.length], c.params)]]);
  const meta: Record<string, string> = { ...(c.info ?? {}), format: TRAIN_CHECKPOINT_FORMAT };
  if (c.outer !== undefined) {
    meta['outer.config'] = JSON.stringify(c.outer.config);
    meta['outer.step'] = String(c.outer.step);
    if (c.outer.momentum)
      tensors.set('outer.momentum', tensorFrom('F32', [c.outer.momentum.length], c.outer.momentum));
  }
  const bytes = encodeSafetensors(tensors, meta);
  return { bytes, hash: checkpointHash(bytes) };
}

export function decodeTrainingCheckpoint(bytes: Uint8Array): TrainingCheckpoint {
  const f = decodeSafetensors(bytes);
  const meta = f.metadata ?? {};
  if (meta.format !== TRAIN_CHECKPOINT_FORMAT) {
    throw new AgoraError(
      'CHECKPOINT_BAD_FORMAT',
      `Checkpoint metadata format is ${JSON.stringify(meta.format)}, expected "${TRAIN_CHECKPOINT_FORMAT}".`,
      { hint: 'This safetensors file is not an Agora training checkpoint.' },
    );
  }
  const p = f.tensors.get('params');
  if (p === undefined)
    throw new AgoraError('CHECKPOINT_MISSING_TENSOR', 'Checkpoint has no "params" tensor.');
  const { format: _f, 'outer.config': oc, 'outer.step': os, ...info } = meta;
  const out: TrainingCheckpoint = { params: tensorToFloat32(p, 'params'), info };
  if (oc !== undefined) {
    const m = f.tensors.get('outer.momentum');
    const momentum = m ? tensorToFloat32(m, 'outer.momentum') : undefined;
    if (momentum && momentum.length !== out.params.length) {
      throw badOuter(`outer.momentum has ${momentum.length} values for ${out.params.length} params`);
    }
    out.outer = {
      config: parseOuterConfig(oc),
      step: parseOuterStep(os),
      ...(momentum ? { momentum } : {}),
    };
  }
  return out;
}

function badOuter(why: string): AgoraError {
  return new AgoraError('CHECKPOINT_BAD_OUTER', `Checkpoint outer-optimizer state is malformed: ${why}.`, {
    hint: 'The checkpoint is corrupt or was not written by Agora; fetch it again from another peer.',
  });
}

/** The `outer.config` metadata: JSON `{ lr, momentum, nesterov }` with finite numbers. */
function parseOuterConfig(text: string): OuterOptimizerConfig {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badOuter('outer.config is not JSON');
  }
  const c = v as Partial<OuterOptimizerConfig> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    typeof c.lr !== 'number' ||
    !Number.isFinite(c.lr) ||
    typeof c.momentum !== 'number' ||
    !Number.isFinite(c.momentum) ||
    typeof c.nesterov !== 'boolean'
  ) {
    throw badOuter('outer.config needs finite lr and momentum and a boolean nesterov');
  }
  return { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov };
}

function parseOuterStep(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,15}$/.test(text))
    throw badOuter(`outer.step ${JSON.stringify(text.slice(0, 40))} is not a step count`);
  return Number(text);
}
