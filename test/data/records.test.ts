import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import { prepareDataset } from '../../src/data/dataset.ts';
import { normalizeLicence } from '../../src/data/licences.ts';
import { canonicalJson, manifestHash } from '../../src/data/manifest.ts';
import { detectFormat, readRecords, recordBytes } from '../../src/data/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'agora-records-'));
const enc = (s: string) => new TextEncoder().encode(s);
const hashOf = (b: Uint8Array) => Buffer.from(keccak_256(b)).toString('hex');
const hashAt = (h: Uint8Array, i: number) => Buffer.from(h.subarray(i * 32, i * 32 + 32)).toString('hex');

function write(name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('records: canonical bytes per format', () => {
  it('jsonl: one record per non-empty line, without terminators; bad JSON names the line', () => {
    const p = write('a.jsonl', '{"a":1}\r\n\n{"b":2}\n');
    const r = readRecords(p);
    expect(r.count).toBe(2);
    expect(hashAt(r.contentHashes, 0)).toBe(hashOf(enc('{"a":1}')));
    expect(hashAt(r.contentHashes, 1)).toBe(hashOf(enc('{"b":2}')));
    expect(r.bytes).toBe(14);
    expect(() => readRecords(write('b.jsonl', '{"a":1}\nnot json\n'))).toThrow(
      /b\.jsonl line 2 is not valid JSON/,
    );
  });

  it('csv: header excluded, quoted commas and newlines stay inside a row, column counts checked', () => {
    const p = write('a.csv', 'name,text\nx,"hello, world"\ny,"two\nlines"\n');
    const r = readRecords(p);
    expect(r.count).toBe(2);
    expect(r.schema).toMatchObject({ format: 'csv', header: 'name,text', columns: 2 });
    expect(hashAt(r.contentHashes, 1)).toBe(hashOf(enc('y,"two\nlines"')));
    expect(() => readRecords(write('b.csv', 'a,b\n1,2,3\n'))).toThrow(
      /row 2 has 3 fields but the header has 2/,
    );
    expect(() => readRecords(write('c.csv', 'a,b\n1,"2\n'))).toThrow(/unterminated quoted field/);
  });

  it('text: lines, or fixed chunks', () => {
    const p = write('a.txt', 'one\ntwo\n\nthree');
    expect(readRecords(p).count).toBe(3);
    const c = readRecords(p, { chunkBytes: 4 });
    expect(c.count).toBe(4);
    expect(hashAt(c.contentHashes, 3)).toBe(hashOf(enc('ee')));
  });

  it('idx: image+label pairs, .gz hashed uncompressed, item counts must match', () => {
    const img = Buffer.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 10, 11, 20, 21]);
    const lab = Buffer.from([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
    const a = write('i-idx3-ubyte', img);
    const b = write('l-idx1-ubyte.gz', gzipSync(lab));
    const r = readRecords(`${a},${b}`);
    expect(r.count).toBe(2);
    expect(hashAt(r.contentHashes, 1)).toBe(hashOf(new Uint8Array([9, 0, 0, 0, 20, 21])));
    expect(Array.from(recordBytes(`${a},${b}`, 0))).toEqual([7, 0, 0, 0, 10, 11]);
    const single = readRecords(a, { format: 'idx' });
    expect(hashAt(single.contentHashes, 0)).toBe(hashOf(new Uint8Array([10, 11])));
    const short = write('s-idx1-ubyte', Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]));
    expect(() => readRecords(`${a},${short}`)).toThrow(/has 2 items but s-idx1-ubyte has 3/);
    expect(() => readRecords(write('bad-idx1-ubyte', Buffer.from([1, 2, 3, 4])))).toThrow(
      /not a valid IDX file/,
    );
    expect(() => readRecords(write('trunc-idx1-ubyte', Buffer.from([0, 0, 8, 1, 0, 0, 0, 5, 1])))).toThrow(
      /need 13 bytes, the file has 9/,
    );
  });

  it('dir: one record per file, sorted by relative path', () => {
    const d = join(dir, 'tree');
    mkdirSync(join(d, 'b'), { recursive: true });
    writeFileSync(join(d, 'b', 'x.txt'), 'bx');
    writeFileSync(join(d, 'a.txt'), 'a');
    writeFileSync(join(d, 'B.txt'), 'B');
    const r = readRecords(d);
    expect(r.schema).toMatchObject({ format: 'dir', files: ['B.txt', 'a.txt', 'b/x.txt'] });
    expect(hashAt(r.contentHashes, 2)).toBe(hashOf(enc('bx')));
  });

  it('formats come from the path, or a clear error; missing files and empty sources are errors', () => {
    expect(detectFormat('x,y')).toBe('idx');
    expect(() => detectFormat(write('data.bin', 'x'))).toThrow(/cannot tell the format of/);
    expect(() => readRecords(join(dir, 'missing.jsonl'))).toThrow(/missing\.jsonl does not exist/);
    expect(() => readRecords(write('empty.txt', '\n\n'))).toThrow(/contains no records/);
  });
});

describe('licences and manifests', () => {
  it('accepts SPDX ids case-insensitively and LicenseRef-…, rejects the rest with a hint', () => {
    expect(normalizeLicence('apache-2.0')).toBe('Apache-2.0');
    expect(normalizeLicence('CC0-1.0')).toBe('CC0-1.0');
    expect(normalizeLicence('LicenseRef-acme-terms-2')).toBe('LicenseRef-acme-terms-2');
    expect(() => normalizeLicence('GPL')).toThrow(/not a known SPDX licence identifier/);
    expect(() => normalizeLicence('LicenseRef-has space')).toThrow(/not a valid LicenseRef/);
  });

  it('manifestHash is keccak256 of the canonical JSON (sorted keys, no whitespace)', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 1, y: 2 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}',
    );
    expect(() => canonicalJson({ x: 0.5 })).toThrow(/safe integers/);
    const p = write('m.jsonl', '{"a":1}\n{"a":2}\n');
    const at = new Date('2026-01-01T00:00:00Z');
    const m1 = prepareDataset({ path: p, licence: 'MIT', sector: 'text', createdAt: at });
    const m2 = prepareDataset({ path: p, licence: 'MIT', sector: 'text', createdAt: at });
    expect(m1.manifestHash).toBe(m2.manifestHash);
    expect(m1.manifestHash).toBe(manifestHash(JSON.parse(JSON.stringify(m1.manifest))));
    expect(m1.manifest.hashes.hash).toBe(`0x${hashOf(m1.records.contentHashes)}`);
    const m3 = prepareDataset({ path: p, licence: 'MIT', sector: 'vision', createdAt: at });
    expect(m3.manifestHash).not.toBe(m1.manifestHash);
    expect(m3.manifest.root).toBe(m1.manifest.root);
  });
});
