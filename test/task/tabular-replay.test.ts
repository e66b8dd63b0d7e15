/**
 * The validator's proof-based round checks on a tabular job: two `ProviderNode`s with CSV shards
 * (numeric + categorical columns, missing values) compute the swarm's standardization statistics,
 * train one round over real libp2p and serve their traces; a validator host decodes the served CSV
 * records with the statistics of the committed checkpoint and replays every window bit-exactly.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { prepOfInfo } from '../../src/task/task.ts';
import { readCheckpointFile } from '../../src/train/checkpoint/files.ts';
import { decodeTrainingCheckpoint } from '../../src/train/checkpoint/training-checkpoint.ts';
import { expectHonestCheck, type RoundZero, startRoundZero } from '../helpers/round-zero.ts';

const H = 10;
const ROUNDS = 2;
const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');

describe('validator round checks on a tabular job', () => {
  let fx: RoundZero;
  const spec = tabularSpecFromFile({ path: CSV, label: 'triage', innerSteps: H, rounds: ROUNDS });

  beforeAll(async () => {
    // two shards of the example file: the first and the second half of its rows, same header
    const lines = readFileSync(CSV, 'utf8').trim().split('\n');
    const half = Math.floor((lines.length - 1) / 2);
    const shards = (home: string) =>
      [0, 1].map((i) => {
        const path = join(home, `shard-${i}.csv`);
        writeFileSync(path, `${[lines[0], ...lines.slice(1 + i * half, 1 + (i + 1) * half)].join('\n')}\n`);
        return { path, format: 'csv' as const, label: 'triage' };
      });
    fx = await startRoundZero({ spec, H, rounds: ROUNDS, shards });
  }, 180_000);

  afterAll(() => fx?.stop());

  it('both providers hold the same swarm statistics, in their round-0 checkpoints', () => {
    const preps = fx.results.map((r) =>
      prepOfInfo(decodeTrainingCheckpoint(readCheckpointFile(r.checkpointPath).bytes).info),
    );
    expect(preps[0]).toBeDefined();
    expect(preps[1]).toEqual(preps[0]);
    expect(fx.results[0].modelHash).toBe(fx.results[1].modelHash);
    const { mean, std } = preps[0] as { mean: number[]; std: number[] };
    expect(mean).toHaveLength(5);
    expect(mean[0]).toBeGreaterThan(30); // age
    expect(std.every((x) => x > 0)).toBe(true);
  });

  it('honest providers pass the samples, link and every window replay (distance 0)', async () => {
    for (const i of [0, 1]) {
      const c = await fx.check(i);
      expectHonestCheck(c);
    }
  });
});
