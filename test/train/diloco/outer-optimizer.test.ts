import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import { DILOCO_OUTER, FEDAVG_OUTER, meanOf, OuterOptimizer } from '../../../src/train/outer-optimizer.ts';
import { lrAt } from '../../../src/train/schedule.ts';

describe('outer optimizer', () => {
  it('Nesterov SGD matches the closed form for two steps', () => {
    const o = new OuterOptimizer(DILOCO_OUTER);
    const p = Float32Array.from([1, -1]);
    const g1 = Float32Array.from([0.5, 0.25]);
    o.apply(p, g1);
    // b1 = g1; p -= 0.7 (g1 + 0.9 b1) = 0.7·1.9·g1
    expect(p[0]).toBeCloseTo(1 - 0.7 * 1.9 * 0.5, 6);
    const g2 = Float32Array.from([-0.5, 0]);
    o.apply(p, g2);
    // b2 = 0.9·g1 + g2; p -= 0.7 (g2 + 0.9 b2)
    const b2 = 0.9 * 0.5 - 0.5;
    expect(p[0]).toBeCloseTo(1 - 0.7 * 1.9 * 0.5 - 0.7 * (-0.5 + 0.9 * b2), 6);
    expect(p[1]).toBeCloseTo(-1 - 0.7 * 1.9 * 0.25 - 0.7 * (0.9 * 0.9 * 0.25), 6);
    expect(o.step).toBe(2);
  });

  it('FedAvg (lr 1, no momentum) lands exactly on the mean of the workers', () => {
    const global = Float32Array.from([1, 2, 3]);
    const workers = [Float32Array.from([0, 2, 4]), Float32Array.from([2, 4, 0])];
    const delta = meanOf(workers.map((w) => global.map((g, i) => g - w[i])));
    new OuterOptimizer(FEDAVG_OUTER).apply(global, delta);
    expect(Array.from(global)).toEqual([1, 3, 2]);
  });

  it('state round-trips and continues identically', () => {
    const a = new OuterOptimizer();
    const pa = Float32Array.from([1, 2, 3]);
    a.apply(pa, Float32Array.from([0.1, 0.2, 0.3]));
    const b = OuterOptimizer.fromState(a.getState());
    const pb = pa.slice();
    const g = Float32Array.from([-0.3, 0.1, 0]);
    a.apply(pa, g);
    b.apply(pb, g);
    expect(pb).toEqual(pa);
    expect(b.step).toBe(2);
  });

  it('rejects bad configs and mismatched lengths', () => {
    expect(() => new OuterOptimizer({ lr: 0, momentum: 0.9, nesterov: true })).toThrow(AgoraError);
    expect(() => new OuterOptimizer().apply(new Float32Array(2), new Float32Array(3))).toThrow(AgoraError);
  });
});

describe('inner lr schedule', () => {
  it('warms up linearly then decays by cosine to the floor', () => {
    const cfg = { lr: 1, warmupSteps: 10, totalSteps: 100, minLrRatio: 0.1 };
    expect(lrAt(0, cfg)).toBeCloseTo(0.1);
    expect(lrAt(9, cfg)).toBeCloseTo(1);
    expect(lrAt(10, cfg)).toBeCloseTo(1);
    expect(lrAt(60, cfg)).toBeCloseTo(0.55);
    expect(lrAt(110, cfg)).toBeCloseTo(0.1);
    expect(lrAt(500, cfg)).toBeCloseTo(0.1);
  });
});
