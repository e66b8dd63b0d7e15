/** Builds a `Model` from its spec. */
import { mlpModel } from './mlp.ts';
import type { Model, ModelSpec } from './spec.ts';
import { transformerModel } from './transformer.ts';

export function buildModel(spec: ModelSpec): Model {
  return spec.kind === 'mlp' ? mlpModel(spec) : transformerModel(spec);
}

export type { MlpSpec, Model, ModelSpec, ParamSpec, TransformerSpec } from './spec.ts';
