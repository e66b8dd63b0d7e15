/**
 * IDX files (the MNIST / Fashion-MNIST format), gzipped or not.
 *
 * Layout: bytes 0–1 are zero, byte 2 is the element type (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
 * 0x0D f32, 0x0E f64), byte 3 the number of dimensions d; then d big-endian u32 sizes, then the
 * data, big-endian, row-major. A file starting with 0x1f 0x8b is gunzipped first.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { AgoraError } from '../../errors.ts';
import { type ClassificationDataset, makeClassificationDataset } from './dataset.ts';

export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

export type IdxArray = {
  dtype: IdxDtype;
  dims: number[];
  /** u8 data as Uint8Array (zero-copy view); other types converted to host-endian typed arrays. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
};

const TYPES: Record<number, { dtype: IdxDtype; size: number }> = {
  8: { dtype: 'u8', size: 1 },
  9: { dtype: 'i8', size: 1 },
  11: { dtype: 'i16', size: 2 },
  12: { dtype: 'i32', size: 4 },
  13: { dtype: 'f32', size: 4 },
  14: { dtype: 'f64', size: 8 },
};

function bad(
  file: string,
  what: string,
  hint = 'Check that the file is an IDX file (MNIST format).',
): AgoraError {
  return new AgoraError('DATA_BAD_IDX', `${file}: ${what}`, { hint });
}

/** Parses IDX bytes (gunzips if needed). `file` names the source in error messages. */
export function parseIdx(raw: Uint8Array, file = '<bytes>'): IdxArray {
  let bytes = raw;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new AgoraError('DATA_BAD_IDX', `${file}: gzip data is corrupt (${(e as Error).message}).`, {
        hint: 'Download the file again.',
        cause: e,
      });
    }
  }
  if (bytes.length < 4) throw bad(file, `only ${bytes.length} bytes, too short for an IDX header.`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw bad(file, `bad magic: first two bytes are ${bytes[0]}, ${bytes[1]} (expected 0, 0).`);
  }
  const t = TYPES[bytes[2]];
  if (t === undefined) throw bad(file, `unknown element type 0x${bytes[2].toString(16).padStart(2, '0')}.`);
  const nd = bytes[3];
  if (nd === 0) throw bad(file, 'zero dimensions.');
  const headerLen = 4 + 4 * nd;
  if (bytes.length < headerLen)
    throw bad(file, `truncated header: ${nd} dimensions need ${headerLen} bytes.`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < nd; i++) {
    const d = dv.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const expected = headerLen + count * t.size;
  if (bytes.length !== expected) {
    throw bad(
      file,
      `dimensions [${dims.join(', ')}] of ${t.dtype} need ${expected} bytes but the file has ${bytes.length}.`,
      bytes.length < expected ? 'The file is truncated: download it again.' : 'The file has trailing data.',
    );
  }
  const off = headerLen;
  switch (t.dtype) {
    case 'u8':
      return { dtype: 'u8', dims, data: bytes.subarray(off) };
    case 'i8':
      return { dtype: 'i8', dims, data: new Int8Array(bytes.buffer, bytes.byteOffset + off, count).slice() };
    case 'i16': {
      const a = new Int16Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt16(off + 2 * i, false);
      return { dtype: 'i16', dims, data: a };
    }
    case 'i32': {
      const a = new Int32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getInt32(off + 4 * i, false);
      return { dtype: 'i32', dims, data: a };
    }
    case 'f32': {
      const a = new Float32Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat32(off + 4 * i, false);
      return { dtype: 'f32', dims, data: a };
    }
    case 'f64': {
      const a = new Float64Array(count);
      for (let i = 0; i < count; i++) a[i] = dv.getFloat64(off + 8 * i, false);
      return { dtype: 'f64', dims, data: a };
    }
  }
}

/** Encodes an IDX file (big-endian), e.g. to write small fixtures. */
export function encodeIdx(arr: IdxArray): Uint8Array {
  const code = Number(Object.entries(TYPES).find(([, v]) => v.dtype === arr.dtype)![0]);
  const size = TYPES[code].size;
  const headerLen = 4 + 4 * arr.dims.length;
  const out = new Uint8Array(headerLen + arr.data.length * size);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = arr.dims.length;
  for (let i = 0; i < arr.dims.length; i++) dv.setUint32(4 + 4 * i, arr.dims[i], false);
  for (let i = 0; i < arr.data.length; i++) {
    const o = headerLen + i * size;
    const x = arr.data[i];
    if (arr.dtype === 'u8') dv.setUint8(o, x);
    else if (arr.dtype === 'i8') dv.setInt8(o, x);
    else if (arr.dtype === 'i16') dv.setInt16(o, x, false);
    else if (arr.dtype === 'i32') dv.setInt32(o, x, false);
    else if (arr.dtype === 'f32') dv.setFloat32(o, x, false);
    else dv.setFloat64(o, x, false);
  }
  return out;
}

function readFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new AgoraError('DATA_FILE_UNREADABLE', `Cannot read ${path}: ${(e as Error).message}`, {
      hint: 'Check the path (for Fashion-MNIST: apt-get install dataset-fashion-mnist).',
      cause: e,
    });
  }
}

/**
 * An image-classification data set from an IDX images file ([n, ...featureDims], u8 or float)
 * and an IDX labels file ([n], integer). `numClasses` defaults to max label + 1.
 */
export function loadIdxClassification(
  imagesPath: string,
  labelsPath: string,
  opts: { numClasses?: number; id?: string } = {},
): ClassificationDataset {
  const img = parseIdx(readFile(imagesPath), imagesPath);
  const lab = parseIdx(readFile(labelsPath), labelsPath);
  return idxClassification(img, lab, {
    imagesFile: imagesPath,
    labelsFile: labelsPath,
    numClasses: opts.numClasses,
    id: opts.id ?? `idx:${basename(imagesPath)}`,
  });
}

/** Builds the data set from parsed IDX arrays (see `loadIdxClassification`). */
export function idxClassification(
  img: IdxArray,
  lab: IdxArray,
  o: { imagesFile: string; labelsFile: string; numClasses?: number; id: string },
): ClassificationDataset {
  if (lab.dims.length !== 1) {
    throw bad(o.labelsFile, `labels must be 1-dimensional, got dimensions [${lab.dims.join(', ')}].`);
  }
  if (lab.dtype === 'f32' || lab.dtype === 'f64')
    throw bad(o.labelsFile, `labels must be integers, got ${lab.dtype}.`);
  const n = img.dims[0];
  if (lab.dims[0] !== n) {
    throw new AgoraError(
      'DATA_SHAPE_MISMATCH',
      `${o.imagesFile} has ${n} images but ${o.labelsFile} has ${lab.dims[0]} labels.`,
      { hint: 'Pair the images file with its own labels file (train with train, t10k with t10k).' },
    );
  }
  const labels = new Int32Array(n);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const y = lab.data[i];
    if (y < 0) throw bad(o.labelsFile, `label ${y} at index ${i} is negative.`);
    labels[i] = y;
    if (y > maxLabel) maxLabel = y;
  }
  const numClasses = o.numClasses ?? maxLabel + 1;
  if (maxLabel >= numClasses) {
    throw bad(
      o.labelsFile,
      `label ${maxLabel} is not below numClasses ${numClasses}.`,
      'Pass the right numClasses.',
    );
  }
  const featureShape = img.dims.slice(1);
  const features =
    img.dtype === 'u8'
      ? { kind: 'u8' as const, data: img.data as Uint8Array }
      : { kind: 'f32' as const, data: Float32Array.from(img.data as ArrayLike<number>) };
  return makeClassificationDataset({ id: o.id, featureShape, features, labels, numClasses });
}

/** Where Debian's `dataset-fashion-mnist` installs its files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
