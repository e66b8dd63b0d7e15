import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { getAddress, type Hex, keccak256, toHex } from 'viem';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataRegistry } from '../../artifacts/index.ts';
import { buildMerkleTree, recordLeaf } from '../../src/chain/merkle.ts';
import {
  DATASET_ATTESTATION_TYPES,
  type DatasetAttestation,
  domains,
  signDatasetAttestation,
} from '../../src/chain/typed-data.ts';
import { expectRevert, type Fixture, h, startFixture } from './fixture.ts';

describe('DataRegistry', () => {
  let f: Fixture;
  let snap: Hex;
  beforeAll(async () => {
    f = await startFixture();
    snap = await f.snapshot();
  });
  afterAll(async () => f?.stop());
  beforeEach(async () => {
    await f.revert(snap);
    snap = await f.snapshot();
  });

  async function attestation(contributorIdx: number, root: Hex, over: Partial<DatasetAttestation> = {}) {
    const c = f.accounts[contributorIdx];
    return {
      root,
      records: 1000n,
      bytes: 123456n,
      licence: 'CC-BY-4.0',
      sector: 'vision',
      manifestHash: h(`manifest:${root}`),
      contributor: c.address,
      deadline: (await f.now()) + 3600n,
      ...over,
    } satisfies DatasetAttestation;
  }

  it('registers a relayed attestation; the signer becomes the contributor; ids start at 1', async () => {
    const a = await attestation(1, h('root-1'));
    const sig = await signDatasetAttestation(f.accounts[1], f.registry.domain(), a);
    const { datasetId, receipt } = await f.registry.register(f.signers[2], a, sig); // relayed by account 2
    expect(datasetId).toBe(1n);
    // first use of a (licence, sector) pair interns it once; later registrations are cheap
    expect(receipt.gasUsed).toBeLessThan(300_000n);
    const d = await f.registry.getDataset(1n);
    expect(d).toMatchObject({
      root: a.root,
      records: 1000n,
      bytes: 123456n,
      licence: 'CC-BY-4.0',
      sector: 'vision',
      manifestHash: a.manifestHash,
      contributor: f.accounts[1].address,
    });
    expect(d.registeredAt).toBeGreaterThan(0n);
    expect(await f.registry.datasetIdOf(a.root)).toBe(1n);
    expect(await f.registry.datasetIdOf(h('unknown'))).toBe(0n);
    expect(await f.registry.datasetCount()).toBe(1n);
    // second dataset by the same contributor, new strings
    const b = await attestation(1, h('root-2'), { licence: 'MIT', sector: 'text' });
    const r2 = await f.registry.register(
      f.signers[1],
      b,
      await signDatasetAttestation(f.accounts[1], f.registry.domain(), b),
    );
    expect(r2.datasetId).toBe(2n);
    expect((await f.registry.getDataset(2n)).licence).toBe('MIT');
    expect((await f.registry.getDataset(1n)).licence).toBe('CC-BY-4.0');
    // steady state: a returning contributor with known terms stays under the 150k target,
    // and the cost does not depend on the record count
    const gas: bigint[] = [];
    for (const records of [1n, 1_000_000_000n]) {
      const c = await attestation(1, h(`root-records-${records}`), { records });
      const r = await f.registry.register(
        f.signers[0],
        c,
        await signDatasetAttestation(f.accounts[1], f.registry.domain(), c),
      );
      gas.push(r.receipt.gasUsed);
    }
    expect(gas[0]).toBeLessThan(150_000n);
    expect(gas[1] - gas[0]).toBeLessThan(100n); // only calldata bytes differ
  });

  it("a contributor's first dataset costs the same as a returning one, under 150k gas", async () => {
    // account 1 interns the (licence, sector) pair; account 2 then registers its first and second dataset
    const sign = async (i: number, root: Hex) => {
      const a = await attestation(i, root);
      return f.registry.register(
        f.signers[0],
        a,
        await signDatasetAttestation(f.accounts[i], f.registry.domain(), a),
      );
    };
    await sign(1, h('terms'));
    const first = (await sign(2, h('first'))).receipt.gasUsed;
    const returning = (await sign(2, h('returning'))).receipt.gasUsed;
    expect(first).toBeLessThan(150_000n);
    expect(returning).toBeLessThan(150_000n);
    // no per-contributor storage: a fresh slot on the first dataset would add ~20k here
    const diff = first > returning ? first - returning : returning - first;
    expect(diff).toBeLessThan(1_000n);
  });

  it('the client signs exactly the contract type (no nonce)', async () => {
    const fields = DATASET_ATTESTATION_TYPES.DatasetAttestation.map((x) => `${x.type} ${x.name}`);
    const typeString = `DatasetAttestation(${fields.join(',')})`;
    expect(typeString).toBe(
      'DatasetAttestation(bytes32 root,uint64 records,uint64 bytes,string licence,string sector,bytes32 manifestHash,address contributor,uint256 deadline)',
    );
    const onChain = await f.conn.publicClient.readContract({
      address: f.registry.address,
      abi: DataRegistry.abi,
      functionName: 'ATTESTATION_TYPEHASH',
    });
    expect(onChain).toBe(keccak256(toHex(typeString)));
    const names = (DataRegistry.abi as readonly { type: string; name?: string }[]).map((x) => x.name);
    expect(names).not.toContain('nonces');
  });

  it('signAndRegister signs as the contributor and relays', async () => {
    const { datasetId } = await f.registry.signAndRegister(f.accounts[3], f.signers[0], {
      root: h('r3'),
      records: 5n,
      bytes: 50n,
      licence: 'MIT',
      sector: 'general',
      manifestHash: h('m3'),
    });
    expect((await f.registry.getDataset(datasetId)).contributor).toBe(f.accounts[3].address);
  });

  it('rejects a signature by anyone but the contributor', async () => {
    const a = await attestation(1, h('root-x'));
    const sig = await signDatasetAttestation(f.accounts[2], f.registry.domain(), a);
    await expectRevert(f.registry.register(f.signers[2], a, sig), 'WrongSigner');
  });

  it('refuses a replayed or re-relayed attestation: its root is already registered', async () => {
    const a = await attestation(1, h('root-a'));
    const sig = await signDatasetAttestation(f.accounts[1], f.registry.domain(), a);
    await f.registry.register(f.signers[1], a, sig);
    const before = await f.registry.getDataset(1n);
    // the exact attestation again, by the same relayer and by another one
    await expectRevert(f.registry.register(f.signers[1], a, sig), 'DuplicateRoot');
    await expectRevert(f.registry.register(f.signers[3], a, sig), 'DuplicateRoot');
    // a fresh signature by the contributor over the same root with other terms and a later deadline
    const resigned = { ...a, licence: 'MIT', records: 1n, deadline: a.deadline + 60n };
    await expectRevert(
      f.registry.register(
        f.signers[3],
        resigned,
        await signDatasetAttestation(f.accounts[1], f.registry.domain(), resigned),
      ),
      'DuplicateRoot',
    );
    // another contributor claiming the same root
    const other = await attestation(2, h('root-a'));
    await expectRevert(
      f.registry.register(
        f.signers[2],
        other,
        await signDatasetAttestation(f.accounts[2], f.registry.domain(), other),
      ),
      'DuplicateRoot',
    );
    expect(await f.registry.datasetCount()).toBe(1n);
    expect(await f.registry.getDataset(1n)).toEqual(before);
  });

  it('refuses a signature over different fields, another chain or another registry', async () => {
    const b = await attestation(1, h('root-d'));
    const good = await signDatasetAttestation(f.accounts[1], f.registry.domain(), b);
    // every signed field is bound: changing any one of them breaks the signature
    const tampered: Partial<DatasetAttestation>[] = [
      { root: h('root-other') },
      { records: b.records + 1n },
      { bytes: b.bytes + 1n },
      { licence: 'MIT' },
      { sector: 'text' },
      { manifestHash: h('other-manifest') },
      { contributor: f.accounts[2].address },
      { deadline: b.deadline + 3600n },
    ];
    for (const over of tampered) {
      await expectRevert(f.registry.register(f.signers[1], { ...b, ...over }, good), 'WrongSigner');
    }
    // signed for another chain or another registry deployment
    const otherChain = await signDatasetAttestation(
      f.accounts[1],
      domains.dataRegistry(1, f.registry.address),
      b,
    );
    await expectRevert(f.registry.register(f.signers[1], b, otherChain), 'WrongSigner');
    const otherAddr = await signDatasetAttestation(
      f.accounts[1],
      domains.dataRegistry(f.conn.chainId, f.addr('ComputeMarket')),
      b,
    );
    await expectRevert(f.registry.register(f.signers[1], b, otherAddr), 'WrongSigner');
    expect(await f.registry.datasetCount()).toBe(0n);
    // the untampered attestation still registers
    const { datasetId } = await f.registry.register(f.signers[1], b, good);
    expect((await f.registry.getDataset(datasetId)).root).toBe(b.root);
  });

  it("a contributor's outstanding attestations register independently, in any order", async () => {
    const b = await attestation(1, h('root-b'));
    const c = await attestation(1, h('root-c'));
    const sigB = await signDatasetAttestation(f.accounts[1], f.registry.domain(), b);
    const sigC = await signDatasetAttestation(f.accounts[1], f.registry.domain(), c);
    expect((await f.registry.register(f.signers[2], c, sigC)).datasetId).toBe(1n);
    expect((await f.registry.register(f.signers[3], b, sigB)).datasetId).toBe(2n);
    expect(await f.registry.datasetIdOf(b.root)).toBe(2n);
    expect(await f.registry.datasetIdOf(c.root)).toBe(1n);
  });

  it('accepts ERC-1271 contract-wallet contributors', async () => {
    const { MockERC1271Wallet } = await import('../../artifacts/index.ts');
    const { deployContract } = await import('../../src/chain/deploy-contract.ts');
    const wallet = getAddress(
      await deployContract(f.conn.publicClient, f.signers[5], MockERC1271Wallet, [f.accounts[5].address]),
    );
    const a = { ...(await attestation(5, h('root-1271'))), contributor: wallet };
    const byOwner = await signDatasetAttestation(f.accounts[5], f.registry.domain(), a);
    const byOther = await signDatasetAttestation(f.accounts[6], f.registry.domain(), a);
    await expectRevert(f.registry.register(f.signers[6], a, byOther), 'WrongSigner');
    const { datasetId } = await f.registry.register(f.signers[6], a, byOwner);
    expect((await f.registry.getDataset(datasetId)).contributor).toBe(wallet);
    await expectRevert(f.registry.register(f.signers[7], a, byOwner), 'DuplicateRoot');
  });

  it('refuses an attestation relayed after its deadline', async () => {
    // signed while valid, relayed too late
    const a = await attestation(1, h('root-late'), { deadline: (await f.now()) + 60n });
    const sig = await signDatasetAttestation(f.accounts[1], f.registry.domain(), a);
    await f.increaseTime(120);
    await expectRevert(f.registry.register(f.signers[2], a, sig), 'AttestationExpired');
    // pushing the deadline out without the contributor re-signing breaks the signature
    await expectRevert(
      f.registry.register(f.signers[2], { ...a, deadline: (await f.now()) + 3600n }, sig),
      'WrongSigner',
    );
    expect(await f.registry.datasetIdOf(a.root)).toBe(0n);
  });

  it('rejects expired and empty attestations', async () => {
    const a = await attestation(1, h('root-e'), { deadline: (await f.now()) - 1n });
    await expectRevert(
      f.registry.register(
        f.signers[1],
        a,
        await signDatasetAttestation(f.accounts[1], f.registry.domain(), a),
      ),
      'AttestationExpired',
    );
    const z = await attestation(1, `0x${'00'.repeat(32)}`);
    await expectRevert(
      f.registry.register(
        f.signers[1],
        z,
        await signDatasetAttestation(f.accounts[1], f.registry.domain(), z),
      ),
      'EmptyAttestation',
    );
  });

  it('verifies records against the root with StandardMerkleTree-compatible leaves', async () => {
    const n = 37;
    const values: [bigint, Hex][] = Array.from({ length: n }, (_, i) => [
      BigInt(i),
      keccak256(toHex(`rec${i}`)),
    ]);
    const ours = buildMerkleTree(values.map(([i, c]) => recordLeaf(i, c)));
    const oz = StandardMerkleTree.of(
      values.map(([i, c]) => [i.toString(), c]),
      ['uint256', 'bytes32'],
    );
    expect(ours.root).toBe(oz.root);
    const a = await attestation(4, ours.root, { records: BigInt(n) });
    const { datasetId } = await f.registry.register(
      f.signers[4],
      a,
      await signDatasetAttestation(f.accounts[4], f.registry.domain(), a),
    );
    for (const i of [0, 17, 36]) {
      expect(await f.registry.verifyRecord(datasetId, BigInt(i), values[i][1], ours.proof(i))).toBe(true);
      expect(ours.proof(i)).toEqual(oz.getProof(i));
    }
    expect(await f.registry.verifyRecord(datasetId, 1n, values[0][1], ours.proof(0))).toBe(false);
    expect(await f.registry.verifyRecord(datasetId, 0n, h('forged'), ours.proof(0))).toBe(false);
    await expectRevert(f.registry.verifyRecord(99n, 0n, values[0][1], ours.proof(0)), 'UnknownDataset');
  });

  it('accepts quality attestations only from approved validators', async () => {
    const { datasetId } = await f.registry.signAndRegister(f.accounts[1], f.signers[1], {
      root: h('q'),
      records: 1n,
      bytes: 1n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('qm'),
    });
    await expectRevert(f.registry.attestQuality(f.signers[1], datasetId, 9000, h('report')), 'NotValidator');
    const v = f.signers[19];
    await expectRevert(f.registry.attestQuality(v, datasetId, 10_001, h('report')), 'ScoreOutOfRange');
    await expectRevert(f.registry.attestQuality(v, 42n, 1, h('report')), 'UnknownDataset');
    await f.registry.attestQuality(v, datasetId, 9000, h('report'));
    const q = await f.registry.qualityOf(datasetId, f.validator.address);
    expect(q.score).toBe(9000);
    expect(q.reportHash).toBe(h('report'));
  });

  it('sector admission is governance-only', async () => {
    const { datasetId } = await f.registry.signAndRegister(f.accounts[1], f.signers[1], {
      root: h('s'),
      records: 1n,
      bytes: 1n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('sm'),
    });
    const { DataRegistry } = await import('../../artifacts/index.ts');
    const { sendTx } = await import('../../src/chain/tx.ts');
    await expectRevert(
      sendTx(f.conn, f.signers[0], {
        label: 'DataRegistry.admitToSector',
        address: f.registry.address,
        abi: DataRegistry.abi,
        functionName: 'admitToSector',
        args: [datasetId, 'vision'],
      }),
      'NotGovernance',
    );
    expect(await f.registry.isAdmitted(datasetId, 'vision')).toBe(false);
  });
});
