/**
 * Keccak-256 (the Ethereum variant: pad10*1 with 0x01, no SHA-3 domain bits), written for speed:
 * no allocation per hash, and the Keccak-f[1600] permutation runs as a small WebAssembly function
 * with native 64-bit lanes (about 4× faster than 32-bit-halves JavaScript; this is what lets the
 * record Merkle tree of 1M records build in seconds). The module is emitted here at load time from
 * the FIPS 202 definitions (rho offsets, pi, round constants are computed, not copied).
 * Checked against @noble/hashes in test/data/keccak.test.ts.
 */

const RATE = 136;

// rho offsets r[x + 5y]: (x, y) = (1, 0); for t in 0..23: r = (t+1)(t+2)/2 mod 64; (x, y) = (y, 2x+3y).
const ROT: number[] = new Array(25).fill(0);
{
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    ROT[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    const nx = y;
    y = (2 * x + 3 * y) % 5;
    x = nx;
  }
}
/** pi: the lane at (x, y) moves to (y, 2x + 3y mod 5). */
const piDest = (i: number): number => {
  const x = i % 5;
  const y = (i - x) / 5;
  return y + 5 * ((2 * x + 3 * y) % 5);
};
/** iota round constants (FIPS 202 algorithm 5: LFSR x^8+x^6+x^5+x^4+1; bit j at position 2^j − 1). */
const RC: bigint[] = [];
{
  let r = 1;
  const bit = (): number => {
    const b = r & 1;
    r <<= 1;
    if (r & 0x100) r ^= 0x171;
    return b;
  };
  for (let i = 0; i < 24; i++) {
    let c = 0n;
    for (let j = 0; j < 7; j++) if (bit()) c |= 1n << BigInt((1 << j) - 1);
    RC.push(BigInt.asIntN(64, c));
  }
}

// --- a minimal WebAssembly emitter for one function: permute() on 25 i64 lanes at memory[0..200] ---
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (value: number | bigint): number[] => {
  let n = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

const RC_OFFSET = 256;
/** Batch buffers inside the wasm memory: inputs at IN (up to BATCH × 64 bytes), outputs at OUT. */
export const BATCH = 8192;
const IN_OFFSET = 1024;
const OUT_OFFSET = IN_OFFSET + BATCH * 64;
const PAGES = Math.ceil((OUT_OFFSET + BATCH * 32) / 65536);

const OP = {
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  call: 0x10,
  i32const: 0x41,
  i64const: 0x42,
  i64load: 0x29,
  i64store: 0x37,
  i64and: 0x83,
  i64xor: 0x85,
  i64rotl: 0x89,
  i32add: 0x6a,
  i32sub: 0x6b,
  i32shl: 0x74,
  i32ltu: 0x49,
  i32eqz: 0x45,
  block: 0x02,
  loop: 0x03,
  brif: 0x0d,
  end: 0x0b,
};

/** func 0, permute(): Keccak-f[1600] on the 25 lanes at memory[0..200]. */
function emitPermute(): number[] {
  // locals: 0 = round (i32); a_i = 1 + i; b_i = 26 + i; c_x = 51 + x; d_x = 56 + x (i64)
  const R = 0;
  const A = (i: number) => 1 + i;
  const B = (i: number) => 26 + i;
  const C = (x: number) => 51 + x;
  const D = (x: number) => 56 + x;
  const code: number[] = [];
  const get = (l: number) => code.push(OP.get, ...uleb(l));
  const set = (l: number) => code.push(OP.set, ...uleb(l));
  for (let i = 0; i < 25; i++) {
    code.push(OP.i32const, 0, OP.i64load, 3, ...uleb(8 * i));
    set(A(i));
  }
  code.push(OP.loop, 0x40);
  for (let x = 0; x < 5; x++) {
    get(A(x));
    for (let y = 1; y < 5; y++) {
      get(A(x + 5 * y));
      code.push(OP.i64xor);
    }
    set(C(x));
  }
  for (let x = 0; x < 5; x++) {
    get(C((x + 4) % 5));
    get(C((x + 1) % 5));
    code.push(OP.i64const, 1, OP.i64rotl, OP.i64xor);
    set(D(x));
  }
  for (let i = 0; i < 25; i++) {
    get(A(i));
    get(D(i % 5));
    code.push(OP.i64xor);
    if (ROT[i] !== 0) code.push(OP.i64const, ...sleb(ROT[i]), OP.i64rotl);
    set(B(piDest(i)));
  }
  for (let i = 0; i < 25; i++) {
    const x = i % 5;
    const row = i - x;
    get(B(i));
    get(B(row + ((x + 1) % 5)));
    code.push(OP.i64const, ...sleb(-1), OP.i64xor);
    get(B(row + ((x + 2) % 5)));
    code.push(OP.i64and, OP.i64xor);
    set(A(i));
  }
  get(A(0));
  get(R);
  code.push(OP.i32const, 3, OP.i32shl, OP.i64load, 3, ...uleb(RC_OFFSET), OP.i64xor);
  set(A(0));
  get(R);
  code.push(OP.i32const, 1, OP.i32add, OP.tee, ...uleb(R), OP.i32const, 24, OP.i32ltu, OP.brif, 0, OP.end);
  for (let i = 0; i < 25; i++) {
    code.push(OP.i32const, 0);
    get(A(i));
    code.push(OP.i64store, 3, ...uleb(8 * i));
  }
  code.push(OP.end);
  return [2, 1, 0x7f, 60, 0x7e, ...code]; // locals: 1 × i32, 60 × i64
}

/**
 * func 1, batch(src, stride, words, n, dst): for k < n, keccak256 of the `words` × 8 bytes at
 * src + k·stride (words ≤ 16, so one block) → 32 bytes at dst + 32k.
 */
function emitBatch(): number[] {
  const [SRC, STRIDE, WORDS, N, DST, J] = [0, 1, 2, 3, 4, 5];
  const c: number[] = [];
  const get = (l: number) => c.push(OP.get, l);
  const set = (l: number) => c.push(OP.set, l);
  c.push(OP.block, 0x40);
  get(N);
  c.push(OP.i32eqz, OP.brif, 0);
  c.push(OP.loop, 0x40);
  for (let i = 0; i < 25; i++) c.push(OP.i32const, 0, OP.i64const, 0, OP.i64store, 3, ...uleb(8 * i));
  c.push(OP.i32const, 0);
  set(J);
  c.push(OP.loop, 0x40);
  get(J);
  c.push(OP.i32const, 3, OP.i32shl);
  get(SRC);
  get(J);
  c.push(OP.i32const, 3, OP.i32shl, OP.i32add, OP.i64load, 3, 0, OP.i64store, 3, 0);
  get(J);
  c.push(OP.i32const, 1, OP.i32add, OP.tee, J);
  get(WORDS);
  c.push(OP.i32ltu, OP.brif, 0, OP.end);
  // padding: 0x01 right after the input (lane `words`), 0x80 in the last byte of the rate (lane 16)
  get(WORDS);
  c.push(OP.i32const, 3, OP.i32shl, OP.i64const, 1, OP.i64store, 3, 0);
  c.push(OP.i32const, 0, OP.i32const, 0, OP.i64load, 3, ...uleb(128));
  c.push(OP.i64const, ...sleb(-(1n << 63n)), OP.i64xor, OP.i64store, 3, ...uleb(128));
  c.push(OP.call, 0);
  for (let q = 0; q < 4; q++) {
    get(DST);
    c.push(OP.i32const, 0, OP.i64load, 3, ...uleb(8 * q), OP.i64store, 3, ...uleb(8 * q));
  }
  get(SRC);
  get(STRIDE);
  c.push(OP.i32add);
  set(SRC);
  get(DST);
  c.push(OP.i32const, 32, OP.i32add);
  set(DST);
  get(N);
  c.push(OP.i32const, 1, OP.i32sub, OP.tee, N, OP.brif, 0, OP.end, OP.end, OP.end);
  return [1, 1, 0x7f, ...c]; // locals: 1 × i32 (j)
}

function emitModule(): Uint8Array {
  const permute = emitPermute();
  const batch = emitBatch();
  const i32 = 0x7f;
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [2, 0x60, 0, 0, 0x60, 5, i32, i32, i32, i32, i32, 0]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0x00, ...uleb(PAGES)]),
    ...section(7, [3, ...name('permute'), 0x00, 0, ...name('batch'), 0x00, 1, ...name('memory'), 0x02, 0]),
    ...section(10, [2, ...uleb(permute.length), ...permute, ...uleb(batch.length), ...batch]),
  ];
  return new Uint8Array(bytes);
}

/** The part of the WebAssembly JS API used here (tsconfig has no DOM lib, which declares it). */
type WasmApi = {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const wasm = new WA.Instance(new WA.Module(emitModule())).exports as {
  permute: () => void;
  batch: (src: number, stride: number, words: number, n: number, dst: number) => void;
  memory: { buffer: ArrayBuffer };
};
const permute = wasm.permute;
/** The state (25 lanes as 50 little-endian int32 halves) inside the wasm memory; never grows. */
const S = new Int32Array(wasm.memory.buffer, 0, 50);
new BigInt64Array(wasm.memory.buffer, RC_OFFSET, 24).set(RC);
const MEM = new Uint8Array(wasm.memory.buffer);

/**
 * The batch input area (BATCH × 64 bytes) inside the wasm memory: fill it, then `hashBatchInput`.
 * Valid as long as the process lives (the memory never grows).
 */
export const batchInput: Uint8Array = MEM.subarray(IN_OFFSET, IN_OFFSET + BATCH * 64);
/** The batch output area (BATCH × 32 bytes): `hashBatchInput` writes hash k at k·32. */
export const batchOutput: Uint8Array = MEM.subarray(OUT_OFFSET, OUT_OFFSET + BATCH * 32);

/**
 * keccak256 of `n` ≤ BATCH inputs of `len` (32 or 64) bytes laid out every `stride` bytes in
 * `batchInput`, into `batchOutput` (32 bytes each).
 */
export function hashBatchInput(n: number, len: 32 | 64, stride: number): void {
  if (n > BATCH || n * stride > BATCH * 64 + stride - len) throw new RangeError('batch too large');
  wasm.batch(IN_OFFSET, stride, len / 8, n, OUT_OFFSET);
}

/** Keccak-f[1600] on `s` (50 int32: lane i = x + 5y is s[2i] low half, s[2i+1] high half). */
export function keccakF1600(s: Int32Array): void {
  S.set(s.subarray(0, 50));
  permute();
  s.set(S);
}

/**
 * keccak256(src[off .. off+len]) written to dst[dstOff .. dstOff+32], for any length. No allocation;
 * src and dst may overlap (the whole input is absorbed before the output is written).
 */
export function keccak256Into(
  src: Uint8Array,
  off: number,
  len: number,
  dst: Uint8Array,
  dstOff: number,
): void {
  const s = S;
  s.fill(0);
  let o = off;
  let left = len;
  while (left >= RATE) {
    for (let w = 0; w < 34; w++, o += 4) {
      s[w] ^= src[o] | (src[o + 1] << 8) | (src[o + 2] << 16) | (src[o + 3] << 24);
    }
    permute();
    left -= RATE;
  }
  const words = left >>> 2;
  for (let w = 0; w < words; w++, o += 4) {
    s[w] ^= src[o] | (src[o + 1] << 8) | (src[o + 2] << 16) | (src[o + 3] << 24);
  }
  const rest = left & 3;
  let last = 0;
  for (let k = 0; k < rest; k++) last |= src[o + k] << (8 * k);
  last |= 1 << (8 * rest);
  s[words] ^= last;
  s[33] ^= 0x80000000 | 0;
  permute();
  for (let w = 0; w < 8; w++) {
    const v = s[w];
    const p = dstOff + 4 * w;
    dst[p] = v;
    dst[p + 1] = v >>> 8;
    dst[p + 2] = v >>> 16;
    dst[p + 3] = v >>> 24;
  }
}

/** keccak256 of `bytes` as a new 32-byte array. */
export function keccak256Bytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  keccak256Into(bytes, 0, bytes.length, out, 0);
  return out;
}
