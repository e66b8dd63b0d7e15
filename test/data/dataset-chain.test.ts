import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { verifyTypedData } from 'ethers';
import type { Address, Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { signDatasetAttestation } from '../../src/chain/typed-data.ts';
import { checkAttestationSignature } from '../../src/data/attestation.ts';
import {
  prepareDataset,
  proveRecord,
  registerDataset,
  showDataset,
  verifyRecordProof,
} from '../../src/data/dataset.ts';
import { recordBytes } from '../../src/data/records.ts';
import { loadDataset, loadHashes } from '../../src/data/store.ts';

describe('datasets on the embedded chain: file → manifest → chain → proof → verify', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  let registry: Address;
  const home = mkdtempSync(join(tmpdir(), 'agora-data-'));
  const src = join(home, 'src');
  const alice = devnetAccount(3);
  const bob = devnetAccount(4);
  let idA: bigint;
  let idB: bigint;

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    const d = await deployProtocol(conn, devnetAccount(0));
    registry = d.contracts.DataRegistry!;
    writeFileSync(
      `${src}-a.jsonl`,
      Array.from({ length: 37 }, (_, i) => JSON.stringify({ text: `sample ${i}`, label: i % 3 })).join('\n'),
    );
    writeFileSync(`${src}-b.csv`, 'x,y\n1,2\n3,4\n"5,5",6\n');
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('registers a dataset and stores manifest, hashes and the signed attestation', async () => {
    const prepared = prepareDataset({ path: `${src}-a.jsonl`, licence: 'cc-by-4.0', sector: 'text' });
    expect(prepared.manifest.licence).toBe('CC-BY-4.0');
    const r = await registerDataset({
      conn,
      registry,
      contributor: alice,
      home,
      prepared,
      source: { path: `${src}-a.jsonl`, format: 'jsonl' },
    });
    idA = r.datasetId;
    expect(r.records).toBe(37);
    const onChain = await dataRegistryClient(conn, registry).getDataset(idA);
    expect(onChain).toMatchObject({ root: r.root, records: 37n, licence: 'CC-BY-4.0', sector: 'text' });
    expect(onChain.contributor).toBe(alice.address);
    expect(onChain.manifestHash).toBe(prepared.manifestHash);
    const local = loadDataset(home, r.root, conn.chainId, registry)!;
    expect(local.registration?.datasetId).toBe(idA.toString());
    expect(loadHashes(local).length).toBe(37 * 32);

    const b = prepareDataset({ path: `${src}-b.csv`, licence: 'MIT', sector: 'general' });
    expect(b.records.count).toBe(3);
    idB = (
      await registerDataset({
        conn,
        registry,
        contributor: bob,
        home,
        prepared: b,
        source: { path: `${src}-b.csv`, format: 'csv' },
      })
    ).datasetId;
    expect(idB).toBe(idA + 1n);
  });

  it('shows the attestation as typed data that ethers verifyTypedData checks', async () => {
    const s = await showDataset({ conn, registry, home, datasetId: idA });
    expect(s).toMatchObject({
      datasetId: idA.toString(),
      records: 37,
      licence: 'CC-BY-4.0',
      contributor: alice.address,
    });
    const { domain, types, message, signature } = s.attestation;
    expect(verifyTypedData(domain, types, message, signature)).toBe(alice.address);
    // and from the registration tx alone (another home has no local copy)
    const other = await showDataset({
      conn,
      registry,
      home: mkdtempSync(join(tmpdir(), 'agora-x-')),
      datasetId: idA,
    });
    expect(other.attestationSource).toBe('chain');
    expect(other.attestation.signature).toBe(signature);
  });

  it('rejects a forged attestation signature, off-chain and on-chain', async () => {
    const s = await showDataset({ conn, registry, home, datasetId: idA });
    const forged = await signDatasetAttestation(bob, s.attestation.domain, {
      ...s.attestation.message,
      records: 37n,
      bytes: BigInt(s.attestation.message.bytes),
      deadline: BigInt(s.attestation.message.deadline),
    });
    await expect(checkAttestationSignature(s.attestation, forged)).rejects.toThrow(
      /signed by 0x[0-9a-fA-F]{40}, not by its contributor/,
    );
    // A fresh dataset claiming alice as contributor but signed by bob: the registry refuses it.
    const reg = dataRegistryClient(conn, registry);
    const block = await conn.publicClient.getBlock();
    const a = {
      root: `0x${'ab'.repeat(32)}` as Hex,
      records: 1n,
      bytes: 1n,
      licence: 'MIT',
      sector: 'text',
      manifestHash: `0x${'cd'.repeat(32)}` as Hex,
      contributor: alice.address,
      deadline: block.timestamp + 600n,
    };
    const sig = await signDatasetAttestation(bob, reg.domain(), a);
    await expect(reg.register(walletClientFor(conn, bob), a, sig)).rejects.toThrow(/WrongSigner/);
  });

  it('refuses a duplicate dataset before sending anything', async () => {
    const reg = dataRegistryClient(conn, registry);
    const before = await reg.datasetCount();
    const sent = await conn.publicClient.getTransactionCount({ address: bob.address });
    const again = prepareDataset({ path: `${src}-a.jsonl`, licence: 'MIT', sector: 'text' });
    await expect(
      registerDataset({
        conn,
        registry,
        contributor: bob,
        home,
        prepared: again,
        source: { path: '', format: 'jsonl' },
      }),
    ).rejects.toThrow(new RegExp(`already registered as dataset ${idA}`));
    expect(await reg.datasetCount()).toBe(before);
    expect(await conn.publicClient.getTransactionCount({ address: bob.address })).toBe(sent);
  });

  it('proves a record and verifies it locally, on-chain and against its bytes', async () => {
    const p = await proveRecord({ conn, registry, home, datasetId: idA, index: 5 });
    const record = recordBytes(`${src}-a.jsonl`, 5);
    const ok = await verifyRecordProof({ conn, registry, proof: p, record });
    expect(ok).toMatchObject({ valid: true, local: true, onChain: true, recordMatches: true, problems: [] });
  });

  it('OZ merkle-tree proofs over the same leaves pass DataRegistry.verifyRecord', async () => {
    const local = loadDataset(home, (await dataRegistryClient(conn, registry).getDataset(idA)).root)!;
    const hashes = loadHashes(local);
    const values = Array.from({ length: 37 }, (_, i) => [
      i,
      `0x${Buffer.from(hashes.subarray(i * 32, i * 32 + 32)).toString('hex')}`,
    ]);
    const oz = StandardMerkleTree.of(values, ['uint256', 'bytes32']);
    expect(oz.root).toBe(local.manifest.root);
    const reg = dataRegistryClient(conn, registry);
    for (const i of [0, 17, 36]) {
      expect(await reg.verifyRecord(idA, BigInt(i), values[i][1] as Hex, oz.getProof(i) as Hex[])).toBe(true);
    }
  });

  it('rejects a tampered record, a wrong index and a proof for another dataset, saying why', async () => {
    const p = await proveRecord({ conn, registry, home, datasetId: idA, index: 5 });
    const tampered = new TextEncoder().encode('{"text":"sample 5","label":0}');
    const r1 = await verifyRecordProof({ conn, registry, proof: p, record: tampered });
    expect(r1.valid).toBe(false);
    expect(r1.problems.join('\n')).toMatch(/tampered record/);

    const r2 = await verifyRecordProof({ conn, registry, proof: { ...p, index: 6 } });
    expect(r2).toMatchObject({ valid: false, local: false, onChain: false });
    expect(r2.problems.join('\n')).toMatch(/does not lead from record 6/);

    const r3 = await verifyRecordProof({ conn, registry, proof: { ...p, datasetId: idB.toString() } });
    expect(r3).toMatchObject({ valid: false, local: true, onChain: false });
    expect(r3.problems.join('\n')).toMatch(/another dataset/);

    await expect(proveRecord({ conn, registry, home, datasetId: idA, index: 37 })).rejects.toThrow(
      /out of range/,
    );
    await expect(proveRecord({ conn, registry, home, datasetId: 99n, index: 0 })).rejects.toThrow(
      /not registered/,
    );
  });
});
