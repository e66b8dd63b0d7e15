/**
 * Pure planning for the butterfly all-reduce (no I/O): shard bounds, owners, the contributor set
 * agreed from commits, the holder of each shard (owner or deterministic fallback) and digests.
 * See docs/allreduce.md for the protocol these functions implement.
 */
import { createHash } from 'node:crypto';

/** Canonical group order: sorted, de-duplicated PeerIds. Shard i belongs to group[i]. */
export function canonicalGroup(members: readonly string[]): string[] {
  return [...new Set(members)].sort();
}

/** [start, end) of shard `i` when a vector of `length` elements is cut into `k` near-equal shards. */
export function shardBounds(length: number, k: number, i: number): [number, number] {
  const base = Math.floor(length / k);
  const extra = length % k;
  const start = i * base + Math.min(i, extra);
  return [start, start + base + (i < extra ? 1 : 0)];
}

export function shardLength(length: number, k: number, i: number): number {
  const [s, e] = shardBounds(length, k, i);
  return e - s;
}

/** Short hex digest of a list of PeerIds in a round (names a contributor set or a group). */
export function setDigest(round: number, peers: readonly string[]): string {
  return createHash('sha256')
    .update(`${round}\n${peers.join('\n')}`)
    .digest('hex')
    .slice(0, 32);
}

/**
 * The contributor set C from the commits a peer received: C = A ∩ ⋂_{i∈A} R_i, where A is the set
 * of owners whose commit arrived (they are alive) and R_i the peers owner i received a part from.
 * A contributor therefore delivered its part to every live owner and was itself alive to commit.
 * Returned in canonical (group) order.
 */
export function contributorSet(
  group: readonly string[],
  commits: ReadonlyMap<string, readonly string[]>,
): string[] {
  const alive = group.filter((p) => commits.has(p));
  return alive.filter((p) => alive.every((owner) => commits.get(owner)!.includes(p)));
}

/**
 * Who serves shard `i`: its owner if the owner committed (is in `alive`), otherwise the first
 * contributor after it in ring order (deterministic, so every peer with the same C agrees).
 * Returns undefined when there is no contributor at all.
 */
export function holderOf(
  group: readonly string[],
  i: number,
  alive: ReadonlySet<string>,
  contributors: ReadonlySet<string>,
): string | undefined {
  if (alive.has(group[i])) return group[i];
  const k = group.length;
  for (let d = 1; d < k; d++) {
    const p = group[(i + d) % k];
    if (contributors.has(p)) return p;
  }
  return undefined;
}
