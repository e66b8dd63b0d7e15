/** Builds a `Model` from its spec. */
import { AgoraError } from '../../errors.ts';
import { cnnModel } from './cnn.ts';
import { mlpModel } from './mlp.ts';
import type { Model, ModelSpec } from './spec.ts';
import { transformerModel } from './transformer.ts';

export function buildModel(spec: ModelSpec): Model {
  switch (spec.kind) {
    case 'mlp':
      return mlpModel(spec);
    case 'transformer':
      return transformerModel(spec);
    case 'cnn':
      return cnnModel(spec);
  }
  throw new AgoraError(
    'MODEL_BAD_SPEC',
    `unknown model kind ${JSON.stringify((spec as { kind?: unknown }).kind)}`,
    {
      hint: 'kind must be "mlp", "transformer" or "cnn"',
    },
  );
}

export { cnnGeometry, cnnHeadFeatures, smallCnnSpec } from './cnn.ts';
export type { CnnBlock, CnnSpec, MlpSpec, Model, ModelSpec, ParamSpec, TransformerSpec } from './spec.ts';
