/**
 * Which per-shard aggregator should the node's all-reduce use? The devnet's job, simulated in one
 * process: the mnist-mlp preset (src/task/presets.ts), K providers with label-skewed shards (the devnet's
 * planMnistShards), H inner steps per round, the int8 codec on every pseudo-gradient, and the
 * butterfly's split of the vector into K shards, each aggregated on its own (as the shard holders
 * do). Every aggregator runs with no attacker and with one provider sending sign-flipped, scaled
 * (×10) or noise pseudo-gradients. Reported: test accuracy and loss of the final model, and each
 * run's accuracy as a ratio of the honest mean's in the same run.
 *
 *   npm run bench:robust -- [--providers 4] [--rounds 100] [--H 10] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Aggregator } from '../src/net/aggregate.ts';
import { shardBounds } from '../src/net/allreduce-plan.ts';
import { batchesOf, planMnistShards } from '../src/node/shard-data.ts';
import { taskAggregator } from '../src/node/task-runtime.ts';
import { mnistMlpPreset } from '../src/task/presets.ts';
import { innerOptimizerFor, TASK_AGGREGATORS } from '../src/task/spec.ts';
import { createCodec } from '../src/train/codecs/index.ts';
import { createRng, mixSeed, normal } from '../src/train/data/rng.ts';
import { BatchSampler } from '../src/train/data/sampler.ts';
import { createRuntime } from '../src/train/onnx/index.ts';
import { OuterOptimizer } from '../src/train/outer-optimizer.ts';
import { medianAggregator } from '../src/verify/robust-aggregate.ts';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '100' },
    H: { type: 'string', default: '10' },
    classes: { type: 'string', default: '3' },
    aggregators: { type: 'string', default: 'mean,trimmed-mean,median,centered-clip' },
    attacks: { type: 'string', default: 'none,sign-flip,scaled,noise' },
    json: { type: 'string' },
  },
});
const K = Number(values.providers);
const R = Number(values.rounds);
const H = Number(values.H);
const spec = mnistMlpPreset({ innerSteps: H, rounds: R });
const plan = planMnistShards(K, Number(values.classes));
const testBatches = batchesOf(plan.pool, plan.test);

// the aggregators a job can ask for, exactly as its shard owners run them, plus the median
const AGGREGATORS: Record<string, Aggregator> = {
  ...Object.fromEntries(
    TASK_AGGREGATORS.map((name) => [name, taskAggregator(mnistMlpPreset({ aggregator: name }))]),
  ),
  median: medianAggregator,
};
type Attack = 'none' | 'sign-flip' | 'scaled' | 'noise';

function l2(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function attack(kind: Attack, delta: Float32Array, round: number): Float32Array {
  if (kind === 'none') return delta;
  if (kind === 'sign-flip') return delta.map((x) => -x);
  if (kind === 'scaled') return delta.map((x) => 10 * x);
  // noise: Gaussian with 3× the honest update's norm
  const rng = createRng(mixSeed(99, round));
  const n = new Float32Array(delta.length);
  for (let i = 0; i < n.length; i++) n[i] = normal(rng);
  const s = (3 * l2(delta)) / l2(n);
  return n.map((x) => x * s);
}

async function run(aggName: string, kind: Attack) {
  const t0 = performance.now();
  const agg = AGGREGATORS[aggName];
  if (!agg) throw new Error(`unknown aggregator ${aggName}`);
  const rts = Array.from({ length: K }, () =>
    createRuntime({
      model: spec.model,
      optimizer: innerOptimizerFor(spec, H * R),
      threads: 1,
      stepsPerCall: 5,
    }),
  );
  for (const rt of rts) rt.init(spec.seed);
  const theta = rts[0].getParams();
  const outer = new OuterOptimizer(spec.outer);
  const samplers = plan.shards.map((s, w) => new BatchSampler(s, spec.batchSize, mixSeed(spec.seed, w + 1)));
  const codec = createCodec(spec.codec);
  for (let r = 0; r < R; r++) {
    const deltas: Float32Array[] = [];
    for (let w = 0; w < K; w++) {
      const rt = rts[w];
      rt.setParams(theta);
      const batches = Array.from({ length: H }, () => plan.pool.getBatch(samplers[w].next()));
      await rt.train(batches);
      const local = rt.getParams();
      let d: Float32Array = theta.map((x, i) => x - local[i]);
      if (w === K - 1) d = attack(kind, d, r);
      deltas.push(d);
    }
    const mean = new Float32Array(theta.length);
    for (let i = 0; i < K; i++) {
      const [s, e] = shardBounds(theta.length, K, i);
      const contributions = deltas.map((d, w) => ({
        peer: `w${w}`,
        vector: codec.decode(codec.encode(d.subarray(s, e))),
      }));
      mean.set(agg(contributions), s);
    }
    outer.apply(theta, mean);
  }
  rts[0].setParams(theta);
  const ev = await rts[0].evaluate(testBatches);
  for (const rt of rts) await rt.dispose();
  return {
    aggregator: aggName,
    attack: kind,
    testAccuracy: ev.accuracy ?? 0,
    testLoss: ev.loss,
    seconds: (performance.now() - t0) / 1000,
  };
}

const runs: Awaited<ReturnType<typeof run>>[] = [];
for (const kind of values.attacks.split(',') as Attack[]) {
  for (const a of values.aggregators.split(',')) {
    const x = await run(a, kind);
    runs.push(x);
    console.error(
      `${kind.padEnd(9)} ${a.padEnd(13)} acc ${x.testAccuracy.toFixed(4)} loss ${x.testLoss.toFixed(3)} (${x.seconds.toFixed(0)} s)`,
    );
  }
}
const base = runs.find((x) => x.aggregator === 'mean' && x.attack === 'none')?.testAccuracy;
const out = {
  setup: { task: 'mnist-mlp', providers: K, rounds: R, H, classesPerProvider: Number(values.classes) },
  runs: runs.map((x) => ({ ...x, accuracyVsHonestMean: base ? x.testAccuracy / base : null })),
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
console.log(JSON.stringify(out, null, 2));
