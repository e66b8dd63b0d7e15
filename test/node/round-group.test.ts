import type { Address } from 'viem';
import { describe, expect, it } from 'vitest';
import { awaitedMembers, decideGroup, type GroupState } from '../../src/node/round-group.ts';

const A = '0x00000000000000000000000000000000000000Aa' as Address;
const B = '0x00000000000000000000000000000000000000Bb' as Address;
const C = '0x00000000000000000000000000000000000000Cc' as Address;
const members = [A, B, C];

function state(o: Omit<Partial<GroupState>, 'ready'> & { ready: string[] }): GroupState {
  return {
    members,
    skipping: new Set(),
    connected: () => true,
    expired: false,
    ...o,
    ready: new Set(o.ready.map((x) => x.toLowerCase())),
  };
}

describe('the coordinator fixes a round group once', () => {
  it('waits for a connected member that has not said it is ready, until the wait expires', () => {
    const s = state({ ready: [C, A] });
    expect(awaitedMembers(s)).toEqual([B]);
    expect(decideGroup(s)).toBeUndefined();
    expect(decideGroup({ ...s, expired: true })).toEqual([A, C]);
  });

  it('fixes the group in job order as soon as every connected member is ready', () => {
    expect(decideGroup(state({ ready: [C, B, A] }))).toEqual([A, B, C]);
  });

  it('does not wait for a member that sits the round out or is not connected', () => {
    const rejoining = state({ ready: [A, B], skipping: new Set([C.toLowerCase()]) });
    expect(decideGroup(rejoining)).toEqual([A, B]);
    const down = state({ ready: [A], connected: (m) => m !== B && m !== C });
    expect(awaitedMembers(down)).toEqual([]);
    expect(decideGroup(down)).toEqual([A]);
  });
});
