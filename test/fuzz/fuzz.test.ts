/**
 * The fuzz targets (scripts/fuzz-targets.ts) at CI size: every decoder and trust-boundary parser
 * takes a few hundred hostile inputs each; none crashes or hangs, and every rejection is typed (an
 * AgoraError with a code, or a FrameError). `npm run fuzz -- --cases N` runs the same at any size.
 */
import { describe, expect, it } from 'vitest';
import { fuzzTarget, fuzzTargets, isTypedRejection, rpcServerTarget } from '../../scripts/fuzz-targets.ts';
import { startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { AgoraError } from '../../src/errors.ts';

describe('fuzzing the decoders (CI size)', () => {
  it('tells a typed rejection from a crash', () => {
    expect(isTypedRejection(new AgoraError('X', 'y'))).toBe(true);
    expect(isTypedRejection(new TypeError('x'))).toBe(false);
    expect(isTypedRejection(new AgoraError('', 'no code'))).toBe(false);
  });

  it('the JSON-RPC server answers every body with a JSON-RPC reply and keeps serving', async () => {
    const chain = await startEmbeddedChain({ port: 0 });
    try {
      const r = await fuzzTarget(rpcServerTarget(chain.url!), 200, 20261207, 5000);
      expect(r.crashes, JSON.stringify(r.crashes, null, 1)).toEqual([]);
      expect(r.rejected).toBeGreaterThan(0);
    } finally {
      await chain.stop();
    }
  }, 60_000);

  for (const t of fuzzTargets()) {
    it(`${t.name}: no crash, no hang`, async () => {
      const r = await fuzzTarget(t, 300, 20261207);
      expect(r.cases).toBe(300);
      expect(r.crashes, JSON.stringify(r.crashes, null, 1)).toEqual([]);
    });
  }
});
