/**
 * The validator's proof-based round checks on the image-folder (CNN) and text (byte LM) task
 * kinds: two `ProviderNode`s register their shards (labelled image records; 65-byte text windows),
 * train one round over real libp2p and serve their traces; a validator host decodes the served
 * records with the task and replays every window bit-exactly (distance 0: the CNN and transformer
 * steps are deterministic under replay), and a record that is not the registered one fails.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFolderSpec } from '../../src/task/image-spec.ts';
import type { JobSpec } from '../../src/task/spec.ts';
import type { DataSource } from '../../src/task/task.ts';
import { textSpec } from '../../src/task/text-spec.ts';
import { expectHonestCheck, type RoundZero, startRoundZero } from '../helpers/round-zero.ts';

const H = 10;
const ROUNDS = 2;
const DIGITS = join(import.meta.dirname, '../../examples/images/digits');
const TEXT = join(import.meta.dirname, '../../examples/text/brown-news.txt');

/** Two image-folder shards of the example digits (different classes), copied under `home`. */
function imageShards(home: string): DataSource[] {
  return [
    ['0', '1', '2'],
    ['2', '7', '9'],
  ].map((classes, i) => {
    const dir = join(home, `images-${i}`);
    for (const c of classes) {
      mkdirSync(join(dir, c), { recursive: true });
      for (const f of readdirSync(join(DIGITS, c))
        .sort()
        .slice(i * 20, i * 20 + 20))
        cpSync(join(DIGITS, c, f), join(dir, c, f));
    }
    return { path: dir, format: 'images' };
  });
}

/** Two text shards: consecutive parts of the example text, whole 65-byte windows each. */
function textShards(home: string): DataSource[] {
  const text = readFileSync(TEXT);
  return [0, 1].map((i) => {
    const path = join(home, `text-${i}.txt`);
    writeFileSync(path, text.subarray(i * 65 * 300, (i + 1) * 65 * 300));
    return { path, format: 'text' };
  });
}

const CASES: { name: string; spec: JobSpec; shards: (home: string) => DataSource[] }[] = [
  {
    name: 'an image-folder CNN job',
    spec: imageFolderSpec({ path: DIGITS, innerSteps: H, rounds: ROUNDS }),
    shards: imageShards,
  },
  {
    name: 'a byte-LM text job',
    spec: textSpec({ dModel: 32, layers: 1, innerSteps: H, rounds: ROUNDS }),
    shards: textShards,
  },
];

describe.each(CASES)('validator round checks on $name', ({ spec, shards }) => {
  let fx: RoundZero;

  beforeAll(async () => {
    fx = await startRoundZero({ spec, H, rounds: ROUNDS, shards });
  }, 180_000);

  afterAll(() => fx?.stop());

  it('both providers compute the same model in round 0', () => {
    expect(fx.results[0].modelHash).toBe(fx.results[1].modelHash);
  });

  it('honest providers pass the samples, link and every window replay (distance 0)', async () => {
    for (const i of [0, 1]) {
      const c = await fx.check(i);
      expectHonestCheck(c);
    }
  });

  it('records that are not under the registered dataset root are not replayed', async () => {
    const c = await fx.check(0, { root: `0x${'ab'.repeat(32)}` });
    expect(c.replays.some((r) => r.status === 'pass')).toBe(false);
    expect(JSON.stringify(c)).toMatch(/not in the registered dataset/);
  });
});
