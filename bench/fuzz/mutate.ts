/**
 * Structure-aware mutations for the fuzz harness: start from a valid encoding and damage it the way
 * a buggy or hostile peer would (flip bits, truncate, extend, rewrite length and header fields,
 * duplicate ranges; for JSON: replace, delete or add fields, change types, blow up arrays), so the
 * fuzz gets past the first checks of a decoder and reaches its deep paths. Each helper returns a
 * fast-check arbitrary mixing fully random input, the valid encodings and their mutations.
 */
import fc from 'fast-check';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Numbers that sit on the edges decoders get wrong (lengths, counts, signs, 2^31, 2^32). */
export const EDGE_U32 = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0x7fff, 0x8000, 0xffff,
  0x10000, 0xfffff, 0x100000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
] as const;

export type ByteOp = { kind: number; pos: number; len: number; value: number };

export const byteOp: fc.Arbitrary<ByteOp> = fc.record({
  kind: fc.integer({ min: 0, max: 9 }),
  pos: fc.nat(),
  len: fc.integer({ min: 1, max: 64 }),
  value: fc.nat(),
});

function u32At(out: Uint8Array, pos: number, v: number, littleEndian: boolean): Uint8Array {
  if (out.length < 4) return out;
  const p = pos % (out.length - 3);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(p, v >>> 0, littleEndian);
  return out;
}

/** Applies one mutation to a copy of `b`. */
export function applyByteOp(b: Uint8Array, op: ByteOp): Uint8Array {
  const n = b.length;
  const pos = n === 0 ? 0 : op.pos % n;
  const edge = (extra: number[]) => {
    const all = [...EDGE_U32, ...extra];
    return all[op.value % all.length];
  };
  switch (op.kind) {
    case 0: {
      // flip one bit
      if (n === 0) return b;
      const out = b.slice();
      out[pos] ^= 1 << (op.value % 8);
      return out;
    }
    case 1: {
      // set a byte to an edge value
      if (n === 0) return b;
      const out = b.slice();
      out[pos] = [0, 1, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x30][op.value % 9];
      return out;
    }
    case 2:
      // truncate
      return b.slice(0, pos);
    case 3: {
      // extend with pseudo-random bytes
      const out = new Uint8Array(n + op.len);
      out.set(b);
      let x = op.value | 1;
      for (let i = n; i < out.length; i++) {
        x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) >>> 0;
        out[i] = x & 0xff;
      }
      return out;
    }
    case 4: {
      // delete a range
      const end = Math.min(n, pos + op.len);
      const out = new Uint8Array(n - (end - pos));
      out.set(b.subarray(0, pos));
      out.set(b.subarray(end), pos);
      return out;
    }
    case 5:
      // rewrite a little-endian u32 (counts and lengths of our binary formats)
      return u32At(b.slice(), op.pos, edge([n, n - 1, n + 1, n - 4, n >>> 2]), true);
    case 6:
      // rewrite a big-endian u32 (frame headers)
      return u32At(b.slice(), op.pos, edge([n, n - 1, n + 1, n - 4]), false);
    case 7: {
      // duplicate a range in place
      const end = Math.min(n, pos + op.len);
      const out = new Uint8Array(n + (end - pos));
      out.set(b.subarray(0, end));
      out.set(b.subarray(pos), end);
      return out;
    }
    case 8: {
      // rewrite the leading u32 / u64 (a header length or magic)
      const out = b.slice();
      if (n >= 8 && op.value % 2 === 0) {
        const v = [0n, 1n, 2n, BigInt(n), BigInt(n - 8), BigInt(n - 7), 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n];
        new DataView(out.buffer).setBigUint64(0, v[op.value % v.length], true);
        return out;
      }
      return u32At(out, 0, edge([n]), op.value % 3 === 0);
    }
    default: {
      // swap two bytes
      if (n < 2) return b;
      const out = b.slice();
      const q = (pos + op.len) % n;
      [out[pos], out[q]] = [out[q], out[pos]];
      return out;
    }
  }
}

/** Fully random bytes, the valid encodings, and 1–5 mutations of them. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>, maxRandom = 512): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(valid, fc.array(byteOp, { minLength: 1, maxLength: 5 }))
    .map(([b, ops]) => ops.reduce(applyByteOp, b));
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRandom }) },
    { weight: 1, arbitrary: valid },
    { weight: 7, arbitrary: mutated },
  );
}

// ---- JSON

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Values that break validators that trust the type or the range of a field. */
export const EDGE_JSON: readonly Json[] = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  1,
  0.5,
  1e308,
  -1e308,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  '',
  '0',
  '-1',
  '1.5',
  '1e3',
  ' 1',
  '0x',
  '0x0',
  '0xzz',
  `0x${'f'.repeat(64)}`,
  `0x${'0'.repeat(130)}`,
  `0x${'ff'.repeat(65)}`,
  `0x${'ab'.repeat(20)}`,
  '9'.repeat(80),
  '9'.repeat(30),
  '18446744073709551616',
  '115792089237316195423570985008687907853269984665640564039457584007913129639936',
  'a'.repeat(300),
  '__proto__',
  'constructor',
  '\u0000',
  '\ud800',
  [],
  {},
  [null],
  [0, -1, 2 ** 32],
  { __proto__: null } as unknown as Json,
];

export type JsonOp = { kind: number; pick: number; value: Json; key: string };

export const jsonOp: fc.Arbitrary<JsonOp> = fc.record({
  kind: fc.integer({ min: 0, max: 7 }),
  pick: fc.nat(),
  value: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...EDGE_JSON) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
  ),
  key: fc.oneof(
    fc.constantFrom('t', 'ok', 'version', 'length', '__proto__', 'constructor'),
    fc.string({ maxLength: 8 }),
  ),
});

type Slot = { parent: Json[] | { [k: string]: Json } | null; key: string | number; value: Json };

function slots(root: Json): Slot[] {
  const out: Slot[] = [{ parent: null, key: '', value: root }];
  const walk = (v: Json) => {
    if (out.length > 2000) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, value: x });
        walk(x);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        out.push({ parent: v, key: k, value: v[k] });
        walk(v[k]);
      }
    }
  };
  walk(root);
  return out;
}

/** Applies one mutation to `root` (a fresh deep copy) and returns the new root. */
export function applyJsonOp(root: Json, inOp: JsonOp): Json {
  // the edge values are shared between cases: never graft one in without copying it
  const op = { ...inOp, value: structuredClone(inOp.value) };
  const all = slots(root);
  const s = all[op.pick % all.length];
  const set = (v: Json): Json => {
    if (s.parent === null) return v;
    (s.parent as Record<string | number, Json>)[s.key] = v;
    return root;
  };
  switch (op.kind) {
    case 0:
    case 1:
      // replace a value
      return set(op.value);
    case 2:
      // delete a field or element
      if (s.parent === null) return root;
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete s.parent[s.key as string];
      return root;
    case 3:
      // add a field
      if (s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value)) {
        s.value[op.key] = op.value;
        return root;
      }
      return set(op.value);
    case 4:
      // change the type, keeping the content
      if (typeof s.value === 'number') return set(String(s.value));
      if (typeof s.value === 'string') return set(Number(s.value));
      if (Array.isArray(s.value)) return set(Object.fromEntries(s.value.map((v, i) => [String(i), v])));
      return set([s.value]);
    case 5:
      // blow up an array (or wrap a value in a long one)
      if (Array.isArray(s.value)) {
        const first = s.value[0] ?? op.value;
        // mostly a few more, sometimes just past the 1024-element limits of our schemas
        const n = op.pick % 8 === 0 ? [1023, 1024, 1025][(op.pick >>> 3) % 3] : 2 + (op.pick % 40);
        return set(Array.from({ length: n }, () => first));
      }
      return set(Array.from({ length: 1 + (op.pick % 50) }, () => s.value));
    case 6:
      // nudge a number, or a decimal/hex string, across an edge
      if (typeof s.value === 'number')
        return set([s.value + 1, s.value - 1, -s.value, s.value * 2 ** 32][op.pick % 4]);
      if (typeof s.value === 'string')
        return set([s.value.slice(0, -1), `${s.value}0`, s.value.toUpperCase(), `-${s.value}`][op.pick % 4]);
      return set(op.value);
    default:
      // swap with another slot's value
      return set(structuredClone(all[(op.pick >>> 3) % all.length].value));
  }
}

/** Random JSON, the valid values, and 1–4 structure-aware mutations of them. */
export function mutatedJson(valid: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  const mutated = fc
    .tuple(valid, fc.array(jsonOp, { minLength: 1, maxLength: 4 }))
    .map(([v, ops]) => ops.reduce(applyJsonOp, structuredClone(v)));
  return fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
    { weight: 1, arbitrary: valid },
    { weight: 8, arbitrary: mutated },
  );
}

/** JSON documents as text: mutated values, plus byte-level damage to the serialized text. */
export function mutatedJsonText(valid: fc.Arbitrary<Json>): fc.Arbitrary<string> {
  const asText = mutatedJson(valid).map((v) => JSON.stringify(v) ?? 'null');
  const damaged = fc
    .tuple(asText, fc.array(byteOp, { minLength: 1, maxLength: 3 }))
    .map(([s, ops]) => dec.decode(ops.reduce(applyByteOp, enc.encode(s))));
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
    { weight: 6, arbitrary: asText },
    { weight: 2, arbitrary: damaged },
  );
}

/** As `mutatedJsonText`, as UTF-8 bytes (wire frames), with some byte-level damage (invalid UTF-8). */
export function mutatedJsonBytes(valid: fc.Arbitrary<Json>): fc.Arbitrary<Uint8Array> {
  const text = mutatedJsonText(valid).map((s) => enc.encode(s));
  const raw = fc
    .tuple(text, fc.array(byteOp, { minLength: 1, maxLength: 2 }))
    .map(([b, ops]) => ops.reduce(applyByteOp, b));
  return fc.oneof({ weight: 5, arbitrary: text }, { weight: 1, arbitrary: raw });
}

export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}
