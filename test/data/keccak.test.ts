import { keccak_256 } from '@noble/hashes/sha3.js';
import { describe, expect, it } from 'vitest';
import {
  BATCH,
  batchInput,
  batchOutput,
  hashBatchInput,
  keccak256Bytes,
  keccak256Into,
} from '../../src/data/keccak.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('keccak256 (wasm permutation)', () => {
  it('matches @noble/hashes for every length 0..700 (block boundaries included)', () => {
    for (let len = 0; len <= 700; len++) {
      const b = new Uint8Array(len).map((_, i) => (i * 31 + len * 7) & 255);
      expect(hex(keccak256Bytes(b)), `len ${len}`).toBe(hex(keccak_256(b)));
    }
  });

  it('known vector: keccak256("") is the Ethereum empty hash', () => {
    expect(hex(keccak256Bytes(new Uint8Array(0)))).toBe(
      'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
  });

  it('hashes at offsets and in place', () => {
    const buf = new Uint8Array(200).map((_, i) => i);
    keccak256Into(buf, 10, 64, buf, 20);
    const expected = keccak_256(new Uint8Array(64).map((_, i) => i + 10));
    expect(hex(buf.subarray(20, 52))).toBe(hex(expected));
  });

  it('batch mode matches single hashes for 32- and 64-byte inputs', () => {
    const n = BATCH;
    for (let i = 0; i < n * 64; i++) batchInput[i] = (i * 13 + 5) & 255;
    const copy = batchInput.slice(0, n * 64);
    hashBatchInput(n, 64, 64);
    for (const k of [0, 1, 77, n - 1]) {
      expect(hex(batchOutput.subarray(k * 32, k * 32 + 32))).toBe(
        hex(keccak_256(copy.subarray(k * 64, k * 64 + 64))),
      );
    }
    hashBatchInput(100, 32, 64);
    for (const k of [0, 50, 99]) {
      expect(hex(batchOutput.subarray(k * 32, k * 32 + 32))).toBe(
        hex(keccak_256(copy.subarray(k * 64, k * 64 + 32))),
      );
    }
  });
});
