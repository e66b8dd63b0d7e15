import { describe, expect, it } from 'vitest';
import { checkContributions, deltaHash } from '../../src/verify/contribution-checks.ts';
import { attack, honestDeltas } from './byzantine.ts';

const DIM = 2048;

function round(seed: number, n = 8) {
  return honestDeltas(n, DIM, seed).map((delta, i) => ({ worker: `w${i}`, delta }));
}

describe('contribution checks', () => {
  it('passes every honest worker (no false positives over 20 random rounds, non-iid spread)', () => {
    let minScore = 1;
    for (let s = 0; s < 20; s++) {
      const prev = honestDeltas(8, DIM, 1000 + s, 1.0).map((delta, i) => ({ worker: `w${i}`, delta }));
      const cur = honestDeltas(8, DIM, s, 1.0).map((delta, i) => ({ worker: `w${i}`, delta }));
      const v = checkContributions({ current: cur, previous: prev });
      for (const x of v) {
        expect(x.byzantine, `${x.worker}: ${x.reasons.join('; ')}`).toBe(false);
        minScore = Math.min(minScore, x.score);
      }
    }
    expect(minScore).toBeGreaterThan(0.4);
  });

  it('flags each attack kind, with reasons, and scores it 0', () => {
    const prev = round(99);
    const cur = round(1, 10);
    const h = cur.map((c) => c.delta);
    cur[1] = { worker: 'w1', delta: attack('sign-flip', h[1], 1) };
    cur[3] = { worker: 'w3', delta: attack('scaled', h[3], 3) };
    cur[5] = { worker: 'w5', delta: attack('noise', h[5], 5) };
    cur[7] = { worker: 'w7', delta: attack('zeros', h[7], 7) };
    cur[8] = { worker: 'w8', delta: prev[2].delta.slice() }; // replays someone else's old update
    cur[9] = { worker: 'w9', delta: h[0].slice() }; // copies w0 this round
    const v = checkContributions({ current: cur, previous: prev });
    const kinds = Object.fromEntries(v.map((x) => [x.worker, x.kinds]));
    expect(kinds).toEqual({
      w0: [],
      w1: ['sign-flip'],
      w2: [],
      w3: ['scaled'],
      w4: [],
      w5: ['noise'],
      w6: [],
      w7: ['zero'],
      w8: ['replay'],
      w9: ['duplicate'],
    });
    for (const x of v) {
      if (x.byzantine) {
        expect(x.score).toBe(0);
        expect(x.reasons.length).toBe(x.kinds.length);
      } else expect(x.score).toBeGreaterThan(0.5);
    }
    expect(v[8].reasons[0]).toMatch(/w2's previous-round update/);
    expect(v[0].hash).toBe(deltaHash(h[0]));
  });

  it('catches near-replays (re-encoded old update) by cosine, and down-scaled or non-finite updates', () => {
    const prev = round(50);
    const cur = round(51);
    // the same old update after an int8 round-trip: hash differs, cosine ≈ 1
    cur[4] = { worker: 'w4', delta: prev[4].delta.map((x) => Math.round(x * 1e5) / 1e5) };
    cur[5] = { worker: 'w5', delta: cur[5].delta.map((x) => x / 10) };
    cur[6] = { worker: 'w6', delta: cur[6].delta.map((x, i) => (i === 3 ? Number.NaN : x)) };
    const v = checkContributions({ current: cur, previous: prev });
    expect(v[4].kinds).toEqual(['replay']);
    expect(v[4].reasons[0]).toMatch(/cosine (0\.9999|1\.0000)/);
    expect(v[5].kinds).toEqual(['scaled']);
    expect(v[6].kinds).toEqual(['noise']);
    expect(v.filter((x) => x.byzantine).length).toBe(3);
  });

  it('rejects mismatched shapes and empty rounds', () => {
    expect(() => checkContributions({ current: [] })).toThrow(/no contributions/);
    expect(() =>
      checkContributions({
        current: [
          { worker: 'a', delta: new Float32Array(3) },
          { worker: 'b', delta: new Float32Array(2) },
        ],
      }),
    ).toThrow(/expected 3/);
  });
});
