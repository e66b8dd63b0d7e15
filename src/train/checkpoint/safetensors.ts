/**
 * The safetensors format (Hugging Face), read and written in pure TypeScript:
 *
 *   [8 bytes: N, u64 little-endian][N bytes: JSON header, UTF-8][data]
 *
 * The header maps tensor names to `{ "dtype", "shape", "data_offsets": [begin, end] }` (offsets
 * relative to the start of the data) and may hold `"__metadata__"`: a string → string map.
 * Tensor data is little-endian, row-major.
 *
 * The reader is strict: the header length must fit the file (and ≤ 100 MiB); every dtype must be
 * known; every byte range must match dtype × shape; the ranges must tile the data exactly (no
 * overlap, no hole, nothing after the last tensor) — which also rejects files whose duplicate JSON
 * keys hid a tensor. The writer is deterministic: `__metadata__` first, then tensors sorted by name,
 * laid out in that order; the header is padded with spaces so the data starts at a multiple of 8.
 */
import { AgoraError } from '../../errors.ts';

export const SAFETENSORS_DTYPES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

export type Tensor = {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Raw little-endian element bytes (`numel × dtype size`). Reading returns a view into the file. */
  data: Uint8Array;
};

export type SafetensorsFile = {
  tensors: Map<string, Tensor>;
  metadata?: Record<string, string>;
};

export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function bad(
  code: string,
  msg: string,
  hint = 'The file is not valid safetensors (or is corrupt).',
): AgoraError {
  return new AgoraError(code, `safetensors: ${msg}`, { hint });
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A tensor from a typed array (F32, F64, I32, U32, I16, U16, I8, U8, F16 as Uint16 bits, I64/U64 as BigInt64). */
export function tensorFrom(
  dtype: SafetensorsDtype,
  shape: readonly number[],
  values: ArrayBufferView,
): Tensor {
  const data = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  const expected = numel(shape) * SAFETENSORS_DTYPES[dtype];
  if (data.byteLength !== expected) {
    throw new AgoraError(
      'SAFETENSORS_SHAPE_MISMATCH',
      `Tensor of dtype ${dtype} and shape [${shape.join(', ')}] needs ${expected} bytes, got ${data.byteLength}.`,
      { hint: 'Pass values whose length matches the shape.' },
    );
  }
  return { dtype, shape: [...shape], data };
}

/** The values of an F32 tensor (a fresh, aligned copy). */
export function tensorToFloat32(t: Tensor, name = 'tensor'): Float32Array {
  if (t.dtype !== 'F32') {
    throw new AgoraError('SAFETENSORS_DTYPE', `${name} has dtype ${t.dtype}, expected F32.`, {
      hint: 'Convert the checkpoint to float32.',
    });
  }
  // `new Uint8Array(x)` always copies; `x.slice()` on a Node Buffer returns a view of a pooled buffer.
  const copy = new Uint8Array(t.data);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Serializes tensors (sorted by name) and optional metadata into safetensors bytes. */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const list: [string, Tensor][] =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, Tensor>).entries()]
      : Object.entries(tensors);
  const entries = list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new AgoraError('SAFETENSORS_BAD_METADATA', `Metadata value for "${k}" is not a string.`, {
          hint: '__metadata__ maps strings to strings; JSON.stringify other values.',
        });
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__')
      throw new AgoraError('SAFETENSORS_BAD_NAME', 'A tensor cannot be named __metadata__.');
    const size = SAFETENSORS_DTYPES[t.dtype] as number | undefined;
    if (size === undefined)
      throw new AgoraError('SAFETENSORS_DTYPE', `Tensor ${name} has unknown dtype ${t.dtype}.`);
    const len = numel(t.shape) * size;
    if (t.data.byteLength !== len) {
      throw new AgoraError(
        'SAFETENSORS_SHAPE_MISMATCH',
        `Tensor ${name}: dtype ${t.dtype}, shape [${t.shape.join(', ')}] needs ${len} bytes, has ${t.data.byteLength}.`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const [, t] of entries) {
    out.set(t.data, o);
    o += t.data.byteLength;
  }
  return out;
}

/** Parses and validates safetensors bytes. Tensor data are views into `bytes` (no copy). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw bad(
      'SAFETENSORS_TRUNCATED',
      `file is ${bytes.byteLength} bytes, too short for the 8-byte header length.`,
    );
  }
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw bad('SAFETENSORS_BAD_LENGTH', `header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit.`);
  }
  const n = Number(n64);
  if (8 + n > bytes.byteLength) {
    throw bad(
      'SAFETENSORS_BAD_LENGTH',
      `header length ${n} runs past the end of the ${bytes.byteLength}-byte file.`,
      'The file is truncated, or not safetensors.',
    );
  }
  if (n < 2) throw bad('SAFETENSORS_BAD_HEADER', `header length ${n} is too short for a JSON object.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw bad('SAFETENSORS_BAD_HEADER', 'header is not valid UTF-8.');
  }
  if (!text.startsWith('{')) throw bad('SAFETENSORS_BAD_HEADER', 'header does not start with "{".');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw bad('SAFETENSORS_BAD_HEADER', `header is not valid JSON (${(e as Error).message}).`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw bad('SAFETENSORS_BAD_HEADER', 'header is not a JSON object.');
  }
  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> | undefined;
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw bad('SAFETENSORS_BAD_METADATA', '__metadata__ is not an object.');
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string')
          throw bad('SAFETENSORS_BAD_METADATA', `__metadata__.${k} is not a string.`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (raw === null || typeof raw !== 'object')
      throw bad('SAFETENSORS_BAD_HEADER', `entry "${name}" is not an object.`);
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !(e.dtype in SAFETENSORS_DTYPES)) {
      throw bad(
        'SAFETENSORS_UNKNOWN_DTYPE',
        `tensor "${name}" has unknown dtype ${JSON.stringify(e.dtype)}.`,
        `Known dtypes: ${Object.keys(SAFETENSORS_DTYPES).join(', ')}.`,
      );
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(
        'SAFETENSORS_BAD_HEADER',
        `tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}.`,
      );
    }
    const off = e.data_offsets;
    if (
      !Array.isArray(off) ||
      off.length !== 2 ||
      !off.every((x) => Number.isSafeInteger(x) && x >= 0) ||
      off[0] > off[1]
    ) {
      throw bad(
        'SAFETENSORS_BAD_OFFSETS',
        `tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}.`,
      );
    }
    const [begin, end] = off as [number, number];
    if (end > dataLen) {
      throw bad(
        'SAFETENSORS_OUT_OF_RANGE',
        `tensor "${name}" data_offsets [${begin}, ${end}] run past the ${dataLen} data bytes.`,
        'The file is truncated or its header is corrupt.',
      );
    }
    const shape = e.shape as number[];
    const expected = numel(shape) * SAFETENSORS_DTYPES[dtype];
    if (end - begin !== expected) {
      throw bad(
        'SAFETENSORS_SHAPE_MISMATCH',
        `tensor "${name}" (${dtype}, shape [${shape.join(', ')}]) needs ${expected} bytes but data_offsets span ${end - begin}.`,
      );
    }
    ranges.push({ name, begin, end });
    tensors.set(name, { dtype, shape, data: bytes.subarray(dataStart + begin, dataStart + end) });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const r of ranges) {
    if (r.begin < pos) {
      throw bad(
        'SAFETENSORS_OVERLAP',
        `tensor "${r.name}" at [${r.begin}, ${r.end}] overlaps the tensor before it.`,
      );
    }
    if (r.begin > pos) {
      throw bad(
        'SAFETENSORS_HOLE',
        `data bytes [${pos}, ${r.begin}) belong to no tensor (before "${r.name}").`,
      );
    }
    pos = r.end;
  }
  if (pos !== dataLen) {
    throw bad(
      'SAFETENSORS_HOLE',
      `data bytes [${pos}, ${dataLen}) after the last tensor belong to no tensor.`,
    );
  }
  return metadata === undefined ? { tensors } : { tensors, metadata };
}
