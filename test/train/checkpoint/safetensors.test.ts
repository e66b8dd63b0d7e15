import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../../src/errors.ts';
import { readCheckpointFile, writeCheckpointFile } from '../../../src/train/checkpoint/files.ts';
import { checkpointHash } from '../../../src/train/checkpoint/hash.ts';
import {
  decodeSafetensors,
  encodeSafetensors,
  tensorFrom,
  tensorToFloat32,
} from '../../../src/train/checkpoint/safetensors.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../../../src/train/checkpoint/training-checkpoint.ts';
import { OuterOptimizer } from '../../../src/train/outer-optimizer.ts';

/** Builds a safetensors file by hand: u64 LE length, header text, data. */
function handBuilt(headerText: string, data: number[]): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AgoraError);
    expect((e as AgoraError).message).toMatch(/^safetensors: /);
    return (e as AgoraError).code;
  }
  throw new Error('expected an AgoraError');
}

const f32le = (...xs: number[]) => Array.from(new Uint8Array(Float32Array.from(xs).buffer));

describe('safetensors reader (hand-built files)', () => {
  it('reads tensors, shapes, dtypes and metadata', () => {
    const bytes = handBuilt(
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]},' +
        '"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}}   ',
      [...f32le(1.5, -2), 7, 8, 9],
    );
    const f = decodeSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.get('a')!.shape).toEqual([2, 1]);
    expect(Array.from(tensorToFloat32(f.tensors.get('a')!))).toEqual([1.5, -2]);
    expect(f.tensors.get('b')!.dtype).toBe('U8');
    expect(Array.from(f.tensors.get('b')!.data)).toEqual([7, 8, 9]);
  });

  it('accepts zero-sized tensors and scalars', () => {
    const f = decodeSafetensors(
      handBuilt(
        '{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}',
        [42, 0, 0, 0],
      ),
    );
    expect(f.tensors.get('e')!.data.length).toBe(0);
    expect(new DataView(f.tensors.get('s')!.data.slice().buffer).getInt32(0, true)).toBe(42);
  });

  it('rejects malformed files with clear errors', () => {
    const ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    expect(code(() => decodeSafetensors(new Uint8Array(5)))).toBe('SAFETENSORS_TRUNCATED');
    // header length past the end of the file
    const long = handBuilt(ok, f32le(1, 2));
    new DataView(long.buffer).setBigUint64(0, 10_000n, true);
    expect(code(() => decodeSafetensors(long))).toBe('SAFETENSORS_BAD_LENGTH');
    const huge = handBuilt(ok, f32le(1, 2));
    new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
    expect(code(() => decodeSafetensors(huge))).toBe('SAFETENSORS_BAD_LENGTH');
    expect(code(() => decodeSafetensors(handBuilt('[1,2]', [])))).toBe('SAFETENSORS_BAD_HEADER');
    expect(code(() => decodeSafetensors(handBuilt('{"a":', [])))).toBe('SAFETENSORS_BAD_HEADER');
    expect(
      code(() =>
        decodeSafetensors(handBuilt('{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}', f32le(1, 2))),
      ),
    ).toBe('SAFETENSORS_UNKNOWN_DTYPE');
    expect(code(() => decodeSafetensors(handBuilt(ok, f32le(1))))).toBe('SAFETENSORS_OUT_OF_RANGE');
    expect(code(() => decodeSafetensors(handBuilt(ok, [...f32le(1, 2), 0])))).toBe('SAFETENSORS_HOLE');
    expect(
      code(() =>
        decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32le(1, 2))),
      ),
    ).toBe('SAFETENSORS_SHAPE_MISMATCH');
    const overlap =
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(code(() => decodeSafetensors(handBuilt(overlap, f32le(1, 2))))).toBe('SAFETENSORS_OVERLAP');
    const hole =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(code(() => decodeSafetensors(handBuilt(hole, f32le(1, 2, 3))))).toBe('SAFETENSORS_HOLE');
    // duplicate key: JSON.parse keeps the last one, leaving a hole the reader catches
    const dup =
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(code(() => decodeSafetensors(handBuilt(dup, f32le(1, 2))))).toBe('SAFETENSORS_HOLE');
    expect(
      code(() =>
        decodeSafetensors(handBuilt('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', f32le(1))),
      ),
    ).toBe('SAFETENSORS_BAD_OFFSETS');
    expect(code(() => decodeSafetensors(handBuilt('{"__metadata__":{"x":1}}', [])))).toBe(
      'SAFETENSORS_BAD_METADATA',
    );
  });
});

describe('safetensors writer', () => {
  it('writes the spec layout: u64 LE length, space-padded header (8-aligned data), sorted names', () => {
    const bytes = encodeSafetensors(
      {
        z: tensorFrom('F32', [2], Float32Array.from([1, 2])),
        a: tensorFrom('I8', [3], Int8Array.from([-1, 0, 1])),
      },
      { note: 'hi' },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.trimEnd()).toBe(
      '{"__metadata__":{"note":"hi"},"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},' +
        '"z":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}}',
    );
    expect(/^ *$/.test(text.slice(text.trimEnd().length))).toBe(true);
    expect(Array.from(bytes.subarray(8 + n))).toEqual([255, 0, 1, ...f32le(1, 2)]);
    const back = decodeSafetensors(bytes);
    expect(Array.from(tensorToFloat32(back.tensors.get('z')!))).toEqual([1, 2]);
    // deterministic: insertion order does not matter
    const again = encodeSafetensors(
      {
        a: tensorFrom('I8', [3], Int8Array.from([-1, 0, 1])),
        z: tensorFrom('F32', [2], Float32Array.from([1, 2])),
      },
      { note: 'hi' },
    );
    expect(checkpointHash(again)).toBe(checkpointHash(bytes));
  });

  it('rejects data that does not match the shape', () => {
    expect(() => tensorFrom('F32', [3], new Float32Array(2))).toThrow(AgoraError);
  });
});

describe('checkpoint hash and training checkpoints', () => {
  it('hash is keccak256 of the file bytes', () => {
    const b = Uint8Array.from([1, 2, 3]);
    expect(checkpointHash(b)).toBe(`0x${bytesToHex(keccak_256(b))}`);
    // keccak256("") — the well-known constant
    expect(checkpointHash(new Uint8Array(0))).toBe(
      '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470',
    );
  });

  it('round-trips params, outer optimizer state and info through a file', () => {
    const outer = new OuterOptimizer();
    const params = Float32Array.from([0.5, -1, 2]);
    outer.apply(params, Float32Array.from([0.1, 0.2, -0.3]));
    const { bytes, hash } = encodeTrainingCheckpoint({
      params,
      outer: outer.getState(),
      info: { round: '1' },
    });
    const dir = mkdtempSync(join(tmpdir(), 'agora-ckpt-'));
    const path = join(dir, 'c.safetensors');
    expect(writeCheckpointFile(path, bytes)).toBe(hash);
    const read = readCheckpointFile(path);
    expect(read.hash).toBe(hash);
    const c = decodeTrainingCheckpoint(read.bytes);
    expect(c.params).toEqual(params);
    expect(c.info).toEqual({ round: '1' });
    expect(c.outer!.step).toBe(1);
    expect(c.outer!.config).toEqual({ lr: 0.7, momentum: 0.9, nesterov: true });
    expect(c.outer!.momentum).toEqual(outer.getState().momentum);
    // a corrupted file names the path
    writeFileSync(path, bytes.subarray(0, bytes.length - 1));
    expect(() => readCheckpointFile(path)).toThrow(/c\.safetensors: safetensors: /);
  });
});

describe('decoding from a Node Buffer view', () => {
  it('reads the right parameters when the bytes sit at an offset inside a larger (pooled) buffer', () => {
    const params = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const { bytes } = encodeTrainingCheckpoint({ params, info: { round: '2' } });
    // Mimic fs.readFileSync / network chunks: a Buffer view at a non-zero offset of a bigger pool.
    const pool = Buffer.alloc(bytes.byteLength + 64, 0xee);
    pool.set(bytes, 24);
    const view = pool.subarray(24, 24 + bytes.byteLength);
    expect(view.byteOffset).toBe(24);
    expect(Array.from(decodeTrainingCheckpoint(view).params)).toEqual(Array.from(params));
  });
});
