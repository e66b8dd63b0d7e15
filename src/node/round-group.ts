/**
 * When the coordinator fixes a round's all-reduce group (pure; the coordinator's `group` handler
 * feeds it). Every provider of a round all-reduces with the group the coordinator fixed once, so
 * no two providers can run the round with different peers (which cost a whole all-reduce deadline
 * when a restarted provider was seen by some peers and not yet by others).
 */
import type { Address } from 'viem';

export type GroupState = {
  /** The round's members (providers not reported as of the previous commit), in job order. */
  members: readonly Address[];
  /** Members (lower-case) that said they are ready for this round and attempt. */
  ready: ReadonlySet<string>;
  /** Members (lower-case) that said they sit this round or attempt out (rejoining, cannot sync). */
  skipping: ReadonlySet<string>;
  /** Whether the coordinator is connected to a member (one that is not cannot be in the round). */
  connected: (member: Address) => boolean;
  /** Past the wait for members that are connected but have not said they are ready. */
  expired: boolean;
};

/** The members still waited for: connected, and neither ready nor sitting the round out. */
export function awaitedMembers(s: GroupState): Address[] {
  return s.members.filter((m) => {
    const k = m.toLowerCase();
    return !s.ready.has(k) && !s.skipping.has(k) && s.connected(m);
  });
}

/**
 * The group, once it can be fixed: the ready members in job order, when no member is awaited any
 * more or the wait expired. `undefined`: keep waiting.
 */
export function decideGroup(s: GroupState): Address[] | undefined {
  if (!s.expired && awaitedMembers(s).length > 0) return undefined;
  return s.members.filter((m) => s.ready.has(m.toLowerCase()));
}
