/**
 * Replay tolerance measurement: the relative distance between a worker's window (1 thread, 1 step per
 * call) and validator replays on differently configured runtimes (threads, unrolled steps), for an
 * MLP and a small transformer LM. Usage: npx node bench/replay.ts [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { createRng, normal } from '../src/train/data/rng.ts';
import type { ModelSpec } from '../src/train/models/spec.ts';
import { createRuntime } from '../src/train/onnx/index.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../src/train/runtime.ts';
import {
  asReplayable,
  captureState,
  compareReplay,
  innerStateHash,
  loadState,
} from '../src/verify/replay.ts';

const OPT: InnerOptimizerConfig = {
  lr: 3e-3,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  clipNorm: 1,
  warmupSteps: 2,
  totalSteps: 100,
  minLrRatio: 0.1,
};

function batches(spec: ModelSpec, n: number, b: number): TensorBatch[] {
  const rng = createRng(1);
  return Array.from({ length: n }, () => {
    if (spec.kind === 'mlp') {
      const F = spec.sizes[0];
      const C = spec.sizes[spec.sizes.length - 1];
      return {
        inputs: Float32Array.from({ length: b * F }, () => normal(rng)),
        targets: Int32Array.from({ length: b }, () => rng.int(C)),
        batchSize: b,
      };
    }
    if (spec.kind === 'cnn') {
      const F = spec.input.channels * spec.input.height * spec.input.width;
      return {
        inputs: Float32Array.from({ length: b * F }, () => normal(rng)),
        targets: Int32Array.from({ length: b }, () => rng.int(spec.classes)),
        batchSize: b,
      };
    }
    const T = spec.context;
    return {
      inputs: Int32Array.from({ length: b * T }, () => rng.int(spec.vocabSize)),
      targets: Int32Array.from({ length: b * T }, () => rng.int(spec.vocabSize)),
      batchSize: b,
    };
  });
}

const cases: { name: string; spec: ModelSpec; batch: number }[] = [
  { name: 'mlp 784-256-256-10', spec: { kind: 'mlp', sizes: [784, 256, 256, 10] }, batch: 64 },
  {
    name: 'transformer 2L d64 h4 ctx32',
    spec: { kind: 'transformer', vocabSize: 256, context: 32, layers: 2, dModel: 64, heads: 4, dFF: 256 },
    batch: 8,
  },
];
const steps = 8;
const rows = [];
for (const c of cases) {
  const data = batches(c.spec, steps * 2, c.batch);
  const worker = asReplayable(createRuntime({ model: c.spec, optimizer: OPT, threads: 1 }));
  worker.init(1);
  await worker.train(data.slice(0, steps)); // warm state
  const start = captureState(worker);
  await worker.train(data.slice(steps));
  const reported = captureState(worker);
  for (const [threads, k] of [
    [1, 1],
    [2, 1],
    [1, 4],
    [2, 4],
  ]) {
    const v = asReplayable(createRuntime({ model: c.spec, optimizer: OPT, threads, stepsPerCall: k }));
    loadState(v, start);
    await v.train(data.slice(steps));
    const cmp = compareReplay({
      start,
      replayed: captureState(v),
      reported,
      committedStart: innerStateHash(start),
      committedEnd: innerStateHash(reported),
    });
    rows.push({
      model: c.name,
      threads,
      stepsPerCall: k,
      paramDistance: cmp.paramDistance,
      momentDistance: cmp.momentDistance,
      ok: cmp.ok,
    });
    console.log(
      `${c.name} threads=${threads} stepsPerCall=${k}: params ${cmp.paramDistance.toExponential(2)} m ${cmp.momentDistance.toExponential(2)}`,
    );
    await v.dispose();
  }
  // Proxy for a different CPU/BLAS (other reduction order): flip the last bit of every start parameter
  // and of the moments, then replay; the distance shows how rounding-level differences grow over the window.
  {
    const v = asReplayable(createRuntime({ model: c.spec, optimizer: OPT, threads: 1 }));
    const ulp = (a: Float32Array) => {
      const out = a.slice();
      const u = new Uint32Array(out.buffer);
      for (let j = 0; j < u.length; j++) if (out[j] !== 0) u[j] ^= 1;
      return out;
    };
    loadState(v, { ...start, params: ulp(start.params), m: ulp(start.m), v: ulp(start.v) });
    await v.train(data.slice(steps));
    const cmp = compareReplay({
      start,
      replayed: captureState(v),
      reported,
      committedStart: innerStateHash(start),
      committedEnd: innerStateHash(reported),
    });
    rows.push({
      model: c.name,
      threads: 1,
      stepsPerCall: 1,
      perturbation: '1 ulp on every start value',
      paramDistance: cmp.paramDistance,
      momentDistance: cmp.momentDistance,
      ok: cmp.ok,
    });
    console.log(
      `${c.name} 1-ulp start perturbation: params ${cmp.paramDistance.toExponential(2)} m ${cmp.momentDistance.toExponential(2)}`,
    );
    await v.dispose();
  }
  await worker.dispose();
}
const i = process.argv.indexOf('--json');
if (i > 0)
  writeFileSync(process.argv[i + 1], `${JSON.stringify({ bench: 'replay', steps, rows }, null, 2)}\n`);
