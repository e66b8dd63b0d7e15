import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, type Hex, keccak256, parseEther, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { dataRegistryClient } from '../../src/chain/data-registry.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { type Deployment, writeDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import {
  buildProvenanceReport,
  type ProvenanceManifest,
  provenanceMarkdown,
  provenanceRecord,
  roundRecordsRoot,
} from '../../src/data/provenance.ts';
import { findJobByModelHash, readChainFacts } from '../../src/data/provenance-chain.ts';
import { writeProvenanceManifest } from '../../src/data/store.ts';
import type { SamplePair } from '../../src/data/usage.ts';
import { checkpointHash } from '../../src/train/checkpoint/hash.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

describe('model provenance: checkpoint → job → rounds → datasets (rounds committed directly to TrainingLedger)', () => {
  let chain: EmbeddedChain;
  let conn: ChainConnection;
  let d: Deployment;
  let contracts: { TrainingLedger: Address; ComputeMarket: Address; DataRegistry: Address };
  let manifest: ProvenanceManifest;
  const home = tempHome('agora-prov-');
  const ckpt = join(home, 'model.safetensors');
  const requester = devnetAccount(1);
  const contributors = [devnetAccount(5), devnetAccount(6)];
  const workers = [devnetAccount(7), devnetAccount(8)];
  let jobId: bigint;
  let finalHash: Hex;

  beforeAll(async () => {
    chain = await startEmbeddedChain({ port: 0 });
    conn = await connectChain({ provider: chain.provider });
    d = await deployProtocol(conn, devnetAccount(0));
    writeDeployment(home, d);
    contracts = {
      TrainingLedger: d.contracts.TrainingLedger!,
      ComputeMarket: d.contracts.ComputeMarket!,
      DataRegistry: d.contracts.DataRegistry!,
    };
    const registry = dataRegistryClient(conn, contracts.DataRegistry);
    const ids: bigint[] = [];
    for (const [k, c] of contributors.entries()) {
      const { datasetId } = await registry.signAndRegister(c, walletClientFor(conn, c), {
        root: keccak256(toHex(`root-${k}`)),
        records: 100n,
        bytes: 1000n,
        licence: k === 0 ? 'CC-BY-4.0' : 'MIT',
        sector: 'vision',
        manifestHash: keccak256(toHex(`manifest-${k}`)),
      });
      ids.push(datasetId);
    }
    const market = computeMarketClient(conn, contracts.ComputeMarket);
    const token = tokenClient(conn, d.contracts.AgoraToken!);
    for (const w of workers) {
      const s = walletClientFor(conn, w);
      await token.ensureAllowance(s, market.address, parseEther('1000'));
      await market.registerProvider(s, keccak256(toHex('cpu')), parseEther('1'), parseEther('100'));
    }
    const rs = walletClientFor(conn, requester);
    await token.ensureAllowance(rs, market.address, parseEther('1000'));
    const now = (await conn.publicClient.getBlock()).timestamp;
    jobId = (
      await market.createJob(rs, {
        modelSpecHash: keccak256(toHex('mlp')),
        datasetIds: ids,
        workers: 2,
        innerSteps: 10,
        rounds: 2,
        pricePerRound: parseEther('1'),
        joinDeadline: now + 3600n,
        completionDeadline: now + 7200n,
        challengePeriod: 60n,
      })
    ).jobId;
    for (const w of workers) await market.joinJob(walletClientFor(conn, w), jobId);

    // Two rounds; each worker trains on some records of both datasets.
    writeFileSync(ckpt, new TextEncoder().encode('final weights (stand-in for a safetensors file)'));
    finalHash = checkpointHash(
      new TextEncoder().encode('final weights (stand-in for a safetensors file)'),
    ) as Hex;
    const ledger = trainingLedgerClient(conn, contracts.TrainingLedger);
    const rounds: ProvenanceManifest['rounds'] = [];
    for (let round = 0; round < 2; round++) {
      const records = workers.map((w, k) => {
        const pairs: SamplePair[] = [];
        for (let i = 0; i < 10; i++) pairs.push([ids[k], round * 10 + i], [ids[1 - k], 50 + i]);
        pairs.push([ids[k], round * 10]); // a repeat: counted once
        return provenanceRecord({
          worker: w.address,
          pseudoGradientHash: keccak256(toHex(`pg-${round}-${k}`)),
          lossBefore: 2_300_000n - BigInt(round) * 100_000n,
          lossAfter: 2_200_000n - BigInt(round) * 100_000n,
          samples: 21n,
          pairs,
        });
      });
      const modelHash = round === 1 ? finalHash : keccak256(toHex(`model-${round}`));
      const recordsRoot = roundRecordsRoot(jobId, round, records);
      const sigs = await Promise.all(
        workers.map((w) => ledger.signRoundCommit(w, jobId, BigInt(round), recordsRoot, modelHash)),
      );
      await ledger.commitRound(
        walletClientFor(conn, requester),
        jobId,
        BigInt(round),
        recordsRoot,
        modelHash,
        sigs,
      );
      rounds.push({ round, modelHash, records });
    }
    await ledger.closeJob(walletClientFor(conn, requester), jobId);
    manifest = {
      version: 1,
      kind: 'agora-provenance',
      chainId: conn.chainId,
      trainingLedger: contracts.TrainingLedger,
      jobId: jobId.toString(),
      modelHash: finalHash,
      datasets: await Promise.all(
        ids.map(async (id) => {
          const x = await registry.getDataset(id);
          return { datasetId: id.toString(), root: x.root, licence: x.licence };
        }),
      ),
      rounds,
    };
    writeProvenanceManifest(ckpt, manifest);
  });
  afterAll(async () => {
    await chain?.stop();
  });

  it('finds the job from the model hash alone', async () => {
    expect(await findJobByModelHash(conn, contracts.TrainingLedger, finalHash)).toEqual({ jobId });
    expect(await findJobByModelHash(conn, contracts.TrainingLedger, keccak256(toHex('model-0')))).toEqual({
      jobId,
      round: 0,
    });
    expect(
      await findJobByModelHash(conn, contracts.TrainingLedger, keccak256(toHex('nope'))),
    ).toBeUndefined();
  });

  it('reports datasets, licences, contributors and records used, and verifies every claim', async () => {
    const facts = await readChainFacts(conn, contracts, jobId);
    const r = buildProvenanceReport({
      facts,
      manifest,
      modelHash: finalHash,
      checkpoint: ckpt,
      checkpointHash: finalHash,
      verify: true,
    });
    expect(r.mismatches).toEqual([]);
    expect(r.verified).toBe(true);
    expect(r.job).toMatchObject({
      jobId: jobId.toString(),
      roundsCommitted: 2,
      closed: true,
      finalModelHash: finalHash,
    });
    expect(r.participants).toEqual(workers.map((w) => w.address));
    // dataset 1: worker 0 uses 0..9 (r0) and 10..19 (r1); worker 1 uses 50..59 both rounds
    expect(r.datasets.map((x) => [x.datasetId, x.licence, x.contributor, x.recordsUsed, x.uses])).toEqual([
      ['1', 'CC-BY-4.0', contributors[0].address, 30, 40],
      ['2', 'MIT', contributors[1].address, 30, 40],
    ]);
    expect(r.rounds.map((x) => x.samplesUsed)).toEqual([40, 40]);
    const md = provenanceMarkdown(r);
    expect(md).toMatch(/# Training-data summary for model/);
    expect(md).toMatch(/\| CC-BY-4.0 \| vision \|/);
    expect(md).toMatch(/Every claim was checked against the chain/);
  });

  it('--verify reports each tampered claim', async () => {
    const facts = await readChainFacts(conn, contracts, jobId);
    const bad: ProvenanceManifest = JSON.parse(JSON.stringify(manifest));
    bad.rounds[0].records[0].samplePairs['1'].push(99); // a sample that was not committed
    bad.rounds[1].records[1].lossAfter = '1'; // changes the round record → round root differs
    bad.datasets[1].licence = 'CC0-1.0';
    const r = buildProvenanceReport({
      facts,
      manifest: bad,
      modelHash: finalHash,
      checkpoint: null,
      checkpointHash: keccak256(toHex('other checkpoint')),
      verify: true,
    });
    expect(r.verified).toBe(false);
    const checks = r.mismatches.map((m) => `${m.check}:${m.round ?? ''}`);
    expect(checks).toContain('checkpoint:');
    expect(checks).toContain('sampleRoot:0');
    expect(checks).toContain('recordsRoot:1');
    expect(checks).toContain('dataset:');
    expect(r.mismatches.find((m) => m.check === 'dataset')?.message).toMatch(
      /licensed MIT on chain, the manifest says CC0-1.0/,
    );
  });

  it('agora model provenance (CLI) prints JSON and Markdown; --verify fails on a tampered manifest', async () => {
    const common = ['--rpc', chain.url!, '--home', home];
    const ok = await runCli(['model', 'provenance', ckpt, '--verify', '--json', ...common]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      verified: true,
      usageKnown: true,
      model: { modelHash: finalHash },
    });

    const bad: ProvenanceManifest = JSON.parse(JSON.stringify(manifest));
    bad.rounds[1].records[0].samplePairs['2'] = [0, 1, 2];
    const badPath = join(home, 'bad.provenance.json');
    writeFileSync(badPath, JSON.stringify(bad));
    const r = await runCli([
      'model',
      'provenance',
      ckpt,
      '--manifest',
      badPath,
      '--verify',
      '--md',
      ...common,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/claim\(s\) do not match the chain/);
    expect(r.stderr).toMatch(/\[sampleRoot\] round 1/);
  });
});
