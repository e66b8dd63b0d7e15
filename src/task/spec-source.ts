/**
 * How a job's spec document reaches every node without trusting the requester: the requester
 * publishes the canonical bytes on the ComputeMarket (`publishJobSpec`, whose event is keyed by the
 * keccak256 the contract computes), and any node reads the bytes published under the job's
 * `modelSpecHash`, checks keccak256(bytes) == modelSpecHash itself, then validates the document.
 * A node keeps the checked bytes in its store (`spec:<hash>`), so it reads the chain once per spec.
 */
import { type Hex, keccak256 } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { jobSpecFromBytes } from './registry.ts';
import { type JobSpec, MAX_SPEC_BYTES, modelSpecHash, specBytes } from './spec.ts';

/** Where a node caches checked spec documents (a NodeStore has this shape). */
export type SpecCache = {
  getJson<T>(key: string): T | undefined;
  setJson(key: string, value: unknown): void;
};

/**
 * The spec a document's bytes hold, if they hash to `hash` (throws `SPEC_HASH_MISMATCH` when they do
 * not: such a document is not the job's, whoever sent it).
 */
export function specMatching(bytes: Uint8Array, hash: Hex): JobSpec {
  const got = keccak256(bytes);
  if (got.toLowerCase() !== hash.toLowerCase()) {
    throw new AgoraError(
      'SPEC_HASH_MISMATCH',
      `the spec document hashes to ${got}, not to the job's modelSpecHash ${hash}`,
      { hint: "this document is not the job's spec; read it from the chain (`JobSpecPublished`)" },
    );
  }
  return jobSpecFromBytes(bytes);
}

/** Publishes `spec` on the ComputeMarket unless it is already there; returns its hash. */
export async function publishSpec(
  conn: ChainConnection,
  market: `0x${string}`,
  signer: Signer,
  spec: JobSpec,
): Promise<Hex> {
  const bytes = specBytes(spec);
  const hash = modelSpecHash(spec);
  if (bytes.byteLength > MAX_SPEC_BYTES) {
    throw new AgoraError(
      'SPEC_TOO_LARGE',
      `the job spec is ${bytes.byteLength} bytes, over ${MAX_SPEC_BYTES}`,
    );
  }
  const client = computeMarketClient(conn, market);
  if ((await client.publishedSpecs(hash)).length > 0) return hash;
  const r = await client.publishJobSpec(signer, bytes);
  if (r.specHash.toLowerCase() !== hash.toLowerCase()) {
    throw new AgoraError('SPEC_HASH_MISMATCH', `the chain hashed the spec to ${r.specHash}, not ${hash}`);
  }
  return hash;
}

/**
 * The checked spec of a job from its `modelSpecHash`: from the cache, else from the chain's
 * `JobSpecPublished` events (the first document under the hash that checks). Throws
 * `SPEC_NOT_PUBLISHED` when no document was published, `SPEC_*` when the published one is invalid.
 */
export async function fetchJobSpec(
  conn: ChainConnection,
  market: `0x${string}`,
  hash: Hex,
  cache?: SpecCache,
): Promise<JobSpec> {
  const key = `spec:${hash.toLowerCase()}`;
  const cached = cache?.getJson<string>(key);
  if (cached) return specMatching(new TextEncoder().encode(cached), hash);
  const docs = await computeMarketClient(conn, market).publishedSpecs(hash);
  if (docs.length === 0) {
    throw new AgoraError('SPEC_NOT_PUBLISHED', `no job spec is published on chain under ${hash}`, {
      hint: 'the requester publishes it with the job (`agora job create` does); a node cannot run a job it cannot read',
    });
  }
  let last: unknown;
  for (const bytes of docs) {
    try {
      const spec = specMatching(bytes, hash);
      cache?.setJson(key, new TextDecoder().decode(bytes));
      return spec;
    } catch (e) {
      last = e;
    }
  }
  throw last;
}
