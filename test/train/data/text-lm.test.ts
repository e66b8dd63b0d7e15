import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keccak256Bytes } from '../../../src/data/keccak.ts';
import { readRecords } from '../../../src/data/records.ts';
import { evaluateBitsPerByte, loadTextLm, splitWindows } from '../../../src/train/data/text-lm.ts';
import type { TransformerSpec } from '../../../src/train/models/spec.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';

const dir = mkdtempSync(join(tmpdir(), 'agora-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXT = `${'the quick brown fox jumps over the lazy dog. '.repeat(40)}Zürich café ✓\n`;

describe('text LM data (byte windows, held-out split, bits per byte)', () => {
  it('a text file: window i is record i of `agora data add --format text --chunk T+1`; targets are inputs shifted', () => {
    const path = join(dir, 'a.txt');
    writeFileSync(path, TEXT);
    const d = loadTextLm(path, { context: 15 });
    const bytes = Buffer.byteLength(TEXT);
    expect(d.format).toBe('text');
    expect(d.streamBytes).toBe(bytes);
    expect(d.dataset.size).toBe(Math.floor(bytes / 16));
    const rs = readRecords(path, { format: 'text', chunkBytes: 16 });
    for (let i = 0; i < d.dataset.size; i++) {
      expect(Buffer.from(keccak256Bytes(d.dataset.recordBytes(i)))).toEqual(
        Buffer.from(rs.contentHashes.subarray(i * 32, i * 32 + 32)),
      );
    }
    const b = d.dataset.getBatch([2]);
    const rec = d.dataset.recordBytes(2);
    expect(Array.from(b.inputs)).toEqual(Array.from(rec.subarray(0, 15)));
    expect(Array.from(b.targets)).toEqual(Array.from(rec.subarray(1, 16)));
    // Tail holdout by default: the last 10% of the windows.
    expect(d.eval.length).toBe(Math.round(d.dataset.size * 0.1));
    expect(d.eval[0]).toBe(d.train.length);
    expect(d.train.length + d.eval.length).toBe(d.dataset.size);
  });

  it('random holdout is seeded, disjoint and covers every window', () => {
    const a = splitWindows(100, { holdout: 'random', evalFraction: 0.2, seed: 5 });
    const b = splitWindows(100, { holdout: 'random', evalFraction: 0.2, seed: 5 });
    expect(a).toEqual(b);
    expect(a.eval.length).toBe(20);
    expect(new Set([...a.train, ...a.eval]).size).toBe(100);
    expect(Array.from(a.eval)).not.toEqual(Array.from({ length: 20 }, (_, i) => 80 + i));
    expect(() => splitWindows(10, { evalFraction: 1 })).toThrow(/evalFraction/);
  });

  it('JSONL: a text field per line, documents joined by newlines; clear errors on bad lines', () => {
    const path = join(dir, 'b.jsonl');
    writeFileSync(
      path,
      `${JSON.stringify({ body: 'abcdefgh', id: 1 })}\n\n${JSON.stringify({ body: 'ijklmnop' })}\n`,
    );
    const d = loadTextLm(path, { context: 3, field: 'body' });
    expect(d.format).toBe('jsonl');
    expect(d.streamBytes).toBe(17);
    expect(Buffer.from(d.dataset.recordBytes(2)).toString()).toBe('\nijk');
    expect(() => loadTextLm(path, { context: 3 })).toThrow(/line 1 has no string field "text"/);
    writeFileSync(path, '{"text": "ok"}\n{oops\n');
    expect(() => loadTextLm(path, { context: 1 })).toThrow(/line 2 is not valid JSON/);
    writeFileSync(join(dir, 'tiny.txt'), 'abc');
    expect(() => loadTextLm(join(dir, 'tiny.txt'), { context: 8 })).toThrow(/at least 2 are needed/);
    expect(() => loadTextLm(join(dir, 'missing.txt'))).toThrow(/cannot read/);
  });

  it('evaluateBitsPerByte equals the cross-entropy of the exported model’s logits, in bits; training lowers it', async () => {
    const path = join(dir, 'c.txt');
    writeFileSync(path, TEXT);
    const d = loadTextLm(path, { context: 16, evalFraction: 0.2 });
    const spec: TransformerSpec = {
      kind: 'transformer',
      vocabSize: 256,
      context: 16,
      layers: 1,
      dModel: 32,
      heads: 2,
      dFF: 64,
      tieEmbeddings: true,
    };
    const rt = createRuntime({
      model: spec,
      threads: 1,
      stepsPerCall: 4,
      optimizer: {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weightDecay: 0,
        clipNorm: 1,
        warmupSteps: 5,
        totalSteps: 120,
        minLrRatio: 0.1,
      },
    });
    try {
      rt.init(3);
      // 7 held-out windows in batches of 3: the last batch is a partial one.
      const held = d.eval.slice(0, 7);
      const before = await evaluateBitsPerByte(rt, d.dataset, held, { batchSize: 3 });
      expect(before.windows).toBe(7);
      expect(before.bytes).toBe(7 * 16);
      const sess = await OnnxSession.create(rt.exportInference(), { threads: 1 });
      const batch = d.dataset.getBatch(held);
      const logits = (await sess.run({ input: { data: batch.inputs, dims: [7, 16], dtype: 'int32' } }))
        .logits as Float32Array;
      await sess.release();
      let nats = 0;
      for (let r = 0; r < 7 * 16; r++) {
        const row = logits.subarray(r * 256, r * 256 + 256);
        const mx = Math.max(...row);
        nats += mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[batch.targets[r]];
      }
      expect(before.bitsPerByte).toBeCloseTo(nats / (7 * 16) / Math.LN2, 4);
      expect(before.bitsPerByte).toBeGreaterThan(6);
      const train = Array.from({ length: 120 }, (_, s) => {
        const at = (s * 8) % (d.train.length - 8);
        return d.dataset.getBatch(d.train.slice(at, at + 8));
      });
      await rt.train(train);
      const after = await evaluateBitsPerByte(rt, d.dataset, d.eval);
      expect(after.bitsPerByte).toBeLessThan(2.5);
    } finally {
      await rt.dispose();
    }
  });
});
