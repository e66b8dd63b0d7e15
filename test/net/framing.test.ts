import { describe, expect, it } from 'vitest';
import { decodeJson, FrameError, FrameReader, frameHeader } from '../../src/net/framing.ts';
import { RateLimiter } from '../../src/net/rate-limit.ts';

function source(chunks: Uint8Array[], opts: { hang?: boolean } = {}) {
  let aborted: Error | undefined;
  return {
    get aborted() {
      return aborted;
    },
    abort(err: Error) {
      aborted = err;
    },
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) yield c;
      if (opts.hang) await new Promise(() => {});
    },
  };
}

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out.set(frameHeader(payload.length));
  out.set(payload, 4);
  return out;
}

describe('framing', () => {
  it('reassembles frames split at arbitrary boundaries', async () => {
    const a = new Uint8Array(1000).map((_, i) => i & 255);
    const b = new Uint8Array([9, 8, 7]);
    const all = new Uint8Array([...frame(a), ...frame(b), ...frame(new Uint8Array(0))]);
    const chunks = [all.subarray(0, 1), all.subarray(1, 3), all.subarray(3, 700), all.subarray(700)];
    const r = new FrameReader(source(chunks));
    expect(await r.next({ maxBytes: 2000, timeoutMs: 1000 })).toEqual(a);
    expect(await r.next({ maxBytes: 2000, timeoutMs: 1000 })).toEqual(b);
    expect((await r.next({ maxBytes: 2000, timeoutMs: 1000 }))?.length).toBe(0);
    expect(await r.next({ maxBytes: 2000, timeoutMs: 1000 })).toBeNull();
    expect(r.bytesRead).toBe(all.length);
  });

  it('rejects oversized, truncated and late frames', async () => {
    const big = new FrameReader(source([frame(new Uint8Array(100))]));
    await expect(big.next({ maxBytes: 99, timeoutMs: 1000 })).rejects.toMatchObject({ reason: 'oversized' });

    const cut = new FrameReader(source([frame(new Uint8Array(100)).subarray(0, 50)]));
    await expect(cut.next({ maxBytes: 1000, timeoutMs: 1000 })).rejects.toMatchObject({
      reason: 'truncated',
    });

    const half = new FrameReader(source([new Uint8Array([0, 0])]));
    await expect(half.next({ maxBytes: 1000, timeoutMs: 1000 })).rejects.toMatchObject({
      reason: 'truncated',
    });

    const s = source([frame(new Uint8Array(10)).subarray(0, 6)], { hang: true });
    const slow = new FrameReader(s);
    await expect(slow.next({ maxBytes: 1000, timeoutMs: 50 })).rejects.toBeInstanceOf(FrameError);
    expect(s.aborted?.message).toMatch(/timed out/);
  });

  it('rejects invalid JSON and UTF-8 in control frames', () => {
    expect(() => decodeJson(new TextEncoder().encode('{"a":'))).toThrow(FrameError);
    expect(() => decodeJson(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(FrameError);
    expect(decodeJson(new TextEncoder().encode('{"a":1}'))).toEqual({ a: 1 });
  });
});

describe('rate limiter', () => {
  it('allows a burst, then the refill rate', () => {
    let now = 0;
    const rl = new RateLimiter({ ratePerSec: 10, burst: 3, now: () => now });
    expect([rl.take('p'), rl.take('p'), rl.take('p'), rl.take('p')]).toEqual([true, true, true, false]);
    expect(rl.take('q')).toBe(true); // per key
    now += 100; // one token back
    expect([rl.take('p'), rl.take('p')]).toEqual([true, false]);
  });
});
