/**
 * Where a job's model lives locally and how to find the copy that is the final model on chain: the
 * requester's `<home>/jobs/<jobId>/model.safetensors` (with its provenance manifest beside it), else
 * any provider's round checkpoint `<home>/nodes/<name>/jobs/<jobId>/round-<r>.safetensors` whose
 * keccak256 equals the final model hash.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { provenanceManifestPath } from '../data/store.ts';
import { readCheckpointFile } from '../train/checkpoint/files.ts';

export function jobModelPath(home: string, jobId: bigint | string): string {
  return join(home, 'jobs', String(jobId), 'model.safetensors');
}

/** A local file whose hash is `modelHash`, and its provenance manifest if one is known. */
export function findJobModel(
  home: string,
  jobId: bigint | string,
  modelHash: Hex,
): { path: string; manifest?: string } | undefined {
  const main = jobModelPath(home, jobId);
  const candidates: string[] = [main];
  const nodes = join(home, 'nodes');
  if (existsSync(nodes)) {
    for (const n of readdirSync(nodes)) {
      const dir = join(nodes, n, 'jobs', String(jobId));
      if (!existsSync(dir)) continue;
      const files = readdirSync(dir)
        .filter((f) => /^round-\d+\.safetensors$/.test(f))
        .sort((a, b) => Number(b.match(/\d+/)?.[0]) - Number(a.match(/\d+/)?.[0]));
      candidates.push(...files.map((f) => join(dir, f)));
    }
  }
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    if (readCheckpointFile(path).hash.toLowerCase() !== modelHash.toLowerCase()) continue;
    const m = provenanceManifestPath(path);
    return existsSync(m) ? { path, manifest: m } : { path };
  }
  return undefined;
}
