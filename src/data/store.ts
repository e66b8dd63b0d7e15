/**
 * Local dataset storage under `<home>/data/` (the disk adapter of src/data):
 *
 *   data/<root>/manifest.json                    the manifest (its canonical JSON hashes to manifestHash)
 *   data/<root>/hashes.bin                       count × 32-byte content hashes, index order
 *   data/<root>/source.json                      where the records came from on this machine (not hashed)
 *   data/<root>/registrations/<chainId>-<registry>.json
 *                                                the signed attestation (EIP-712 typed data + signature),
 *                                                dataset id and tx hash of a registration
 *   data/ids/<chainId>-<registry>/<datasetId>    index: the root of a registered dataset id
 *
 * Writes are atomic (temp file + rename).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import { homePaths } from '../home.ts';
import type { AttestationTypedData } from './attestation.ts';
import { type DatasetManifest, hashListHash } from './manifest.ts';

export type Registration = {
  chainId: number;
  registry: Address;
  datasetId: string;
  txHash: Hex;
  registeredAt: string;
  attestation: AttestationTypedData & { signature: Hex };
};

export type SourceInfo = { path: string; format: string; chunkBytes?: number };

export type LocalDataset = { dir: string; manifest: DatasetManifest; registration?: Registration };

function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function datasetDir(home: string, root: Hex): string {
  return join(homePaths(home).data, root.toLowerCase());
}

const registryKey = (chainId: number, registry: Address) => `${chainId}-${registry.toLowerCase()}`;

/** Writes manifest.json, hashes.bin and source.json; returns the folder. */
export function saveDataset(
  home: string,
  manifest: DatasetManifest,
  contentHashes: Uint8Array,
  source: SourceInfo,
): string {
  const dir = datasetDir(home, manifest.root);
  mkdirSync(join(dir, 'registrations'), { recursive: true });
  atomicWrite(join(dir, 'hashes.bin'), contentHashes);
  atomicWrite(join(dir, 'source.json'), `${JSON.stringify(source, null, 2)}\n`);
  atomicWrite(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/** Stores a registration beside the manifest and indexes the dataset id. */
export function saveRegistration(home: string, root: Hex, reg: Registration): string {
  const dir = datasetDir(home, root);
  mkdirSync(join(dir, 'registrations'), { recursive: true });
  const key = registryKey(reg.chainId, reg.registry);
  const path = join(dir, 'registrations', `${key}.json`);
  atomicWrite(path, `${JSON.stringify(reg, null, 2)}\n`);
  const idDir = join(homePaths(home).data, 'ids', key);
  mkdirSync(idDir, { recursive: true });
  atomicWrite(join(idDir, reg.datasetId), `${root.toLowerCase()}\n`);
  return path;
}

/** The local copy of dataset `root`, or undefined. Throws when it exists but is corrupt. */
export function loadDataset(
  home: string,
  root: Hex,
  chainId?: number,
  registry?: Address,
): LocalDataset | undefined {
  const dir = datasetDir(home, root);
  const mpath = join(dir, 'manifest.json');
  if (!existsSync(mpath)) return undefined;
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(readFileSync(mpath, 'utf8')) as DatasetManifest;
  } catch (e) {
    throw new AgoraError('MANIFEST_CORRUPT', `${mpath} is not valid JSON`, { cause: e });
  }
  let registration: Registration | undefined;
  if (chainId !== undefined && registry) {
    const rpath = join(dir, 'registrations', `${registryKey(chainId, registry)}.json`);
    if (existsSync(rpath)) registration = JSON.parse(readFileSync(rpath, 'utf8')) as Registration;
  }
  return { dir, manifest, registration };
}

/** The root of a dataset id registered from this home, or undefined. */
export function rootOfId(
  home: string,
  chainId: number,
  registry: Address,
  datasetId: bigint,
): Hex | undefined {
  const path = join(homePaths(home).data, 'ids', registryKey(chainId, registry), datasetId.toString());
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8').trim() as Hex;
}

/** Reads hashes.bin and checks it against the manifest (count and hash of the list). */
export function loadHashes(local: LocalDataset): Uint8Array {
  const path = join(local.dir, 'hashes.bin');
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new AgoraError('MANIFEST_CORRUPT', `${path} is missing`, {
      hint: 'add the dataset again from its source with `agora data add`',
      cause: e,
    });
  }
  const hashes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (hashes.length !== local.manifest.records * 32 || hashListHash(hashes) !== local.manifest.hashes.hash) {
    throw new AgoraError('MANIFEST_CORRUPT', `${path} does not match its manifest (changed or truncated)`, {
      hint: 'add the dataset again from its source with `agora data add`',
    });
  }
  return hashes;
}

/** Where a checkpoint's provenance manifest lives: beside it, `<checkpoint>.provenance.json`. */
export function provenanceManifestPath(checkpoint: string): string {
  return `${checkpoint}.provenance.json`;
}

/** Writes a provenance manifest beside its checkpoint (atomically); returns the path. */
export function writeProvenanceManifest(checkpoint: string, manifest: unknown): string {
  const path = provenanceManifestPath(checkpoint);
  atomicWrite(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
