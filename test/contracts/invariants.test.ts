/**
 * Randomized invariant tests: seeded random sequences of market/ledger operations (most valid, some not)
 * against the real contracts, checking after every few steps that AGORA is conserved and that the market
 * and ledger always hold exactly what they owe (so never less: escrow and stakes stay solvent).
 * The sequences live in protocol-sequences.ts; `npm run bench:invariants` runs thousands of them.
 */
import type { Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './fixture.ts';
import { type ProtocolSequences, protocolSequences } from './protocol-sequences.ts';

describe('protocol invariants under random operation sequences', () => {
  let f: Fixture;
  let seq: ProtocolSequences;
  beforeAll(async () => {
    f = await startFixture();
    seq = await protocolSequences(f);
  });
  afterAll(async () => f?.stop());

  it('conserves AGORA and keeps market and ledger solvent over thousands of random operations', async () => {
    let total = 0;
    let okTotal = 0;
    const seeds = Number(process.env.AGORA_INVARIANT_SEEDS ?? 10); // raise for a longer soak run
    for (let seed = 1; seed <= seeds; seed++) {
      const snap: Hex = await f.snapshot();
      const { ok } = await seq.runSequence(seed, 200);
      total += 200;
      okTotal += ok;
      await f.revert(snap);
    }
    expect(total).toBe(seeds * 200);
    // the generator must exercise real state changes, not just reverts
    expect(okTotal).toBeGreaterThan(total / 6);
    console.log(
      `invariants: ${okTotal}/${total} operations changed state`,
      Object.fromEntries(seq.successes),
    );
    for (const op of [
      'join',
      'commit',
      'close',
      'postRewardRoot',
      'claim',
      'sweep',
      'release',
      'cancel',
      'equivocation',
    ]) {
      expect(seq.successes.get(op) ?? 0, `no successful ${op}`).toBeGreaterThan(0);
    }
  }, 240_000);
});
