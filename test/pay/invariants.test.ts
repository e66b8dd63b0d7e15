/**
 * Randomized invariant test: random sequences of channel operations (valid and invalid) against the
 * real contract, checked op by op against a model (channel-sequences.ts; `npm run bench:invariants`
 * runs thousands). Invariants: every op succeeds exactly when the model says it should; a channel
 * never pays more than its deposit; tokens are conserved; the contract holds exactly the unpaid
 * deposits of unfinalized channels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelSequences, channelSequences, N } from './channel-sequences.ts';
import { type PayFixture, startPayFixture } from './fixture.ts';

const SEQUENCES_PER_BATCH = 50;
const BATCHES = 4;

let f: PayFixture;
let seq: ChannelSequences;

beforeAll(async () => {
  f = await startPayFixture(N + 1);
  seq = await channelSequences(f);
});
afterAll(async () => f?.stop());

describe('PaymentChannels randomized invariants', () => {
  for (let b = 0; b < BATCHES; b++) {
    it(`batch ${b}: ${SEQUENCES_PER_BATCH} random sequences of ${seq?.opsPerSequence ?? 10} ops`, async () => {
      for (let s = 0; s < SEQUENCES_PER_BATCH; s++) await seq.runSequence(1000 * b + s + 1);
      expect(seq.channels.length).toBeGreaterThan(0);
    });
  }

  it('exercised every outcome', () => {
    expect(seq.channels.some((c) => c.finalized && c.closesAt !== 0)).toBe(true); // withdrawn
    expect(seq.channels.some((c) => c.finalized && c.closesAt === 0)).toBe(true); // cooperatively closed
    expect(seq.channels.some((c) => c.paid > 0n && !c.finalized)).toBe(true);
    expect(seq.channels.some((c) => c.paid === c.deposit)).toBe(true);
  });
});
