/**
 * The swarm statistics steps of a provider's round (src/node/provider.ts runs them): the task's
 * statistics before round 0 (tabular standardization, `prepareSwarmStatistics`) and the LDA head
 * of an `lda-head` job's last round (`calibrateLdaHead`). Both all-reduce fp32 vectors with the
 * round's group on their own protocols, so every provider ends with the same bytes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { keccak256, type LocalAccount } from 'viem';
import { taskOf } from '../task/registry.ts';
import { mixSeed } from '../train/data/rng.ts';
import type { SamplerState } from '../train/data/sampler.ts';
import type { MlpSpec } from '../train/models/spec.ts';
import {
  encodeLdaStats,
  ldaFirstVector,
  ldaHeadFromReduced,
  ldaSecondVector,
  ldaShapeOf,
  setHead,
  signLdaStats,
} from '../verify/lda-calibration.ts';
import { encodePrepStats, localFromPartials, prepChunks, signPrepStats } from '../verify/prep-stats.ts';
import { windowBatches } from '../verify/replay.ts';
import type { Logger } from './logger.ts';
import { allReduceId, type JobContext, type LdaStatement, type PrepStatement } from './provider-context.ts';
import { ldaStatsFilePath, prepStatsFilePath } from './trace-files.ts';

/**
 * The task's swarm statistics (tabular standardization) before the first round: this provider's
 * statistics over its data, per chunk of its records and summed (src/verify/prep-stats.ts),
 * mean-all-reduced (fp32) with the round's group, turned into the preprocessing state every
 * provider applies (the same bytes everywhere), and the data reloaded under it. The state travels
 * in every checkpoint (`info.prep`). The chunk statistics, the all-reduce input and the result used
 * are persisted and signed before the state is applied: the statement goes with round 0's record,
 * and validators recompute sampled chunks from the records (src/node/prep-checks.ts). A failed
 * all-reduce uses this provider's own vector: its model then differs from its peers' and the round
 * is retried. `lie`: fault injection, every chunk's statistics scaled (a provider that lies).
 */
export async function prepareSwarmStatistics(
  j: JobContext,
  o: {
    round: number;
    attempt: number;
    members: readonly string[];
    logger: Logger;
    node: string;
    account: LocalAccount;
    /** The job's directory (the statistics file goes there). */
    dir: string;
    lie?: boolean;
  },
): Promise<{ bytesSent: number; statement: PrepStatement }> {
  const { round, attempt, members } = o;
  const task = taskOf(j.spec.kind);
  const prep = task.preparation!;
  const L = prep.length(j.spec);
  const partials = prepChunks(j.data.size).map((c) => {
    const v = prep.chunk(j.spec, j.data, c.from, c.to);
    if (o.lie) for (let i = 0; i < v.length; i++) v[i] *= 1.5;
    return v;
  });
  const local = localFromPartials(partials, L);
  const r = await j.prepAllreduce!.run(allReduceId(round, attempt), local, members);
  const reduced = r.ok && r.result ? r.result : local;
  const payload = encodePrepStats({ partials, local, reduced });
  const hash = keccak256(payload);
  const signature = await signPrepStats(o.account, j.jobId, hash);
  mkdirSync(o.dir, { recursive: true });
  writeFileSync(prepStatsFilePath(o.dir), payload);
  j.prep = prep.fromReduced(j.spec, reduced);
  j.data = task.load(j.spec, j.source, j.prep);
  o.logger.info(
    { node: o.node, round, ok: r.ok, group: members.length, bytes: r.bytesSent, chunks: partials.length },
    'swarm statistics computed',
  );
  return { bytesSent: r.bytesSent, statement: { hash, signature } };
}

/**
 * The LDA head of the last round (src/verify/lda-calibration.ts): features of the round's samples
 * (its trace's sampler, in step order) under θ*, the class statistics all-reduced (fp32 mean), the
 * scatter around the reduced class means all-reduced, the head solved and written into θ. The
 * statistics are persisted and signed before θ changes; a failed all-reduce uses this provider's
 * own vector (its model then differs from its peers', and the coordinator retries the round).
 */
export async function calibrateLdaHead(
  j: JobContext,
  o: {
    round: number;
    attempt: number;
    group: readonly string[];
    samplerStart: SamplerState;
    account: LocalAccount;
    /** Fault injection: every label shifted by one class (a poisoning provider). */
    poison: boolean;
    /** The job's directory (the statistics file goes there). */
    dir: string;
    logger: Logger;
    node: string;
  },
): Promise<{ statement: LdaStatement; bytesSent: number }> {
  const { round, attempt, group, samplerStart } = o;
  const reducer = j.statsAllreduce!;
  const sizes = (j.spec.model as MlpSpec).sizes;
  const shape = ldaShapeOf(sizes);
  const indices = windowBatches({
    shard: Int32Array.from({ length: j.data.size }, (_, i) => i),
    batchSize: j.sampler.batchSize,
    samplerSeed: mixSeed(j.spec.seed, Number(j.datasetId)),
    samplerStart,
    startStep: 0,
    steps: j.H,
  }).flatMap((s) => Array.from(s));
  const batch = j.data.getBatch(indices);
  const labels = o.poison ? batch.targets.map((y) => (y + 1) % shape.classes) : batch.targets;
  const first = ldaFirstVector(j.theta, sizes, batch.inputs as Float32Array, labels);
  const id = allReduceId(round, attempt) * 2;
  const r1 = await reducer.run(id, first.classStats, group);
  const reducedClassStats = r1.ok && r1.result ? r1.result : first.classStats;
  const scatter = ldaSecondVector(first.features, labels, reducedClassStats, shape);
  const r2 = await reducer.run(id + 1, scatter, group);
  const reducedScatter = r2.ok && r2.result ? r2.result : scatter;
  const payload = encodeLdaStats({
    classStats: first.classStats,
    scatter,
    reducedClassStats,
    reducedScatter,
  });
  const hash = keccak256(payload);
  const signature = await signLdaStats(o.account, j.jobId, round, hash);
  const dir = o.dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(ldaStatsFilePath(dir, round), payload);
  const head = ldaHeadFromReduced(reducedClassStats, reducedScatter, shape);
  if (head) setHead(j.theta, head);
  else o.logger.warn({ node: o.node, round }, 'the LDA statistics give no head: the model keeps its own');
  o.logger.info(
    { node: o.node, round, samples: indices.length, group: group.length, ok: r1.ok && r2.ok },
    'LDA head computed',
  );
  return { statement: { hash, signature }, bytesSent: r1.bytesSent + r2.bytesSent };
}
