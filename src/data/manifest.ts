/**
 * Dataset manifests (pure): what a dataset is — Merkle root, record count, total bytes, licence,
 * sector, schema (format + per-format details), creation time — and a hash of the per-record content
 * hashes, which are kept beside it as a binary file (`hashes.bin`: count × 32 bytes, index order).
 *
 * `manifestHash` (signed in the DatasetAttestation) = keccak256 of the UTF-8 canonical JSON of the
 * manifest. Canonical JSON: object keys sorted by UTF-16 code units, recursively; no whitespace;
 * strings as JSON.stringify writes them; only safe integers as numbers (no floats). The manifest
 * holds no per-record hashes, only `hashes.hash` = keccak256(hashes.bin), so it stays small for 1M
 * records and still commits to every record.
 */
import { type Hex, keccak256 } from 'viem';
import { AgoraError } from '../errors.ts';
import { keccak256Bytes } from './keccak.ts';
import { slotHex } from './merkle.ts';
import type { RecordSchema } from './records.ts';

export const MANIFEST_VERSION = 1;

export type DatasetManifest = {
  version: number;
  /** Merkle root of the (index, contentHash) leaves (OZ StandardMerkleTree ["uint256","bytes32"]). */
  root: Hex;
  records: number;
  bytes: number;
  licence: string;
  sector: string;
  schema: RecordSchema;
  /**
   * The data's schema as the task that trains on it reads it (src/task/: kind, columns, classes,
   * shape); providers join only jobs whose spec this schema satisfies. Absent in older manifests.
   */
  task?: Record<string, unknown>;
  /** ISO 8601 UTC. */
  createdAt: string;
  hashes: {
    /** File beside the manifest holding count × 32-byte content hashes in index order. */
    file: 'hashes.bin';
    encoding: 'keccak256 of each record, 32 raw bytes each, in index order';
    /** keccak256 of the whole hashes file. */
    hash: Hex;
  };
};

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Canonical JSON (sorted keys, no whitespace); refuses values without one canonical form. */
export function canonicalJson(value: unknown): string {
  const walk = (v: unknown): string => {
    if (v === null || typeof v === 'boolean') return JSON.stringify(v);
    if (typeof v === 'string') return JSON.stringify(v);
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) {
        throw new AgoraError('MANIFEST_NOT_CANONICAL', `manifest numbers must be safe integers, got ${v}`);
      }
      return String(v);
    }
    if (Array.isArray(v)) return `[${v.map(walk).join(',')}]`;
    if (typeof v === 'object') {
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${walk(obj[k])}`).join(',')}}`;
    }
    throw new AgoraError('MANIFEST_NOT_CANONICAL', `manifest values cannot be ${typeof v}`);
  };
  return walk(value as Json);
}

/** keccak256 of the canonical JSON of the manifest: the `manifestHash` the contributor signs. */
export function manifestHash(m: DatasetManifest): Hex {
  return keccak256(new TextEncoder().encode(canonicalJson(m)));
}

/** keccak256 of the content-hash list (the bytes of `hashes.bin`). */
export function hashListHash(contentHashes: Uint8Array): Hex {
  return slotHex(keccak256Bytes(contentHashes), 0);
}

export function buildManifest(fields: {
  root: Hex;
  records: number;
  bytes: number;
  licence: string;
  sector: string;
  schema: RecordSchema;
  task?: Record<string, unknown>;
  contentHashes: Uint8Array;
  createdAt?: Date;
}): DatasetManifest {
  if (fields.contentHashes.length !== fields.records * 32) {
    throw new AgoraError(
      'MANIFEST_MISMATCH',
      `${fields.records} records need ${fields.records * 32} bytes of hashes`,
    );
  }
  return {
    version: MANIFEST_VERSION,
    root: fields.root,
    records: fields.records,
    bytes: fields.bytes,
    licence: fields.licence,
    sector: fields.sector,
    schema: fields.schema,
    ...(fields.task ? { task: fields.task } : {}),
    createdAt: (fields.createdAt ?? new Date()).toISOString(),
    hashes: {
      file: 'hashes.bin',
      encoding: 'keccak256 of each record, 32 raw bytes each, in index order',
      hash: hashListHash(fields.contentHashes),
    },
  };
}

/** The content hash of record `index` from a hashes.bin buffer. */
export function contentHashAt(contentHashes: Uint8Array, index: number): Hex {
  const n = contentHashes.length / 32;
  if (!Number.isInteger(index) || index < 0 || index >= n) {
    throw new AgoraError(
      'INDEX_OUT_OF_RANGE',
      `record index ${index} is out of range: the dataset has ${n} records`,
      {
        hint: `use an index from 0 to ${n - 1}`,
      },
    );
  }
  return slotHex(contentHashes, index * 32);
}
