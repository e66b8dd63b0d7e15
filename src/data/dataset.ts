/**
 * Dataset workflows behind `agora data add|show|prove|verify`: records → Merkle tree → manifest →
 * EIP-712 attestation → DataRegistry, and record proofs checked locally and on-chain. The pure parts
 * live in records.ts, merkle.ts, manifest.ts and attestation.ts; this file wires them to the chain
 * (src/chain/data-registry.ts) and the home (store.ts).
 */
import { type Address, decodeFunctionData, getAddress, type Hex, isHex, type LocalAccount } from 'viem';
import { DataRegistry } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { walletClientFor } from '../chain/connect.ts';
import { type DataRegistryClient, type Dataset, dataRegistryClient } from '../chain/data-registry.ts';
import { type DatasetAttestation, signDatasetAttestation } from '../chain/typed-data.ts';
import { AgoraError } from '../errors.ts';
import { type AttestationTypedData, attestationTypedData, checkAttestationSignature } from './attestation.ts';
import { summarizeDataset } from './dataset-summary.ts';
import { keccak256Bytes } from './keccak.ts';
import { normalizeLicence } from './licences.ts';
import { buildManifest, contentHashAt, type DatasetManifest, manifestHash } from './manifest.ts';
import { buildMerkleTree, recordLeaves, slotHex, twoWordLeaf, verifyProof } from './merkle.ts';
import { type RecordFormat, type RecordSet, readRecords } from './records.ts';
import { loadDataset, loadHashes, rootOfId, saveDataset, saveRegistration } from './store.ts';

export type Progress = (message: string) => void;

export type PreparedDataset = {
  records: RecordSet;
  manifest: DatasetManifest;
  manifestHash: Hex;
};

/** Checks a sector name: what the registry stores and governance admits datasets to. */
export function normalizeSector(sector: string): string {
  const s = sector.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}$/.test(s)) {
    throw new AgoraError('SECTOR_INVALID', `"${sector}" is not a valid sector name`, {
      hint: 'use a short name of letters, digits, space, ".", "_", "/" or "-" (e.g. vision, text, health), at most 64 characters',
    });
  }
  return s;
}

/** Reads and hashes the source, builds the tree and the manifest. No chain, no disk writes. */
export function prepareDataset(input: {
  path: string;
  licence: string;
  sector: string;
  format?: RecordFormat;
  chunkBytes?: number;
  /** The data's schema as a task reads it (goes into the manifest's `task`). */
  taskSchema?: Record<string, unknown>;
  onProgress?: Progress;
  createdAt?: Date;
}): PreparedDataset {
  const progress = input.onProgress ?? (() => {});
  const licence = normalizeLicence(input.licence);
  const sector = normalizeSector(input.sector);
  const t0 = performance.now();
  progress(`reading records from ${input.path}…`);
  const records = readRecords(input.path, {
    format: input.format,
    chunkBytes: input.chunkBytes,
    onProgress: progress,
  });
  progress(
    `${records.count} ${records.schema.format} records, ${records.bytes} bytes hashed in ${((performance.now() - t0) / 1000).toFixed(1)} s; building the Merkle tree…`,
  );
  const t1 = performance.now();
  const tree = buildMerkleTree(recordLeaves(records.contentHashes), {
    onProgress: (done, total) => progress(`Merkle tree: ${Math.round((100 * done) / total)}%`),
  });
  progress(`Merkle root ${tree.root} (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
  const manifest = buildManifest({
    root: tree.root,
    records: records.count,
    bytes: records.bytes,
    licence,
    sector,
    schema: records.schema,
    ...(input.taskSchema ? { task: input.taskSchema } : {}),
    contentHashes: records.contentHashes,
    createdAt: input.createdAt,
  });
  return { records, manifest, manifestHash: manifestHash(manifest) };
}

export type AddResult = { datasetId: bigint; root: Hex; records: number; txHash: Hex; dir: string };

/**
 * Registers a prepared dataset: refuses a root already on chain, signs the attestation with
 * `contributor` (who also sends the transaction), registers, then stores manifest, hashes and the
 * signed attestation under `<home>/data/<root>/`.
 */
export async function registerDataset(input: {
  conn: ChainConnection;
  registry: Address;
  contributor: LocalAccount;
  home: string;
  prepared: PreparedDataset;
  source: { path: string; format: string; chunkBytes?: number };
  deadlineSeconds?: number;
  onProgress?: Progress;
}): Promise<AddResult> {
  const { conn, prepared, contributor } = input;
  const progress = input.onProgress ?? (() => {});
  const registry = dataRegistryClient(conn, input.registry);
  const m = prepared.manifest;
  const existing = await registry.datasetIdOf(m.root);
  if (existing !== 0n) {
    throw new AgoraError(
      'DATASET_DUPLICATE',
      `this dataset is already registered as dataset ${existing} (Merkle root ${m.root}); nothing was registered`,
      { hint: `see it with \`agora data show ${existing}\`` },
    );
  }
  const block = await conn.publicClient.getBlock();
  const attestation: DatasetAttestation = {
    root: m.root,
    records: BigInt(m.records),
    bytes: BigInt(m.bytes),
    licence: m.licence,
    sector: m.sector,
    manifestHash: prepared.manifestHash,
    contributor: contributor.address,
    deadline: block.timestamp + BigInt(input.deadlineSeconds ?? 3600),
  };
  progress(`signing the DatasetAttestation as ${contributor.address} and registering it…`);
  const signature = await signDatasetAttestation(contributor, registry.domain(), attestation);
  const { datasetId, receipt } = await registry.register(
    walletClientFor(conn, contributor),
    attestation,
    signature,
  );
  const dir = saveDataset(input.home, m, prepared.records.contentHashes, input.source);
  saveRegistration(input.home, m.root, {
    chainId: conn.chainId,
    registry: registry.address,
    datasetId: datasetId.toString(),
    txHash: receipt.transactionHash,
    registeredAt: new Date().toISOString(),
    attestation: { ...attestationTypedData(conn.chainId, registry.address, attestation), signature },
  });
  return { datasetId, root: m.root, records: m.records, txHash: receipt.transactionHash, dir };
}

/** Reads a dataset from the registry, with a clear error for unknown ids. */
export async function getDatasetOrThrow(
  registry: DataRegistryClient,
  id: bigint,
  chainId: number,
): Promise<Dataset> {
  if (id < 1n) {
    throw new AgoraError('DATASET_UNKNOWN', `dataset ids start at 1, not ${id}`);
  }
  try {
    return await registry.getDataset(id);
  } catch (e) {
    if (e instanceof AgoraError && /UnknownDataset/.test(e.message)) {
      throw new AgoraError('DATASET_UNKNOWN', `dataset ${id} is not registered on chain ${chainId}`, {
        hint: 'list registrations with the DatasetRegistered events, or check --rpc / --home',
        cause: e,
      });
    }
    throw e;
  }
}

/** Recovers the signed attestation of dataset `id` from its registration transaction's calldata. */
export async function attestationFromChain(
  conn: ChainConnection,
  registry: Address,
  id: bigint,
): Promise<{ attestation: DatasetAttestation; signature: Hex; txHash: Hex } | undefined> {
  // The event's non-indexed fields may evolve with the contract; the indexed datasetId is the key.
  const logs = await conn.publicClient.getContractEvents({
    address: registry,
    abi: DataRegistry.abi,
    eventName: 'DatasetRegistered',
    args: { datasetId: id },
    fromBlock: 0n,
  } as Parameters<typeof conn.publicClient.getContractEvents>[0]);
  const log = logs[0];
  if (!log?.transactionHash) return undefined;
  const tx = await conn.publicClient.getTransaction({ hash: log.transactionHash });
  try {
    const call = decodeFunctionData({ abi: DataRegistry.abi, data: tx.input });
    if (call.functionName !== 'registerDataset') return undefined;
    const [a, signature] = call.args as unknown as [
      Omit<DatasetAttestation, 'bytes'> & { byteCount: bigint },
      Hex,
    ];
    const { byteCount, ...rest } = a;
    return { attestation: { ...rest, bytes: byteCount }, signature, txHash: log.transactionHash };
  } catch {
    // registered through a relayer contract: the calldata is not a direct registerDataset call
    return undefined;
  }
}

export type ShowResult = {
  datasetId: string;
  root: Hex;
  records: number;
  bytes: number;
  licence: string;
  sector: string;
  contributor: Address;
  manifestHash: Hex;
  registeredAt: number;
  attestation: AttestationTypedData & { signature: Hex };
  /** Where the attestation came from: this home's registration record, or the registration tx. */
  attestationSource: 'local' | 'chain';
  local: { dir: string; schema: DatasetManifest['schema']; createdAt: string } | null;
};

/** The on-chain dataset plus its signed attestation (checked: the contributor really signed it). */
export async function showDataset(input: {
  conn: ChainConnection;
  registry: Address;
  home: string;
  datasetId: bigint;
}): Promise<ShowResult> {
  const { conn, datasetId } = input;
  const registry = dataRegistryClient(conn, input.registry);
  const d = await getDatasetOrThrow(registry, datasetId, conn.chainId);
  const localRoot = rootOfId(input.home, conn.chainId, registry.address, datasetId);
  const local =
    localRoot && localRoot.toLowerCase() === d.root.toLowerCase()
      ? loadDataset(input.home, d.root, conn.chainId, registry.address)
      : undefined;
  let typed: (AttestationTypedData & { signature: Hex }) | undefined;
  let source: 'local' | 'chain' = 'local';
  const matchesChain = (t: AttestationTypedData) =>
    t.message.root.toLowerCase() === d.root.toLowerCase() &&
    BigInt(t.message.records) === d.records &&
    BigInt(t.message.bytes) === d.bytes &&
    t.message.licence === d.licence &&
    t.message.sector === d.sector &&
    t.message.manifestHash.toLowerCase() === d.manifestHash.toLowerCase() &&
    getAddress(t.message.contributor) === getAddress(d.contributor) &&
    t.domain.chainId === conn.chainId &&
    getAddress(t.domain.verifyingContract) === getAddress(registry.address);
  if (local?.registration && matchesChain(local.registration.attestation))
    typed = local.registration.attestation;
  if (!typed) {
    const fromChain = await attestationFromChain(conn, registry.address, datasetId);
    if (fromChain) {
      source = 'chain';
      typed = {
        ...attestationTypedData(conn.chainId, registry.address, fromChain.attestation),
        signature: fromChain.signature,
      };
    }
  }
  if (!typed) {
    throw new AgoraError(
      'ATTESTATION_MISSING',
      `cannot find the signed attestation of dataset ${datasetId}`,
      {
        hint: 'it is stored in the contributor’s home and in the registration transaction; is the node pruned?',
      },
    );
  }
  await checkAttestationSignature(typed, typed.signature);
  return {
    ...summarizeDataset(datasetId, d),
    manifestHash: d.manifestHash,
    registeredAt: Number(d.registeredAt),
    attestation: typed,
    attestationSource: source,
    local: local
      ? { dir: local.dir, schema: local.manifest.schema, createdAt: local.manifest.createdAt }
      : null,
  };
}

export type RecordProof = {
  datasetId: string;
  root: Hex;
  index: number;
  contentHash: Hex;
  proof: Hex[];
};

/** A proof that record `index` belongs to dataset `datasetId` (needs the local manifest and hashes). */
export async function proveRecord(input: {
  conn: ChainConnection;
  registry: Address;
  home: string;
  datasetId: bigint;
  index: number;
  onProgress?: Progress;
}): Promise<RecordProof> {
  const { conn, datasetId } = input;
  const registry = dataRegistryClient(conn, input.registry);
  const d = await getDatasetOrThrow(registry, datasetId, conn.chainId);
  const local = loadDataset(input.home, d.root);
  if (!local) {
    throw new AgoraError(
      'DATASET_NOT_LOCAL',
      `this home has no manifest for dataset ${datasetId} (root ${d.root})`,
      {
        hint: 'proofs need the per-record hashes: run it in the contributor’s --home, or copy its data/<root>/ folder here',
      },
    );
  }
  const hashes = loadHashes(local);
  const contentHash = contentHashAt(hashes, input.index);
  input.onProgress?.(`rebuilding the Merkle tree of ${local.manifest.records} records…`);
  const tree = buildMerkleTree(recordLeaves(hashes));
  if (tree.root.toLowerCase() !== d.root.toLowerCase()) {
    throw new AgoraError(
      'MANIFEST_CORRUPT',
      `the local hashes give root ${tree.root}, but dataset ${datasetId} has ${d.root}`,
    );
  }
  return {
    datasetId: datasetId.toString(),
    root: d.root,
    index: input.index,
    contentHash,
    proof: tree.proof(input.index),
  };
}

/** Parses and shape-checks a proof document (as `agora data prove --json` prints it). */
export function parseRecordProof(text: string, name = 'the proof'): RecordProof {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AgoraError('PROOF_MALFORMED', `${name} is not JSON`, { cause: e });
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new AgoraError('PROOF_MALFORMED', `${name} is not a JSON object`, {
      hint: 'produce proofs with `agora data prove ID INDEX --json`',
    });
  }
  const p = v as Partial<RecordProof>;
  const isHash = (x: unknown) => typeof x === 'string' && isHex(x) && x.length === 66;
  const problems: string[] = [];
  if (typeof p.datasetId !== 'string' || !/^\d+$/.test(p.datasetId))
    problems.push('datasetId (decimal string)');
  if (!isHash(p.root)) problems.push('root (32-byte hex)');
  if (!Number.isSafeInteger(p.index) || (p.index as number) < 0)
    problems.push('index (non-negative integer)');
  if (!isHash(p.contentHash)) problems.push('contentHash (32-byte hex)');
  if (!Array.isArray(p.proof) || !p.proof.every(isHash)) problems.push('proof (array of 32-byte hex)');
  if (problems.length > 0) {
    throw new AgoraError('PROOF_MALFORMED', `${name} lacks or mangles: ${problems.join(', ')}`, {
      hint: 'produce proofs with `agora data prove ID INDEX --json`',
    });
  }
  return p as RecordProof;
}

export type VerifyResult = {
  valid: boolean;
  datasetId: string;
  index: number;
  contentHash: Hex;
  local: boolean;
  onChain: boolean;
  recordMatches: boolean | null;
  problems: string[];
};

/**
 * Checks a record proof: locally (the proof leads from the (index, contentHash) leaf to the stated
 * root), against the chain (the dataset's registered root is that root, and DataRegistry.verifyRecord
 * accepts the proof), and, given the record's bytes, that they hash to contentHash.
 */
export async function verifyRecordProof(input: {
  conn: ChainConnection;
  registry: Address;
  proof: RecordProof;
  record?: Uint8Array;
}): Promise<VerifyResult> {
  const { conn, proof } = input;
  const registry = dataRegistryClient(conn, input.registry);
  const problems: string[] = [];
  const id = BigInt(proof.datasetId);
  let recordMatches: boolean | null = null;
  if (input.record) {
    const h = slotHex(keccak256Bytes(input.record), 0);
    recordMatches = h === proof.contentHash.toLowerCase();
    if (!recordMatches) {
      problems.push(
        `the record bytes hash to ${h}, not to the proof's contentHash ${proof.contentHash} (tampered record?)`,
      );
    }
  }
  const leaf = twoWordLeaf(proof.index, proof.contentHash);
  const local = verifyProof(proof.root, leaf, proof.proof);
  if (!local) {
    problems.push(
      `the proof does not lead from record ${proof.index} with contentHash ${proof.contentHash} to root ${proof.root} (wrong index, tampered hash or proof)`,
    );
  }
  const d = await getDatasetOrThrow(registry, id, conn.chainId);
  if (d.root.toLowerCase() !== proof.root.toLowerCase()) {
    problems.push(
      `dataset ${id} has root ${d.root}, not the proof's root ${proof.root} (a proof for another dataset?)`,
    );
  }
  const onChain = await registry.verifyRecord(id, BigInt(proof.index), proof.contentHash, proof.proof);
  if (!onChain) problems.push(`DataRegistry.verifyRecord rejects the proof for dataset ${id}`);
  return {
    valid: problems.length === 0,
    datasetId: proof.datasetId,
    index: proof.index,
    contentHash: proof.contentHash,
    local,
    onChain,
    recordMatches,
    problems,
  };
}
