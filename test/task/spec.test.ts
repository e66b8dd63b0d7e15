/**
 * The job spec document: validation (clear errors for malformed and oversized specs), canonical
 * hashing, publication on the ComputeMarket and the check that a node reads exactly the document
 * the job's modelSpecHash names (real embedded chain).
 */

import { toBytes, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { AgoraError } from '../../src/errors.ts';
import { jobSpecMismatch } from '../../src/node/job-spec.ts';
import { boundsRefusal, estimateJob, providerBounds } from '../../src/task/bounds.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { jobSpecFromBytes, validateJobSpec } from '../../src/task/registry.ts';
import { canonicalJson, MAX_SPEC_BYTES, modelSpecHash, specBytes } from '../../src/task/spec.ts';
import { fetchJobSpec, publishSpec, specMatching } from '../../src/task/spec-source.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof AgoraError) return e.code;
    return `not an AgoraError: ${(e as Error).message}`;
  }
  return undefined;
}

describe('job spec document', () => {
  it('the mnist-mlp preset is the job agora always ran, named by the hash of its canonical JSON', () => {
    const s = mnistMlpPreset({ innerSteps: 25, rounds: 40 });
    expect(s).toMatchObject({
      version: 1,
      kind: 'image',
      model: { kind: 'mlp', sizes: [784, 64, 10] },
      batchSize: 32,
      lr: 3e-3,
      codec: 'int8',
      outer: { lr: 1, momentum: 0.7, nesterov: true },
      seed: 1,
      drift: 'fixed-head',
      aggregator: 'mean',
      calibration: 'lda-head',
      // min(50, 1000/20): the warmup the node always used for 40 rounds of 25 steps
      schedule: { kind: 'warmup-cosine', warmupSteps: 50, minLrRatio: 0.1 },
    });
    expect(mnistMlpPreset({ innerSteps: 10, rounds: 20 }).schedule.warmupSteps).toBe(10);
    // canonical: key order does not matter, the hash is over sorted keys
    const shuffled = Object.fromEntries(Object.entries(s).reverse());
    expect(canonicalJson(shuffled)).toBe(canonicalJson(s));
    expect(modelSpecHash(validateJobSpec(shuffled))).toBe(modelSpecHash(s));
    expect(modelSpecHash(mnistMlpPreset({ innerSteps: 25, rounds: 41 }))).not.toBe(modelSpecHash(s));
    expect(jobSpecFromBytes(specBytes(s))).toEqual(s);
  });

  it('malformed, unknown and oversized specs get clear AgoraErrors, never a crash', () => {
    const s = mnistMlpPreset();
    expect(codeOf(() => validateJobSpec(null))).toBe('SPEC_INVALID');
    expect(codeOf(() => validateJobSpec([]))).toBe('SPEC_INVALID');
    expect(codeOf(() => validateJobSpec({ ...s, version: 2 }))).toBe('SPEC_VERSION');
    expect(codeOf(() => validateJobSpec({ ...s, batchSize: -1 }))).toBe('SPEC_INVALID');
    expect(codeOf(() => validateJobSpec({ ...s, extra: 1 }))).toBe('SPEC_INVALID');
    expect(codeOf(() => validateJobSpec({ ...s, kind: 'quantum' }))).toBe('UNKNOWN_TASK');
    expect(codeOf(() => validateJobSpec({ ...s, model: { kind: 'mlp', sizes: [784, 64, 9] } }))).toBe(
      'SPEC_INVALID',
    );
    expect(codeOf(() => validateJobSpec({ ...s, data: { ...s.data, shape: 'big' } }))).toBe('SPEC_INVALID');
    expect(() => validateJobSpec({ ...s, lr: 'fast' })).toThrow(/lr/);
    expect(codeOf(() => jobSpecFromBytes(toBytes('{"version":1,')))).toBe('SPEC_INVALID');
    expect(codeOf(() => jobSpecFromBytes(new Uint8Array([0xff, 0xfe])))).toBe('SPEC_INVALID');
    expect(codeOf(() => jobSpecFromBytes(new Uint8Array(MAX_SPEC_BYTES + 1)))).toBe('SPEC_TOO_LARGE');
    // a valid shape that is too large once canonical
    const big = { ...s, name: 'x', export: ['onnx'] as const };
    const huge = {
      ...big,
      kind: 'tabular',
      data: {
        format: 'csv',
        label: 'y',
        numeric: Array.from({ length: 1000 }, (_, i) => `a-long-numeric-column-name-${i}`),
        categorical: [],
        classes: ['a', 'b'],
        missing: { numeric: 'mean', categorical: 'zeros' },
      },
      preprocessing: { standardize: 'swarm' },
      model: { kind: 'mlp', sizes: [1000, 8, 2] },
    };
    expect(codeOf(() => validateJobSpec(huge))).toBe('SPEC_TOO_LARGE');
  });

  it('a spec must describe its job: H and rounds equal the chain’s', () => {
    const s = mnistMlpPreset({ innerSteps: 10, rounds: 5 });
    expect(jobSpecMismatch(s, { innerSteps: 10, rounds: 5 })).toBeUndefined();
    expect(jobSpecMismatch(s, { innerSteps: 10, rounds: 6 })).toMatch(/6 rounds/);
  });

  it('provider bounds: parameters, memory, round time and task kinds', () => {
    const s = mnistMlpPreset();
    const e = estimateJob(s);
    expect(e.params).toBe(784 * 64 + 64 + 64 * 10 + 10);
    expect(boundsRefusal(s, providerBounds())).toBeUndefined();
    expect(boundsRefusal(s, providerBounds({ maxParams: 10_000 }))).toMatch(
      /50890 parameters, over this provider's 10000/,
    );
    expect(boundsRefusal(s, providerBounds({ maxMemoryMb: 1 }))).toMatch(/MiB, over this provider's 1 MiB/);
    expect(boundsRefusal(s, providerBounds({ maxSecondsPerRound: 0.001 }))).toMatch(/a round takes about/);
    expect(boundsRefusal(s, providerBounds({ kinds: ['tabular'] }))).toMatch(/task kind image is not one/);
    expect(() => providerBounds({ maxParams: -1 })).toThrow(/positive/);
  });
});

describe('job spec on chain', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  let market: `0x${string}`;
  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    market = (await deployProtocol(conn, devnetAccount(0))).contracts.ComputeMarket!;
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('a published spec is read back by its hash and checked; a document that does not match the hash is rejected', async () => {
    const signer = walletClientFor(conn, devnetAccount(10));
    const spec = mnistMlpPreset({ innerSteps: 7, rounds: 3 });
    const hash = await publishSpec(conn, market, signer, spec);
    expect(hash).toBe(modelSpecHash(spec));
    const cache = new Map<string, unknown>();
    const store = {
      getJson: <T>(k: string) => cache.get(k) as T | undefined,
      setJson: (k: string, v: unknown) => void cache.set(k, v),
    };
    expect(await fetchJobSpec(conn, market, hash, store)).toEqual(spec);
    expect(cache.size).toBe(1);
    // publishing again is a no-op (already there)
    await publishSpec(conn, market, signer, spec);
    expect(await computeMarketClient(conn, market).publishedSpecs(hash)).toHaveLength(1);
    // any other document does not pass for this job's spec, even if it is a valid spec
    const other = specBytes(mnistMlpPreset({ innerSteps: 7, rounds: 4 }));
    expect(() => specMatching(other, hash)).toThrow(/hashes to .* not to the job's modelSpecHash/);
    // a cache that was tampered with is checked too
    cache.set(`spec:${hash.toLowerCase()}`, new TextDecoder().decode(other));
    await expect(fetchJobSpec(conn, market, hash, store)).rejects.toMatchObject({
      code: 'SPEC_HASH_MISMATCH',
    });
    // a hash nobody published
    await expect(fetchJobSpec(conn, market, `0x${'ab'.repeat(32)}`)).rejects.toMatchObject({
      code: 'SPEC_NOT_PUBLISHED',
    });
    // published bytes that are not a valid spec: the hash matches, the document is refused
    const junk = toBytes('{"version":1,"name":"junk"}');
    const { specHash } = await computeMarketClient(conn, market).publishJobSpec(signer, junk);
    await expect(fetchJobSpec(conn, market, specHash)).rejects.toMatchObject({ code: 'SPEC_INVALID' });
  });

  it('the contract computes the hash itself and refuses empty and oversized documents', async () => {
    const signer = walletClientFor(conn, devnetAccount(11));
    const client = computeMarketClient(conn, market);
    const bytes = specBytes(mnistMlpPreset({ innerSteps: 9, rounds: 9 }));
    const { specHash } = await client.publishJobSpec(signer, bytes);
    expect(specHash).toBe(modelSpecHash(mnistMlpPreset({ innerSteps: 9, rounds: 9 })));
    await expect(client.publishJobSpec(signer, new Uint8Array(0))).rejects.toThrow(/spec size/);
    await expect(client.publishJobSpec(signer, new Uint8Array(MAX_SPEC_BYTES + 1))).rejects.toThrow(
      /spec size/,
    );
    expect(toHex(bytes).length).toBeGreaterThan(2);
  });
});
