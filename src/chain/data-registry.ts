/**
 * Typed client for the DataRegistry: register datasets from signed attestations, read them, prove
 * records, validators' quality attestations, and sector admission status.
 */
import type { Address, Hex, LocalAccount, TransactionReceipt } from 'viem';
import { DataRegistry } from '../../artifacts/index.ts';
import type { ChainConnection } from './connect.ts';
import { eventArgs, readTx, type Signer, sendTx } from './tx.ts';
import { type DatasetAttestation, domains, type Eip712Domain, signDatasetAttestation } from './typed-data.ts';

export type Dataset = {
  id: bigint;
  root: Hex;
  records: bigint;
  bytes: bigint;
  licence: string;
  sector: string;
  manifestHash: Hex;
  contributor: Address;
  registeredAt: bigint;
};

export type Quality = { score: number; attestedAt: number; reportHash: Hex };

export type DataRegistryClient = {
  address: Address;
  /** The EIP-712 domain contributors sign attestations under. */
  domain(): Eip712Domain;
  datasetCount(): Promise<bigint>;
  /** Submits a signed attestation (any relayer may pay); returns the new dataset id. */
  register(
    relayer: Signer,
    a: DatasetAttestation,
    signature: Hex,
  ): Promise<{ datasetId: bigint; receipt: TransactionReceipt }>;
  /** Signs with `contributor` (deadline: one hour after the latest block unless given) and submits via `relayer`. */
  signAndRegister(
    contributor: LocalAccount,
    relayer: Signer,
    fields: Omit<DatasetAttestation, 'contributor' | 'deadline'> & { deadline?: bigint },
  ): Promise<{ datasetId: bigint; receipt: TransactionReceipt }>;
  getDataset(id: bigint): Promise<Dataset>;
  datasetIdOf(root: Hex): Promise<bigint>;
  verifyRecord(id: bigint, index: bigint, contentHash: Hex, proof: readonly Hex[]): Promise<boolean>;
  attestQuality(validator: Signer, id: bigint, score: number, reportHash: Hex): Promise<TransactionReceipt>;
  qualityOf(id: bigint, validator: Address): Promise<Quality>;
  isAdmitted(id: bigint, sector: string): Promise<boolean>;
};

type RawDataset = {
  root: Hex;
  records: bigint;
  byteCount: bigint;
  licence: string;
  sector: string;
  manifestHash: Hex;
  contributor: Address;
  registeredAt: bigint;
};

export function dataRegistryClient(conn: ChainConnection, address: Address): DataRegistryClient {
  const abi = DataRegistry.abi;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `DataRegistry.${functionName}`, address, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, signer, { label: `DataRegistry.${functionName}`, address, abi, functionName, args });
  const client: DataRegistryClient = {
    address,
    domain: () => domains.dataRegistry(conn.chainId, address),
    datasetCount: () => read('datasetCount'),
    async register(relayer, a, signature) {
      const tuple = { ...a, byteCount: a.bytes };
      const receipt = await write(relayer, 'registerDataset', [tuple, signature]);
      const ev = eventArgs<{ datasetId: bigint }>(receipt, abi, 'DatasetRegistered');
      return { datasetId: ev.datasetId, receipt };
    },
    async signAndRegister(contributor, relayer, fields) {
      const block = await conn.publicClient.getBlock();
      const a: DatasetAttestation = {
        ...fields,
        contributor: contributor.address,
        deadline: fields.deadline ?? block.timestamp + 3600n,
      };
      const sig = await signDatasetAttestation(contributor, client.domain(), a);
      return client.register(relayer, a, sig);
    },
    async getDataset(id) {
      const d = await read<RawDataset>('getDataset', [id]);
      return {
        id,
        root: d.root,
        records: d.records,
        bytes: d.byteCount,
        licence: d.licence,
        sector: d.sector,
        manifestHash: d.manifestHash,
        contributor: d.contributor,
        registeredAt: d.registeredAt,
      };
    },
    datasetIdOf: (root) => read('datasetIdOf', [root]),
    verifyRecord: (id, index, contentHash, proof) => read('verifyRecord', [id, index, contentHash, proof]),
    attestQuality: (validator, id, score, reportHash) =>
      write(validator, 'attestQuality', [id, score, reportHash]),
    async qualityOf(id, validator) {
      const q = await read<{ score: number; attestedAt: number; reportHash: Hex }>('qualityOf', [
        id,
        validator,
      ]);
      return { score: Number(q.score), attestedAt: Number(q.attestedAt), reportHash: q.reportHash };
    },
    isAdmitted: (id, sector) => read('isAdmitted', [id, sector]),
  };
  return client;
}
