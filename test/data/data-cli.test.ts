import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyTypedData } from 'ethers';
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChain } from '../../src/chain/connect.ts';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { writeDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { recordBytes } from '../../src/data/records.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

/** A tiny IDX pair: n images of 4×3 u8 and n u8 labels. */
function writeIdxPair(dir: string, n: number): [string, string] {
  const img = Buffer.alloc(4 + 12 + n * 12);
  img.set([0, 0, 0x08, 3]);
  img.writeUInt32BE(n, 4);
  img.writeUInt32BE(4, 8);
  img.writeUInt32BE(3, 12);
  for (let i = 0; i < n * 12; i++) img[16 + i] = (i * 7) & 255;
  const lab = Buffer.alloc(8 + n);
  lab.set([0, 0, 0x08, 1]);
  lab.writeUInt32BE(n, 4);
  for (let i = 0; i < n; i++) lab[8 + i] = i % 10;
  const a = join(dir, 'images-idx3-ubyte');
  const b = join(dir, 'labels-idx1-ubyte');
  writeFileSync(a, img);
  writeFileSync(b, lab);
  return [a, b];
}

describe('agora data (CLI, separate processes, embedded chain over HTTP)', () => {
  let chain: EmbeddedChain;
  let registry: Address;
  const home = tempHome('agora-data-cli-');
  let idx: string;
  let common: string[];
  const env = { AGORA_PASSWORD: 'unused-here' };
  const count = async () => {
    const conn = await connectChain({ rpcUrl: chain.url });
    return dataRegistryClient(conn, registry).datasetCount();
  };

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0 });
    const conn = await connectChain({ rpcUrl: chain.url });
    const d = await deployProtocol(conn, devnetAccount(0));
    writeDeployment(home, d);
    registry = d.contracts.DataRegistry!;
    idx = writeIdxPair(home, 25).join(',');
    common = ['--rpc', chain.url!, '--home', home];
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('data add registers an IDX pair and prints the agreed JSON; progress goes to stderr', async () => {
    const r = await runCli(
      [
        'data',
        'add',
        idx,
        '--licence',
        'MIT',
        '--sector',
        'vision',
        '--devnet-account',
        '2',
        '--json',
        ...common,
      ],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(['datasetId', 'records', 'root', 'txHash']);
    expect(out).toMatchObject({ datasetId: '1', records: 25 });
    expect(r.stderr).toMatch(/Merkle root 0x/);
  });

  it('data show prints typed data that ethers verifies as the contributor', async () => {
    const r = await runCli(['data', 'show', '1', '--json', ...common]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ datasetId: '1', records: 25, licence: 'MIT', sector: 'vision' });
    expect(s.contributor).toBe(devnetAccount(2).address);
    const { domain, types, primaryType, message, signature } = s.attestation;
    expect(primaryType).toBe('DatasetAttestation');
    expect(verifyTypedData(domain, types, message, signature)).toBe(devnetAccount(2).address);
  });

  it('data prove + data verify (with --record) accept a real record and reject a tampered one', async () => {
    const p = await runCli(['data', 'prove', '1', '7', '--json', ...common]);
    expect(p.code, p.stderr).toBe(0);
    const proof = JSON.parse(p.stdout);
    expect(proof).toMatchObject({ datasetId: '1', index: 7 });
    const proofFile = join(home, 'proof.json');
    writeFileSync(proofFile, p.stdout);
    const recFile = join(home, 'record7.bin');
    const rec = recordBytes(idx, 7);
    expect(rec.length).toBe(16); // label u32le + 12 image bytes
    writeFileSync(recFile, rec);
    const ok = await runCli(['data', 'verify', proofFile, '--record', recFile, '--json', ...common]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      valid: true,
      local: true,
      onChain: true,
      recordMatches: true,
    });

    rec[12] ^= 1; // flip the label
    writeFileSync(recFile, rec);
    const bad = await runCli(['data', 'verify', proofFile, '--record', recFile, ...common]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/tampered record/);

    writeFileSync(proofFile, JSON.stringify({ ...proof, index: 8 }));
    const wrong = await runCli(['data', 'verify', proofFile, ...common]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/does not lead from record 8/);
    expect(wrong.stderr).toMatch(/verifyRecord rejects/);
  });

  it('bad input registers nothing and says why', async () => {
    const before = await count();
    const licence = await runCli(
      ['data', 'add', idx, '--licence', 'MIT-ish', '--sector', 'vision', '--devnet-account', '2', ...common],
      { env },
    );
    expect(licence.code).toBe(1);
    expect(licence.stderr).toMatch(/"MIT-ish" is not a known SPDX licence identifier/);

    const jsonl = join(home, 'bad.jsonl');
    writeFileSync(jsonl, '{"a":1}\n{"a":\n');
    const badFile = await runCli(
      ['data', 'add', jsonl, '--licence', 'MIT', '--sector', 'text', '--devnet-account', '2', ...common],
      { env },
    );
    expect(badFile.code).toBe(1);
    expect(badFile.stderr).toMatch(/bad\.jsonl line 2 is not valid JSON/);

    const dup = await runCli(
      [
        'data',
        'add',
        idx,
        '--licence',
        'Apache-2.0',
        '--sector',
        'vision',
        '--devnet-account',
        '3',
        ...common,
      ],
      { env },
    );
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/already registered as dataset 1/);

    const noWallet = await runCli(['data', 'add', idx, '--licence', 'MIT', '--sector', 'vision', ...common], {
      env,
    });
    expect(noWallet.code).toBe(1);
    expect(noWallet.stderr).toMatch(/no wallet in/);

    expect(await count()).toBe(before);
  });
});
