/**
 * DDP vs DiLoCo over an emulated WAN (bench/wan/netns.sh: one Linux network namespace per peer,
 * 100 Mbit/s each way, 50 ms one-way delay; root, iproute2, iptables, gcc). Each peer is its own
 * process in its own namespace, a real libp2p host (AgoraHost) running the project's all-reduce
 * (src/net/allreduce.ts) and training the MNIST MLP with the project's runtime (src/train/onnx).
 *
 *   npm run bench:train:wan -- [--peers 4] [--steps 2000] [--ddp-steps 2000] [--H 500]
 *     [--hidden 128] [--batch 32] [--rate 100] [--delay 50] [--overlap] [--no-warmup] [--json FILE]
 *
 *  - DDP: every step, each peer computes the gradient of its batch, all-reduces it in fp32, and
 *    takes one AdamW step with the mean gradient (identical parameters on every peer).
 *  - DiLoCo: H inner AdamW steps, then the int8 all-reduce of the pseudo-gradient θ − θ_local and
 *    the outer Nesterov step (lr 0.7, momentum 0.9).
 *  - `--overlap` adds `diloco-overlap`: the all-reduce of round r runs while round r+1 computes,
 *    and its outer step is applied as soon as it arrives (`runDilocoOverlapped`);
 *    `--methods …,diloco-delayed` the simpler variant that applies it one whole round late
 *    (`runDilocoDelayed`).
 *
 * Before each method's clock starts, the peers run one small all-reduce (skip: `--no-warmup`), so
 * the all-reduce's push streams are open, as in a running job.
 *
 * Each peer measures `compute` (time inside its training steps), `wall` (from the start of its run
 * to the end of its last update) and reports utilization = compute ÷ wall. Eval accuracy is of the
 * final (identical) parameters on the MNIST holdout, measured after the wall clock stops.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { linkCheck } from './link-check.ts';

const SELF = fileURLToPath(import.meta.url);
const NETNS = fileURLToPath(new URL('./netns.sh', import.meta.url));

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    peers: { type: 'string', default: '4' },
    steps: { type: 'string', default: '2000' },
    'ddp-steps': { type: 'string' },
    H: { type: 'string', default: '500' },
    hidden: { type: 'string', default: '128' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '1e-3' },
    rate: { type: 'string', default: '100' },
    delay: { type: 'string', default: '50' },
    methods: { type: 'string', default: 'ddp,diloco' },
    overlap: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    'link-mbytes': { type: 'string', default: '25' },
    json: { type: 'string' },
    /** one small all-reduce before each method's clock starts (streams open, as in a running job) */
    warmup: { type: 'boolean', default: true },
  },
  args: process.argv.slice(2).filter((a) => a !== '--'),
  allowNegative: true,
});

export type RunSpec = {
  method: 'ddp' | 'diloco' | 'diloco-overlap' | 'diloco-delayed';
  steps: number;
  H: number;
  codec: 'fp32' | 'int8';
  members: string[];
  roundBase: number;
  hidden: number[];
  batch: number;
  lr: number;
  totalSteps: number;
  seed: number;
  workers: number;
  worker: number;
  warmup: boolean;
};

export type PeerResult = {
  worker: number;
  wallSeconds: number;
  computeSeconds: number;
  /** time inside `AllReduce.run` that the peer waited for (overlapped time not included) */
  allreduceWaitSeconds: number;
  /** DDP only: the extra pass and state copies this emulation needs (subtracted from wall) */
  emulationSeconds: number;
  utilization: number;
  /** overlapped DiLoCo: the wait for the last round's all-reduce, which has no compute left to hide behind */
  drainSeconds: number;
  /** compute ÷ (wall − drain): the utilization of a long run, where the one final drain is negligible */
  utilizationSteady: number;
  /** diloco-overlap: mean inner steps of a round taken before the previous outer step arrived (τ) */
  staleSteps: number;
  bytesSent: number;
  bytesReceived: number;
  rounds: number;
  failedRounds: number;
  allreduceSecondsMedian: number;
  evalAccuracy?: number;
  evalLoss?: number;
  finalTrainLoss: number;
  /** per all-reduce: [enter, exit] on the shared machine clock (ms), and phase seconds */
  timeline: { enter: number; exit: number; scatter: number; commit: number; gather: number }[];
};

// ---------------------------------------------------------------- peer (inside a namespace)
async function peer(): Promise<void> {
  const { default: pino } = await import('pino');
  const { AgoraHost } = await import('../../src/net/host.ts');
  const { AllReduce } = await import('../../src/net/allreduce.ts');
  const { createCodec } = await import('../../src/train/codecs/index.ts');
  const { holdoutSplit, loadMnistNpm, shardIndices, BatchSampler } = await import(
    '../../src/train/data/index.ts'
  );
  const { mixSeed } = await import('../../src/train/data/rng.ts');
  const { createRuntime } = await import('../../src/train/onnx/index.ts');
  const { OuterOptimizer, DILOCO_OUTER } = await import('../../src/train/outer-optimizer.ts');
  const { innerConfig } = await import('../../src/train/schedule.ts');
  type TensorBatch = import('../../src/train/runtime.ts').TensorBatch;
  type OnnxRuntime = import('../../src/train/onnx/index.ts').OnnxRuntime;

  const send = (m: unknown) => process.send?.(m);
  const logger = pino({ level: process.env.AGORA_TEST_LOG ?? 'warn' }, pino.destination(2));
  const account = privateKeyToAccount(process.env.AGORA_WAN_KEY as `0x${string}`);
  const participants = JSON.parse(process.env.AGORA_WAN_PARTICIPANTS ?? '[]') as string[];
  const host = new AgoraHost({
    account,
    chainId: 31337,
    jobId: 'job-wan',
    participants,
    logger,
    announceIntervalMs: 0,
    listen: [String(process.env.AGORA_WAN_LISTEN)],
  });
  await host.start();
  // one AllReduce per run (its codec, hence its decoder, is fixed); the orchestrator waits until
  // every peer has registered the new one before any peer starts sending ('prepare' barrier)
  let ar: InstanceType<typeof AllReduce> | undefined;
  const useCodec = async (name: 'fp32' | 'int8') => {
    if (ar) await ar.stop();
    ar = new AllReduce({ host, logger, codec: () => createCodec(name), deadlineMs: 120_000 });
    await ar.start();
  };

  const dataset = loadMnistNpm();
  const split = holdoutSplit(dataset.size, 0.1, { seed: 12345 });
  if (dataset.kind !== 'classification') throw new Error('unreachable');
  const evalBatches: TensorBatch[] = [];
  for (let i = 0; i + 256 <= split.eval.length; i += 256) {
    evalBatches.push(dataset.getBatch(split.eval.subarray(i, i + 256)));
  }
  send({ type: 'ready', peerId: host.peerId, addr: host.multiaddrs()[0] });

  const current = async () => {
    if (!ar) throw new Error('no all-reduce: prepare first');
    return ar;
  };
  async function run(s: RunSpec): Promise<PeerResult> {
    const ar = await current();
    const shards = shardIndices(
      {
        indices: split.train,
        labels: dataset.kind === 'classification' ? dataset.labels : undefined,
        numClasses: 10,
      },
      s.workers,
      { kind: 'iid', seed: s.seed },
    );
    const sampler = new BatchSampler(shards[s.worker], s.batch, mixSeed(s.seed, s.worker));
    const optimizer = innerConfig({
      lr: s.lr,
      totalSteps: s.totalSteps,
      warmupSteps: Math.min(100, Math.floor(s.totalSteps / 20)),
      minLrRatio: 0.1,
    });
    const model = { kind: 'mlp' as const, sizes: [784, ...s.hidden, 10] };
    const rt = createRuntime({
      model,
      optimizer,
      threads: 1,
      stepsPerCall: s.method === 'ddp' ? 1 : 8,
    }) as unknown as OnnxRuntime;
    rt.init(s.seed);
    // compile the graphs before the clock starts (one warm-up call, then re-init)
    await rt.train([dataset.getBatch(sampler.next())]);
    await rt.evaluate(evalBatches.slice(0, 1));
    rt.init(s.seed);
    const sampler2 = new BatchSampler(shards[s.worker], s.batch, mixSeed(s.seed, s.worker));
    let compute = 0;
    let wait = 0;
    let emulation = 0;
    let drain = 0;
    let staleSteps = 0;
    let sent = 0;
    let received = 0;
    let rounds = 0;
    let failed = 0;
    const arSecs: number[] = [];
    const timeline: PeerResult['timeline'] = [];
    const clock = () => performance.timeOrigin + performance.now();
    // every AllReduce.run goes through here: its enter/exit times and phases are recorded
    const reduce = async (round: number, v: Float32Array) => {
      const enter = clock();
      const rep = await ar.run(round, v, s.members);
      timeline.push({ enter, exit: clock(), ...rep.phases });
      return rep;
    };
    let lastLosses: number[] = [];
    if (s.warmup) {
      // a small all-reduce before the clock: a running job has its connections and streams open
      const w = await ar.run(s.roundBase - 1, new Float32Array(64 * s.workers), s.members);
      if (!w.ok) throw new Error(`warm-up all-reduce failed: ${w.reason}`);
    }
    const t0 = performance.now();

    if (s.method === 'ddp') {
      for (let step = 0; step < s.steps; step++) {
        let t = performance.now();
        const batch = [dataset.getBatch(sampler2.next())];
        const t1 = performance.now();
        const theta = rt.getParams();
        const opt = rt.getOptimizerState();
        emulation += performance.now() - t1;
        // (1) the gradient of this peer's batch: one forward/backward (its update is discarded)
        rt.setGradientAccumulation(true);
        const r1 = await rt.train(batch);
        compute += performance.now() - t;
        const g = rt.takeGradientSum().sum;
        rt.setGradientAccumulation(false);
        // (2) all-reduce (fp32)
        t = performance.now();
        const rep = await reduce(s.roundBase + step, g);
        wait += performance.now() - t;
        arSecs.push(rep.seconds);
        sent += rep.bytesSent;
        received += rep.bytesReceived;
        rounds++;
        if (!rep.ok || !rep.result) failed++;
        const mean = rep.ok && rep.result ? rep.result : g;
        // (3) one AdamW step with the mean gradient: restore θ and the moments, re-run the step with
        // the correction (mean − own), so the runtime's AdamW sees exactly the mean gradient. This
        // second pass exists only because the runtime has no "apply this gradient" call; its time
        // is `emulation`, subtracted from wall (a real DDP step applies AdamW only: microseconds).
        t = performance.now();
        rt.setParams(theta);
        rt.setOptimizerState(opt);
        const corr = new Float32Array(g.length);
        for (let i = 0; i < g.length; i++) corr[i] = mean[i] - g[i];
        rt.setGradientCorrection(corr);
        await rt.train(batch);
        emulation += performance.now() - t;
        rt.setGradientCorrection(undefined);
        lastLosses.push(r1.losses[0]);
        if (lastLosses.length > 50) lastLosses = lastLosses.slice(-50);
      }
    } else {
      const outer = new OuterOptimizer(DILOCO_OUTER);
      const theta = rt.getParams();
      const R = Math.ceil(s.steps / s.H);
      const inner = async (steps: number, chunk = 48, between?: (done: number) => void) => {
        const losses: number[] = [];
        for (let done = 0; done < steps; ) {
          between?.(done);
          const n = Math.min(chunk, steps - done);
          // compute = the inner steps: assembling their batches and training on them
          const t = performance.now();
          const batches: TensorBatch[] = [];
          for (let b = 0; b < n; b++) batches.push(dataset.getBatch(sampler2.next()));
          const r = await rt.train(batches);
          compute += performance.now() - t;
          for (const l of r.losses) losses.push(l);
          done += n;
        }
        return losses;
      };
      const tally = (rep: Awaited<ReturnType<typeof ar.run>>) => {
        arSecs.push(rep.seconds);
        sent += rep.bytesSent;
        received += rep.bytesReceived;
        rounds++;
        if (!rep.ok || !rep.result) failed++;
      };
      if (s.method === 'diloco') {
        for (let r = 0; r < R; r++) {
          rt.setParams(theta);
          lastLosses = await inner(Math.min(s.H, s.steps - r * s.H));
          const local = rt.getParams();
          const delta = new Float32Array(theta.length);
          for (let i = 0; i < delta.length; i++) delta[i] = theta[i] - local[i];
          const t = performance.now();
          const rep = await reduce(s.roundBase + r, delta);
          wait += performance.now() - t;
          tally(rep);
          outer.apply(theta, rep.ok && rep.result ? rep.result : delta);
        }
      } else if (s.method === 'diloco-overlap') {
        staleSteps = await runDilocoOverlapped(
          s,
          R,
          theta,
          outer,
          inner,
          (v: number, last: boolean) => {
            wait += v;
            if (last) drain += v;
          },
          tally,
          (l) => {
            lastLosses = l;
          },
        );
      } else {
        await runDilocoDelayed(
          s,
          R,
          theta,
          outer,
          inner,
          (v: number, last: boolean) => {
            wait += v;
            if (last) drain += v;
          },
          tally,
          (l) => {
            lastLosses = l;
          },
        );
      }
      rt.setParams(theta);
    }
    const wallMs = performance.now() - t0;
    const ev = await rt.evaluate(evalBatches);
    await rt.dispose();
    arSecs.sort((a, b) => a - b);
    const effectiveWall = wallMs - emulation;
    return {
      worker: s.worker,
      wallSeconds: effectiveWall / 1000,
      computeSeconds: compute / 1000,
      allreduceWaitSeconds: wait / 1000,
      emulationSeconds: emulation / 1000,
      utilization: compute / effectiveWall,
      drainSeconds: drain / 1000,
      utilizationSteady: compute / (effectiveWall - drain),
      staleSteps,
      bytesSent: sent,
      bytesReceived: received,
      rounds,
      failedRounds: failed,
      allreduceSecondsMedian: arSecs[Math.floor(arSecs.length / 2)] ?? 0,
      ...(ev.accuracy === undefined ? {} : { evalAccuracy: ev.accuracy }),
      evalLoss: ev.loss,
      finalTrainLoss: lastLosses.reduce((a, b) => a + b, 0) / Math.max(1, lastLosses.length),
      timeline,
    };

    /**
     * DiLoCo overlapped, the outer step applied as soon as it arrives ("eager shift"). At the end
     * of round r the worker starts the all-reduce of Δ_i^r = θ_r − θ_local and keeps training
     * from θ_local (= θ_r − Δ_i^r). Between training calls it checks whether the mean has arrived;
     * when it has (after τ inner steps, τ ≈ all-reduce time ÷ step time), it forms
     * θ_{r+1} = outer(θ_r, mean Δ^r) and translates its parameters by θ_{r+1} − (θ_r − Δ_i^r), i.e.
     * onto the trajectory it would have had starting from θ_{r+1}, keeping its AdamW moments; the
     * round's pseudo-gradient is then taken against θ_{r+1}. So the global trajectory is
     * synchronous DiLoCo's, except that the first τ steps of each round computed their gradients
     * at the un-shifted point. A round that ends before its predecessor's mean arrived waits for it
     * (exposed time). Returns the mean τ.
     */
    async function runDilocoOverlapped(
      spec: RunSpec,
      R: number,
      theta: Float32Array,
      outer: InstanceType<typeof OuterOptimizer>,
      inner: (steps: number, chunk?: number, between?: (done: number) => void) => Promise<number[]>,
      addWait: (ms: number, last: boolean) => void,
      tally: (rep: Awaited<ReturnType<typeof ar.run>>) => void,
      setLosses: (l: number[]) => void,
    ): Promise<number> {
      // the point this round's parameters descend from: θ_r once the outer step is applied, θ_local
      // of the previous round until then
      let start: Float32Array = theta.slice();
      type Report = Awaited<ReturnType<typeof ar.run>>;
      type Pending = { delta: Float32Array; p: Promise<Report>; rep?: Report };
      let pending: Pending | undefined;
      const taus: number[] = [];
      const settle = (rep: Report, pend: Pending) => {
        tally(rep);
        outer.apply(theta, rep.ok && rep.result ? rep.result : pend.delta);
        // translate the in-progress parameters from θ_local onto the new outer step θ_{r+1}
        const params = rt.getParams();
        for (let i = 0; i < params.length; i++) params[i] += theta[i] - start[i];
        rt.setParams(params);
        start = theta.slice();
      };
      const wait = async (last: boolean) => {
        const pend = pending!;
        const t = performance.now();
        const rep = await pend.p;
        addWait(performance.now() - t, last);
        pending = undefined;
        return { rep, pend };
      };
      rt.setParams(start);
      for (let r = 0; r < R; r++) {
        const steps = Math.min(spec.H, spec.steps - r * spec.H);
        let tau = -1;
        const losses = await inner(steps, 16, (done) => {
          if (pending?.rep) {
            // arrived while training: apply it now, between two training calls
            const pend = pending;
            pending = undefined;
            settle(pend.rep!, pend);
            tau = done;
          }
        });
        setLosses(losses);
        if (pending) {
          const { rep, pend } = await wait(false);
          settle(rep, pend);
          tau = steps;
        }
        if (r > 0) taus.push(tau);
        const local = rt.getParams();
        const delta = new Float32Array(local.length);
        for (let i = 0; i < delta.length; i++) delta[i] = start[i] - local[i];
        // the next round continues from θ_local; the translation at settle moves it onto θ_{r+1}
        start = local;
        const p: Pending = { delta, p: reduce(spec.roundBase + r, delta) };
        void p.p.then((rep) => {
          p.rep = rep;
        });
        pending = p;
      }
      if (pending) {
        const { rep, pend } = await wait(true);
        tally(rep);
        outer.apply(theta, rep.ok && rep.result ? rep.result : pend.delta);
      }
      return taus.length ? taus.reduce((a, b) => a + b, 0) / taus.length : 0;
    }

    /**
     * DiLoCo with the all-reduce overlapped with compute, one round of delay (the outer step of
     * round r is applied at the end of round r+1). Round r+1 starts from the worker's own
     * parameters at the end of round r (θ_local = θ_r − Δ_i^r: its local update is never lost),
     * while Δ^r is averaged in the background. When round r+1 ends, the mean of round r is known:
     * the global θ_{r+1} = outer(θ_r, mean Δ^r) is formed, and the worker's round-(r+1) update
     * Δ_i^{r+1} = θ_local_start − θ_local_end is sent relative to its own start, which is how the
     * "eager"/overlapped variants of Streaming DiLoCo and INTELLECT-1's async outer step work:
     * the next round then starts from θ_{r+1} − Δ_i^{r+1}.
     */
    async function runDilocoDelayed(
      spec: RunSpec,
      R: number,
      theta: Float32Array,
      outer: InstanceType<typeof OuterOptimizer>,
      inner: (steps: number, chunk?: number, between?: (done: number) => void) => Promise<number[]>,
      addWait: (ms: number, last: boolean) => void,
      tally: (rep: Awaited<ReturnType<typeof ar.run>>) => void,
      setLosses: (l: number[]) => void,
    ): Promise<void> {
      let start = theta.slice(); // where this worker's current round started
      let pending: { delta: Float32Array; p: ReturnType<typeof ar.run> } | undefined;
      for (let r = 0; r < R; r++) {
        rt.setParams(start);
        setLosses(await inner(Math.min(spec.H, spec.steps - r * spec.H)));
        const local = rt.getParams();
        const delta = new Float32Array(local.length);
        for (let i = 0; i < delta.length; i++) delta[i] = start[i] - local[i];
        if (pending) {
          const t = performance.now();
          const rep = await pending.p;
          addWait(performance.now() - t, false);
          tally(rep);
          outer.apply(theta, rep.ok && rep.result ? rep.result : pending.delta);
        }
        pending = { delta, p: reduce(spec.roundBase + r, delta) };
        // next round starts from the newest global θ plus this worker's own latest update
        start = new Float32Array(theta.length);
        for (let i = 0; i < start.length; i++) start[i] = theta[i] - delta[i];
      }
      if (pending) {
        const t = performance.now();
        const rep = await pending.p;
        addWait(performance.now() - t, true);
        tally(rep);
        outer.apply(theta, rep.ok && rep.result ? rep.result : pending.delta);
      }
    }
  }

  process.on('message', async (cmd: { type: string; addrs?: string[]; expect?: number; spec?: RunSpec }) => {
    try {
      if (cmd.type === 'connect') {
        for (const a of cmd.addrs ?? []) if (!a.endsWith(host.peerId)) await host.dial(a).catch(() => {});
        await host.waitForPeers(Number(cmd.expect), 30_000);
        send({ type: 'connected' });
      } else if (cmd.type === 'prepare' && cmd.spec) {
        await useCodec(cmd.spec.codec);
        send({ type: 'prepared' });
      } else if (cmd.type === 'run' && cmd.spec) {
        send({ type: 'result', result: await run(cmd.spec) });
      } else if (cmd.type === 'stop') {
        await ar?.stop();
        await host.stop();
        process.exit(0);
      }
    } catch (err) {
      send({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  });
}

// ---------------------------------------------------------------- orchestrator (root namespace)
type Msg = { type: string; [k: string]: unknown };
function next(p: ChildProcess, type: string, timeoutMs = 3_600_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`train-wan: timeout waiting for ${type}`)), timeoutMs);
    const on = (m: Msg) => {
      if (m.type !== type && m.type !== 'error') return;
      clearTimeout(t);
      p.off('message', on);
      if (m.type === 'error') reject(new Error(String(m.message)));
      else resolve(m);
    };
    p.on('message', on);
  });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Per all-reduce round across peers (same machine clock): how far apart the peers entered
 * (stragglers: compute skew), and how long the round took once the last peer had entered (the
 * network cost proper), with that last peer's phases.
 */
/**
 * Network time of the all-reduces after the last peer entered each (what a peer waits for even when
 * no peer is late). Synchronous methods only: overlapped rounds run behind compute.
 */
function exposedNetworkSeconds(per: PeerResult[]): number {
  const n = Math.min(...per.map((p) => p.timeline.length));
  let total = 0;
  for (let r = 0; r < n; r++) {
    const lastEnter = Math.max(...per.map((p) => p.timeline[r].enter));
    total += Math.max(0, Math.min(...per.map((p) => p.timeline[r].exit)) - lastEnter) / 1000;
  }
  return total;
}

function timelineSummary(per: PeerResult[]) {
  const n = Math.min(...per.map((p) => p.timeline.length));
  const skew: number[] = [];
  const after: number[] = [];
  const phases = { scatter: [] as number[], commit: [] as number[], gather: [] as number[] };
  for (let r = 0; r < n; r++) {
    const enters = per.map((p) => p.timeline[r].enter);
    const last = enters.indexOf(Math.max(...enters));
    skew.push(Math.max(...enters) - Math.min(...enters));
    after.push(Math.min(...per.map((p) => p.timeline[r].exit)) - Math.max(...enters));
    const t = per[last].timeline[r];
    phases.scatter.push(1000 * t.scatter);
    phases.commit.push(1000 * t.commit);
    phases.gather.push(1000 * t.gather);
  }
  return {
    rounds: n,
    enterSkewMsMedian: median(skew),
    afterLastEnterMsMedian: median(after),
    afterLastEnterMsAll: n <= 64 ? after.map((x) => Math.round(x)) : undefined,
    enterSkewMsAll: n <= 64 ? skew.map((x) => Math.round(x)) : undefined,
    lastPhasesMsMedian: {
      scatter: median(phases.scatter),
      commit: median(phases.commit),
      gather: median(phases.gather),
    },
  };
}

async function main(): Promise<void> {
  const K = Number(values.peers);
  const steps = Number(values.steps);
  const ddpSteps = Number(values['ddp-steps'] ?? steps);
  const H = Number(values.H);
  const hidden = String(values.hidden).split(',').map(Number);
  const methods = String(values.methods).split(',');
  if (values.overlap && !methods.includes('diloco-overlap')) methods.push('diloco-overlap');
  execFileSync(NETNS, ['down', String(K)]);
  const up = execFileSync(NETNS, ['up', String(K), `${values.rate}mbit`], {
    env: { ...process.env, DELAY: `${values.delay}ms` },
  })
    .toString()
    .trim();
  console.log(up);
  const procs: ChildProcess[] = [];
  try {
    const link = await linkCheck(K, Number(values['link-mbytes']));
    console.log(
      `link: TCP echo RTT ${link.rttMs.toFixed(1)} ms, one flow ${link.singleFlowMbit.toFixed(1)} Mbit/s, ` +
        `${K} flows at once ${link.concurrentFlowsMbit.map((x) => x.toFixed(1)).join('/')} Mbit/s (${link.mbytes} MB each)`,
    );
    const keys = Array.from({ length: K }, () => generatePrivateKey());
    const participants = JSON.stringify(keys.map((x) => privateKeyToAccount(x).address));
    for (let i = 0; i < K; i++) {
      procs.push(
        spawn('ip', ['netns', 'exec', `agns${i}`, process.execPath, SELF, '--role', 'peer'], {
          env: {
            ...process.env,
            AGORA_WAN_KEY: keys[i],
            AGORA_WAN_PARTICIPANTS: participants,
            AGORA_WAN_LISTEN: `/ip4/10.77.0.${i + 1}/tcp/0`,
          },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
    }
    const ready = await Promise.all(procs.map((p) => next(p, 'ready', 120_000)));
    const addrs = ready.map((r) => String(r.addr));
    const members = ready.map((r) => String(r.peerId));
    for (const p of procs) p.send({ type: 'connect', addrs, expect: K - 1 });
    await Promise.all(procs.map((p) => next(p, 'connected', 60_000)));

    const runs: Record<string, unknown>[] = [];
    let roundBase = 1;
    for (const method of methods) {
      if (
        method !== 'ddp' &&
        method !== 'diloco' &&
        method !== 'diloco-overlap' &&
        method !== 'diloco-delayed'
      ) {
        throw new Error(`--methods: unknown ${method} (ddp, diloco, diloco-overlap, diloco-delayed)`);
      }
      const mSteps = method === 'ddp' ? ddpSteps : steps;
      const load0 = loadavg()[0];
      const results = procs.map((p) => next(p, 'result'));
      const specs: RunSpec[] = [];
      procs.forEach((_p, i) => {
        const spec: RunSpec = {
          method,
          steps: mSteps,
          H: method === 'ddp' ? 1 : H,
          codec: method === 'ddp' ? 'fp32' : 'int8',
          members,
          roundBase,
          hidden,
          batch: Number(values.batch),
          lr: Number(values.lr),
          totalSteps: mSteps,
          seed: Number(values.seed),
          workers: K,
          worker: i,
          warmup: values.warmup !== false,
        };
        specs.push(spec);
      });
      for (let i = 0; i < K; i++) procs[i].send({ type: 'prepare', spec: specs[i] });
      await Promise.all(procs.map((p) => next(p, 'prepared', 60_000)));
      for (let i = 0; i < K; i++) procs[i].send({ type: 'run', spec: specs[i] });
      const per = (await Promise.all(results)).map((m) => m.result as PeerResult);
      const tl = timelineSummary(per);
      roundBase += 1_000_000;
      const run = {
        method,
        codec: method === 'ddp' ? 'fp32' : 'int8',
        H: method === 'ddp' ? 1 : H,
        steps: mSteps,
        rounds: per[0].rounds,
        utilization: mean(per.map((x) => x.utilization)),
        utilizationMin: Math.min(...per.map((x) => x.utilization)),
        utilizationSteady: mean(per.map((x) => x.utilizationSteady)),
        staleStepsMean: mean(per.map((x) => x.staleSteps)),
        // compute ÷ (compute + network time after the last peer entered each all-reduce): the
        // utilization with stragglers (compute skew between peers on shared cores) taken out
        utilizationNetworkOnly:
          method === 'diloco-overlap' || method === 'diloco-delayed'
            ? undefined
            : mean(per.map((x) => x.computeSeconds)) /
              (mean(per.map((x) => x.computeSeconds)) + exposedNetworkSeconds(per)),
        wallSeconds: Math.max(...per.map((x) => x.wallSeconds)),
        computeSecondsMean: mean(per.map((x) => x.computeSeconds)),
        allreduceWaitSecondsMean: mean(per.map((x) => x.allreduceWaitSeconds)),
        allreduceSecondsMedian: mean(per.map((x) => x.allreduceSecondsMedian)),
        msPerStepCompute: (1000 * mean(per.map((x) => x.computeSeconds))) / mSteps,
        bytesSentPerPeer: mean(per.map((x) => x.bytesSent)),
        bytesReceivedPerPeer: mean(per.map((x) => x.bytesReceived)),
        failedRounds: Math.max(...per.map((x) => x.failedRounds)),
        evalAccuracy: per[0].evalAccuracy,
        evalLoss: per[0].evalLoss,
        finalTrainLoss: mean(per.map((x) => x.finalTrainLoss)),
        loadAverageAtStart: load0,
        loadAverageAtEnd: loadavg()[0],
        allreduce: tl,
        peers: per.map(({ timeline, ...rest }) => ({
          ...rest,
          ...(method === 'ddp' ? {} : { timeline }),
        })),
      };
      runs.push(run);
      console.log(
        `${method.padEnd(15)} util ${(100 * run.utilization).toFixed(2)}% (min ${(100 * run.utilizationMin).toFixed(2)}%, ` +
          `steady ${(100 * run.utilizationSteady).toFixed(2)}%, network-only ${run.utilizationNetworkOnly === undefined ? '–' : `${(100 * run.utilizationNetworkOnly).toFixed(2)}%`})  ` +
          `wall ${run.wallSeconds.toFixed(1)} s  compute ${run.computeSecondsMean.toFixed(1)} s  ` +
          `all-reduce wait ${run.allreduceWaitSecondsMean.toFixed(1)} s (median round ${run.allreduceSecondsMedian.toFixed(3)} s)  ` +
          `${method === 'diloco-overlap' ? `τ ${run.staleStepsMean.toFixed(0)} steps  ` : ''}sent ${(run.bytesSentPerPeer / 1e6).toFixed(2)} MB/peer  acc ${((run.evalAccuracy ?? 0) * 100).toFixed(2)}%  ` +
          `load ${load0.toFixed(2)}→${run.loadAverageAtEnd.toFixed(2)}`,
      );
      console.log(
        `${''.padEnd(15)} per all-reduce (median): peers enter within ${tl.enterSkewMsMedian.toFixed(0)} ms; ` +
          `last enter → first exit ${tl.afterLastEnterMsMedian.toFixed(0)} ms; phases of the last peer to enter: ` +
          `scatter ${tl.lastPhasesMsMedian.scatter.toFixed(0)} / commit ${tl.lastPhasesMsMedian.commit.toFixed(0)} / gather ${tl.lastPhasesMsMedian.gather.toFixed(0)} ms`,
      );
    }
    for (const p of procs) p.send({ type: 'stop' });
    await new Promise((r) => setTimeout(r, 500));
    const out = {
      bench: 'train-wan',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, note: 'cores shared with other work; see loadAverage per run' },
      network: { netns: up, rateMbit: Number(values.rate), oneWayDelayMs: Number(values.delay), link },
      config: {
        peers: K,
        task: 'MNIST MLP',
        sizes: [784, ...hidden, 10],
        batchPerPeer: Number(values.batch),
        steps,
        ddpSteps,
        H,
        lr: Number(values.lr),
        inner: 'AdamW, warmup min(100, steps/20), cosine to 0.1',
        outer: 'Nesterov SGD lr 0.7 momentum 0.9',
        shards: 'iid',
        warmupAllreduce: values.warmup !== false,
      },
      target: { method: 'diloco', utilizationAtLeast: 0.97 },
      runs,
    };
    if (values.json) writeFileSync(String(values.json), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    execFileSync(NETNS, ['down', String(K)]);
  }
}

if (values.role === 'peer') await peer();
else await main();
