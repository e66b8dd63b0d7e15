/**
 * MLP classifier (or regressor with `loss: 'mse'`: float targets `[batch, outputs]`). Parameters, in order, for each layer i = 0..L−1:
 * `fc{i}.weight [in, out]`, `fc{i}.bias [out]`; init like PyTorch's nn.Linear default,
 * U(−1/√in, 1/√in) for both.
 */
import { AgoraError } from '../../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { gelu, linear, relu } from '../graph/ops.ts';
import type { MlpSpec, Model, ParamSpec } from './spec.ts';

export function mlpModel(spec: MlpSpec): Model {
  const sizes = spec.sizes;
  if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new AgoraError('MODEL_BAD_SPEC', `MLP sizes must be ≥ 2 positive integers, got [${sizes}]`, {
      hint: 'e.g. sizes: [784, 512, 512, 10]',
    });
  }
  const params: ParamSpec[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const bound = 1 / Math.sqrt(sizes[i]);
    params.push({
      name: `fc${i}.weight`,
      shape: [sizes[i], sizes[i + 1]],
      init: { kind: 'uniform', bound },
      decay: true,
    });
    params.push({
      name: `fc${i}.bias`,
      shape: [sizes[i + 1]],
      init: { kind: 'uniform', bound },
      decay: false,
    });
  }
  const classes = sizes[sizes.length - 1];
  const regression = spec.loss === 'mse';
  return {
    spec,
    params,
    classes,
    ...(regression ? { loss: 'mse' as const } : {}),
    inputShape: (b) => ({ shape: [b, sizes[0]], dtype: 'float32' }),
    targetShape: (b) => (regression ? [b, classes] : [b]),
    outputShape: (b) => [b, classes],
    forward(g: Graph, ps: readonly Value[], input: Value): Value {
      let h = input;
      const layers = sizes.length - 1;
      for (let i = 0; i < layers; i++) {
        h = linear(g, h, ps[2 * i], ps[2 * i + 1]);
        if (i + 1 < layers) h = spec.activation === 'gelu' ? gelu(g, h) : relu(g, h);
      }
      return h;
    },
  };
}
