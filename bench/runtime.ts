/**
 * Training-engine speed: median ms per training step (forward + loss + backward + clipping + AdamW)
 * of our ONNX Runtime engine against PyTorch timing the same models in the same run
 * (bench/torch/runtime.py; skipped when `import torch` fails).
 *
 *   npm run bench:runtime -- [--json FILE] [--steps 40] [--rounds 2] [--threads N[,M...] (default 1,cores)]
 *                            [--mlp-spc 4] [--tr-spc 1] [--cnn-spc 4] [--only mlp|transformer|cnn|text-lm]
 *                            [--no-torch] [--spin]
 *
 * Models: the MLP 784-512-512-10 (batch 128), the transformer 2L d128 (batch 32), the default small
 * CNN on 28×28×1 (`smallCnnSpec`, batch 64) and the text task's default LM (`TEXT_LM_DEFAULT`,
 * tied embeddings, batch 16).
 *
 * Each round times ours, then PyTorch (median ms/step after warmup). Reported: the median over rounds
 * of each side's ms/step, and ratioVsTorch = the median over rounds of (torch ÷ ours) within a round
 * (> 1 means we are faster; pairs measured seconds apart resist load from other processes on a shared
 * machine). Run through npm so MALLOC_MMAP_THRESHOLD_ is set (see docs/training-engine.md).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { TEXT_LM_DEFAULT } from '../src/train/data/text-lm.ts';
import { smallCnnSpec } from '../src/train/models/cnn.ts';
import { Rng } from '../src/train/models/prng.ts';
import type { ModelSpec } from '../src/train/models/spec.ts';
import { createRuntime } from '../src/train/onnx/index.ts';
import { defaultThreads } from '../src/train/onnx/session.ts';
import type { InnerOptimizerConfig, TensorBatch } from '../src/train/runtime.ts';

const { values } = parseArgs({
  options: {
    json: { type: 'string' },
    steps: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string' },
    'mlp-spc': { type: 'string', default: '4' },
    'tr-spc': { type: 'string', default: '1' },
    'cnn-spc': { type: 'string', default: '4' },
    only: { type: 'string', default: '' },
    'no-torch': { type: 'boolean', default: false },
    spin: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const rounds = Number(values.rounds);
/** One result row per (model, thread count); default: 1 and the engine default (one per core). */
const threadList = values.threads
  ? values.threads.split(',').map(Number)
  : [...new Set([1, defaultThreads()])];

const OPT: InnerOptimizerConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  clipNorm: 1,
  warmupSteps: 0,
  totalSteps: 1_000_000,
  minLrRatio: 1,
};

type Case = {
  name: 'mlp' | 'transformer' | 'cnn' | 'text-lm';
  spec: ModelSpec;
  batch: (rng: Rng) => TensorBatch;
  spc: number;
  steps: number;
};
const allCases: Case[] = [
  {
    name: 'mlp',
    spec: { kind: 'mlp', sizes: [784, 512, 512, 10] },
    spc: Number(values['mlp-spc']),
    steps,
    batch: (rng) => ({
      inputs: Float32Array.from({ length: 128 * 784 }, () => rng.uniform()),
      targets: Int32Array.from({ length: 128 }, () => rng.int(10)),
      batchSize: 128,
    }),
  },
  {
    name: 'transformer',
    spec: { kind: 'transformer', vocabSize: 256, context: 64, layers: 2, dModel: 128, heads: 4, dFF: 512 },
    spc: Number(values['tr-spc']),
    steps: Math.max(10, Math.floor(steps / 2)),
    batch: (rng) => ({
      inputs: Int32Array.from({ length: 32 * 64 }, () => rng.int(256)),
      targets: Int32Array.from({ length: 32 * 64 }, () => rng.int(256)),
      batchSize: 32,
    }),
  },
  {
    name: 'cnn',
    spec: smallCnnSpec({ channels: 1, height: 28, width: 28, classes: 10 }),
    spc: Number(values['cnn-spc']),
    steps,
    batch: (rng) => ({
      inputs: Float32Array.from({ length: 64 * 784 }, () => rng.uniform()),
      targets: Int32Array.from({ length: 64 }, () => rng.int(10)),
      batchSize: 64,
    }),
  },
  {
    name: 'text-lm',
    spec: TEXT_LM_DEFAULT,
    spc: Number(values['tr-spc']),
    steps: Math.max(10, Math.floor(steps / 2)),
    batch: (rng) => ({
      inputs: Int32Array.from({ length: 16 * 64 }, () => rng.int(256)),
      targets: Int32Array.from({ length: 16 * 64 }, () => rng.int(256)),
      batchSize: 16,
    }),
  },
];
const cases = allCases.filter((c) => values.only === '' || c.name === values.only);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

type Timing = { ms: number; cpuMs: number };

async function timeOurs(c: Case, threads: number): Promise<Timing> {
  const rt = createRuntime({
    model: c.spec,
    optimizer: OPT,
    threads,
    stepsPerCall: c.spc,
    spinning: values.spin,
  });
  rt.init(1);
  const rng = new Rng(7);
  const pool = Array.from({ length: Math.max(8, c.spc) }, () => c.batch(rng));
  const call = (k: number) => Array.from({ length: c.spc }, (_, j) => pool[(k * c.spc + j) % pool.length]);
  for (let w = 0; w < 3; w++) await rt.train(call(w));
  const per: number[] = [];
  const calls = Math.ceil(c.steps / c.spc);
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < calls; k++) {
    const t0 = performance.now();
    await rt.train(call(k));
    per.push((performance.now() - t0) / c.spc);
  }
  const cpu = process.cpuUsage(cpu0);
  await rt.dispose();
  return { ms: median(per), cpuMs: (cpu.user + cpu.system) / 1000 / (calls * c.spc) };
}

function findPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

function timeTorch(
  py: string,
  only: string,
): { ms: Record<string, Timing>; version: string; threads: number } {
  const script = new URL('./torch/runtime.py', import.meta.url).pathname;
  const args = [script, '--steps', String(steps), ...(only ? ['--only', only] : [])];
  const r = spawnSync(py, args, { encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.status !== 0) throw new Error(`PyTorch baseline failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { ms: out.models, version: out.torch, threads: out.threads };
}

const py = values['no-torch'] ? undefined : findPython();
if (!py && !values['no-torch']) console.log('PyTorch not importable: reporting our times only');
const ours: Record<string, Timing[]> = {};
const torch: Record<string, Timing[]> = {};
let torchMeta: { version: string; threads: number } | undefined;
const key = (name: string, threads: number) => `${name}@${threads}`;
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    for (const threads of threadList) {
      const ms = await timeOurs(c, threads);
      ours[key(c.name, threads)] = [...(ours[key(c.name, threads)] ?? []), ms];
      console.log(
        `round ${r + 1} ours  ${c.name.padEnd(11)} ${ms.ms.toFixed(2)} ms/step, cpu ${ms.cpuMs.toFixed(2)} ms/step (threads ${threads}, stepsPerCall ${c.spc})`,
      );
    }
  }
  if (py) {
    const t = timeTorch(py, values.only ?? '');
    torchMeta = { version: t.version, threads: t.threads };
    for (const [name, ms] of Object.entries(t.ms)) {
      torch[name] = [...(torch[name] ?? []), ms];
      console.log(
        `round ${r + 1} torch ${name.padEnd(11)} ${ms.ms.toFixed(2)} ms/step, cpu ${ms.cpuMs.toFixed(2)} ms/step (torch ${t.version}, threads ${t.threads})`,
      );
    }
  }
}

const models = cases.flatMap((c) =>
  threadList.map((threads) => {
    const o = median(ours[key(c.name, threads)].map((x) => x.ms));
    const t = torch[c.name] ? median(torch[c.name].map((x) => x.ms)) : null;
    const oc = median(ours[key(c.name, threads)].map((x) => x.cpuMs));
    const tc = torch[c.name] ? median(torch[c.name].map((x) => x.cpuMs)) : null;
    // Per-round ratios compare measurements taken seconds apart; their median resists load spikes.
    const pairRatio = (f: (x: Timing) => number) =>
      torch[c.name] ? median(ours[key(c.name, threads)].map((x, r) => f(torch[c.name][r]) / f(x))) : null;
    const ratio = pairRatio((x) => x.ms);
    const cpuRatio = pairRatio((x) => x.cpuMs);
    return {
      name: c.name,
      oursMsPerStep: Number(o.toFixed(3)),
      torchMsPerStep: t === null ? null : Number(t.toFixed(3)),
      ratioVsTorch: ratio === null ? null : Number(ratio.toFixed(3)),
      threads,
      stepsPerCall: c.spc,
      /** Process CPU ms per step (all threads): less sensitive to other load on a shared machine. */
      oursCpuMsPerStep: Number(oc.toFixed(3)),
      torchCpuMsPerStep: tc === null ? null : Number(tc.toFixed(3)),
      cpuRatioVsTorch: cpuRatio === null ? null : Number(cpuRatio.toFixed(3)),
      oursRounds: ours[key(c.name, threads)].map((x) => Number(x.ms.toFixed(3))),
      torchRounds: torch[c.name]?.map((x) => Number(x.ms.toFixed(3))) ?? [],
    };
  }),
);
for (const m of models) {
  console.log(
    `${m.name.padEnd(11)} ours ${m.oursMsPerStep} ms/step  torch ${m.torchMsPerStep ?? '-'} ms/step  ratio ${m.ratioVsTorch ?? '-'}×  (cpu ratio ${m.cpuRatioVsTorch ?? '-'}×)`,
  );
}
const result = {
  models,
  meta: {
    torch: torchMeta ?? null,
    rounds,
    cpus: os.availableParallelism(),
    loadavg: os.loadavg(),
    mallocMmapThreshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? null,
  },
};
if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
