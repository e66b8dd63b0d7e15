/**
 * Text parity, simulated: the text task's spec (`textSpec`) on a text file with the devnet's data
 * (`devnetData`: the same windows, the last 10% held out, contiguous or i.i.d. shards), DiLoCo with
 * K workers (`runDiloco`: each worker its own runtime and AdamW state) against the devnet's
 * centralized baseline (`runDdp`: one model on the K workers' concatenated batches, the same samples
 * and steps, the same inner AdamW schedule), for each number of rounds. Reports bits per byte, the
 * ratio swarm / centralized and the bytes ratio DDP / swarm. One thread per runtime, one run at a time.
 *
 *   npx node scripts/text-parity.ts [--data examples/text/brown-news.txt] [--rounds 20,40,80]
 *     [--shards contiguous,iid] [--H 26] [--batch 32] [--lr 3e-3] [--warmup N] [--min-lr 0.1]
 *     [--outer-lr 1] [--momentum 0] [--nesterov] [--codec int8] [--workers 4] [--dmodel 64]
 *     [--ddp-lr LR] [--ddp-cache FILE] [--no-ddp] [--eval-every R] [--json FILE]
 *
 * `--warmup` defaults to the spec's (`defaultWarmup(rounds × H)`); `--ddp-lr` gives the baseline its
 * own peak lr (default: the same as the swarm's). `--ddp-cache FILE` keeps the baseline's results by
 * their settings, so runs that vary only DiLoCo's settings train it once. `--eval-every R` also
 * evaluates the swarm every R rounds (the history in the JSON).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { devnetData } from '../src/node/devnet-data.ts';
import { innerOptimizerFor, type JobSpec } from '../src/task/spec.ts';
import { textSpec } from '../src/task/text-spec.ts';
import type { CodecName } from '../src/train/codec.ts';
import { type RunPoint, runDdp, runDiloco } from '../src/train/diloco/index.ts';
import { createRuntime } from '../src/train/onnx/index.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: 'examples/text/brown-news.txt' },
    rounds: { type: 'string', default: '20,40,80' },
    shards: { type: 'string', default: 'contiguous,iid' },
    H: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    warmup: { type: 'string' },
    'min-lr': { type: 'string' },
    'outer-lr': { type: 'string' },
    momentum: { type: 'string' },
    nesterov: { type: 'boolean', default: false },
    codec: { type: 'string' },
    workers: { type: 'string', default: '4' },
    dmodel: { type: 'string' },
    'ddp-lr': { type: 'string' },
    'ddp-cache': { type: 'string' },
    'no-ddp': { type: 'boolean', default: false },
    'eval-every': { type: 'string' },
    json: { type: 'string' },
  },
});

const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
const K = Number(values.workers);
const LN2 = Math.LN2;

type Row = {
  rounds: number;
  H: number;
  steps: number;
  shards: string;
  batch: number;
  lr: number;
  ddpLr: number;
  warmup: number;
  minLr: number;
  outer: JobSpec['outer'];
  codec: string;
  swarmBpb: number;
  centralBpb?: number;
  ratio?: number;
  swarmBytesPerWorker: number;
  ddpBytesPerWorker?: number;
  bytesRatio?: number;
  swarmSeconds: number;
  ddpSeconds?: number;
  swarmHistory: { step: number; bpb: number }[];
  centralHistory?: { step: number; bpb: number }[];
};

type DdpEntry = {
  bpb: number;
  bytesPerWorker: number;
  seconds: number;
  history?: { step: number; bpb: number }[];
};
const cachePath = values['ddp-cache'];
const cache: Record<string, DdpEntry> =
  cachePath && existsSync(cachePath) ? JSON.parse(readFileSync(cachePath, 'utf8')) : {};

const rows: Row[] = [];
const home = mkdtempSync(join(tmpdir(), 'text-parity-'));
try {
  for (const R of values.rounds.split(',').map(Number)) {
    for (const shards of values.shards.split(',')) {
      const H = num(values.H);
      const dd = devnetData({
        task: 'text',
        data: values.data,
        shards: shards === 'iid' ? 'iid' : 'label-skew',
        providers: K,
        home,
        rounds: R,
        ...(H ? { innerSteps: H } : {}),
      });
      const base = dd.spec;
      const sized = values.dmodel
        ? textSpec({ dModel: Number(values.dmodel), rounds: R, innerSteps: base.innerSteps })
        : base;
      const spec: JobSpec = {
        ...sized,
        batchSize: num(values.batch) ?? base.batchSize,
        lr: num(values.lr) ?? base.lr,
        schedule: {
          ...base.schedule,
          ...(values.warmup !== undefined ? { warmupSteps: Number(values.warmup) } : {}),
          ...(values['min-lr'] !== undefined ? { minLrRatio: Number(values['min-lr']) } : {}),
        },
        outer: {
          lr: num(values['outer-lr']) ?? base.outer.lr,
          momentum: num(values.momentum) ?? base.outer.momentum,
          nesterov: values.nesterov || base.outer.nesterov,
        },
        codec: (values.codec ?? base.codec) as JobSpec['codec'],
      };
      const steps = R * spec.innerSteps;
      const pooled = dd.central();
      const data = { dataset: pooled.dataset, shards: pooled.shards, evalBatches: dd.testBatches() };
      const evalEvery = num(values['eval-every']) ?? R;

      const workers = Array.from({ length: K }, () =>
        createRuntime({
          model: spec.model,
          optimizer: innerOptimizerFor(spec, steps),
          threads: 1,
          stepsPerCall: 5,
        }),
      );
      const t0 = performance.now();
      const history: RunPoint[] = [];
      const sw = await runDiloco(workers, data, {
        innerSteps: spec.innerSteps,
        rounds: R,
        batchSize: spec.batchSize,
        codec: spec.codec as CodecName,
        outer: spec.outer,
        seed: spec.seed,
        evalEveryRounds: evalEvery,
        onPoint: (p) => history.push(p),
      });
      const swarmSeconds = (performance.now() - t0) / 1000;
      for (const w of workers) await w.dispose();

      const ddpLr = num(values['ddp-lr']) ?? spec.lr;
      const key = JSON.stringify({
        data: values.data,
        shards,
        steps,
        K,
        batch: spec.batchSize,
        lr: ddpLr,
        schedule: spec.schedule,
        model: spec.model,
        seed: spec.seed,
      });
      let ddp: DdpEntry | undefined = cache[key];
      if (!ddp && !values['no-ddp']) {
        const central = createRuntime({
          model: spec.model,
          optimizer: innerOptimizerFor({ ...spec, lr: ddpLr }, steps),
          threads: 1,
          stepsPerCall: 5,
        });
        const t1 = performance.now();
        const c = await runDdp(central, data, {
          workers: K,
          steps,
          batchSize: spec.batchSize,
          seed: spec.seed,
          evalEverySteps: evalEvery * spec.innerSteps,
        });
        await central.dispose();
        ddp = {
          bpb: c.evalLoss / LN2,
          bytesPerWorker: c.bytesPerWorker,
          seconds: (performance.now() - t1) / 1000,
          history: c.history.map((p) => ({ step: p.step, bpb: p.evalLoss / LN2 })),
        };
        cache[key] = ddp;
        if (cachePath) writeFileSync(cachePath, `${JSON.stringify(cache, null, 1)}\n`);
      }
      const swarmBpb = sw.evalLoss / LN2;
      const row: Row = {
        rounds: R,
        H: spec.innerSteps,
        steps,
        shards,
        batch: spec.batchSize,
        lr: spec.lr,
        ddpLr,
        warmup: spec.schedule.warmupSteps,
        minLr: spec.schedule.minLrRatio,
        outer: spec.outer,
        codec: spec.codec,
        swarmBpb,
        swarmBytesPerWorker: sw.bytesPerWorker,
        swarmSeconds,
        swarmHistory: history.map((p) => ({ step: p.step, bpb: p.evalLoss / LN2 })),
        ...(ddp
          ? {
              centralBpb: ddp.bpb,
              ratio: swarmBpb / ddp.bpb,
              ddpBytesPerWorker: ddp.bytesPerWorker,
              bytesRatio: ddp.bytesPerWorker / sw.bytesPerWorker,
              ddpSeconds: ddp.seconds,
              ...(ddp.history ? { centralHistory: ddp.history } : {}),
            }
          : {}),
      };
      rows.push(row);
      console.log(
        `R ${R} × H ${row.H} (${steps} steps) ${shards}: swarm ${swarmBpb.toFixed(3)} bpb` +
          (ddp
            ? `, centralized ${ddp.bpb.toFixed(3)}, ratio ${row.ratio!.toFixed(3)}, ${row.bytesRatio!.toFixed(1)}× fewer bytes`
            : '') +
          ` (lr ${row.lr}${ddpLr !== row.lr ? `/ddp ${ddpLr}` : ''}, warmup ${row.warmup}, min ${row.minLr}, outer ${row.outer.lr}/${row.outer.momentum}${row.outer.nesterov ? 'n' : ''}, ${row.codec}, batch ${row.batch}; ${swarmSeconds.toFixed(0)} s` +
          (ddp ? ` + ${ddp.seconds.toFixed(0)} s)` : ')'),
      );
      if (history.length > 1)
        console.log(`  swarm: ${row.swarmHistory.map((p) => `${p.step}:${p.bpb.toFixed(3)}`).join(' ')}`);
      if (ddp?.history && ddp.history.length > 1)
        console.log(`  centralized: ${ddp.history.map((p) => `${p.step}:${p.bpb.toFixed(3)}`).join(' ')}`);
      if (values.json)
        writeFileSync(values.json, `${JSON.stringify({ workers: K, data: values.data, rows }, null, 1)}\n`);
    }
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
