/**
 * The whole protocol through the typed clients, as a swarm uses it: datasets → job → joins → co-signed
 * rounds → close → reward split (providers, data contributors, validator) → claims, then provenance from
 * the final model hash back to a single training record.
 */
import { encodeAbiParameters, type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingLedger } from '../../artifacts/index.ts';
import { buildMerkleTree, buildRewardTree, recordLeaf, standardLeaf } from '../../src/chain/merkle.ts';
import { type RoundRecord, roundRecordLeaf, roundRecordsTree } from '../../src/chain/round-record.ts';
import { readTx } from '../../src/chain/tx.ts';
import { type Fixture, h, REQUESTER, STAKE, startFixture } from './fixture.ts';

describe('protocol lifecycle through the clients', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
  });
  afterAll(async () => f?.stop());

  it('trains a job end to end and traces the final model back to a dataset record', async () => {
    // 1. two contributors register datasets (relayed by account 0)
    const contents = Array.from({ length: 16 }, (_, i) => h(`record ${i}`));
    const dsTree = buildMerkleTree(contents.map((c, i) => recordLeaf(BigInt(i), c)));
    const ds1 = await f.registry.signAndRegister(f.accounts[11], f.signers[0], {
      root: dsTree.root,
      records: 16n,
      bytes: 16n * 784n,
      licence: 'MIT',
      sector: 'vision',
      manifestHash: h('manifest-1'),
    });
    const ds2 = await f.registry.signAndRegister(f.accounts[12], f.signers[0], {
      root: h('other dataset'),
      records: 100n,
      bytes: 1000n,
      licence: 'CC-BY-4.0',
      sector: 'vision',
      manifestHash: h('manifest-2'),
    });
    await f.registry.attestQuality(f.signers[19], ds1.datasetId, 9_500, h('quality report'));

    // 2. three providers stake; the requester posts a 3-worker, 2-round job over both datasets
    const workers = [1, 2, 3];
    for (const w of workers) {
      await f.token.ensureAllowance(f.signers[w], f.market.address, STAKE);
      await f.market.registerProvider(f.signers[w], h(`gpu ${w}`), parseEther('2'), STAKE);
    }
    const price = parseEther('2');
    const { escrow, fee } = await f.market.quote(price, 2, 3);
    await f.token.ensureAllowance(f.signers[REQUESTER], f.market.address, escrow + fee);
    const now = await f.now();
    const { jobId } = await f.market.createJob(f.signers[REQUESTER], {
      modelSpecHash: h('mlp 784-128-10'),
      datasetIds: [ds1.datasetId, ds2.datasetId],
      workers: 3,
      innerSteps: 100,
      rounds: 2,
      pricePerRound: price,
      joinDeadline: now + 600n,
      completionDeadline: now + 3600n,
      challengePeriod: 60n,
    });
    for (const w of workers) await f.market.joinJob(f.signers[w], jobId);
    expect((await f.market.getJob(jobId)).state).toBe('Running');

    // 3. each round: every worker reports a record; 2 of 3 co-sign the records root and model hash
    const sampleLeaf = (datasetId: bigint, index: bigint) =>
      standardLeaf(encodeAbiParameters([{ type: 'uint256' }, { type: 'uint256' }], [datasetId, index]));
    const samplesOf = (w: number) =>
      buildMerkleTree([0n, 1n, 2n, 3n].map((k) => sampleLeaf(ds1.datasetId, BigInt(w) * 4n + k)));
    const recordsByRound: RoundRecord[][] = [];
    for (const round of [0n, 1n]) {
      const recs: RoundRecord[] = workers.map((w) => ({
        jobId,
        round,
        worker: f.accounts[w].address,
        pseudoGradientHash: h(`delta ${w} ${round}`),
        sampleRoot: samplesOf(w).root,
        lossBefore: 2_300_000n - round * 500_000n,
        lossAfter: 1_800_000n - round * 500_000n,
        samples: 4n,
      }));
      recordsByRound.push(recs);
      const root = roundRecordsTree(recs).root;
      const modelHash = h(`checkpoint after round ${round}`);
      const sigs = await Promise.all(
        [1, 3].map((w) => f.ledger.signRoundCommit(f.accounts[w], jobId, round, root, modelHash)),
      );
      await f.ledger.commitRound(f.signers[2], jobId, round, root, modelHash, sigs);
    }

    // 4. close: the escrow moves to the ledger; the reward split is co-signed and claimed
    await f.ledger.closeJob(f.signers[REQUESTER], jobId);
    const l = await f.ledger.getJobLedger(jobId);
    expect(l.funded).toBe(escrow);
    const contributor1 = (await f.registry.getDataset(ds1.datasetId)).contributor;
    const split = buildRewardTree([
      ...workers.map((w) => ({ account: f.accounts[w].address, amount: (escrow * 25n) / 100n })), // 75% providers
      { account: contributor1, amount: (escrow * 20n) / 100n }, // 20% data
      { account: f.validator.address, amount: (escrow * 5n) / 100n }, // 5% validator
    ]);
    expect(split.total).toBe(escrow);
    const rsigs = await Promise.all(
      workers.map((w) => f.ledger.signRewardRoot(f.accounts[w], jobId, split.root, split.total)),
    );
    await f.ledger.postRewardRoot(f.signers[0], jobId, split.root, split.total, rsigs);
    const before = await f.token.balanceOf(contributor1);
    for (const e of split.entries) await f.ledger.claimFromTree(f.signers[0], jobId, split, e.account);
    expect(await f.token.balanceOf(contributor1)).toBe(before + (escrow * 20n) / 100n);
    expect(await f.token.balanceOf(f.ledger.address)).toBe(0n);

    // 5. provenance: final model → last round → worker 2's record → its samples → a dataset record
    const finalHash: Hex = await f.ledger.finalModelHash(jobId);
    expect(finalHash).toBe(h('checkpoint after round 1'));
    const last = await f.ledger.getRound(jobId, 1n);
    expect(last.modelHash).toBe(finalHash);
    const rec = recordsByRound[1][1];
    const tree = roundRecordsTree(recordsByRound[1]);
    expect(
      await readTx<boolean>(f.conn, {
        label: 'verifyRoundRecord',
        address: f.ledger.address,
        abi: TrainingLedger.abi,
        functionName: 'verifyRoundRecord',
        args: [jobId, 1n, roundRecordLeaf(rec), tree.proof(1)],
      }),
    ).toBe(true);
    const sampleIdx = 2 * 4 + 1; // worker 2 trained on dataset records 8..11
    expect(samplesOf(2).leaves).toContain(sampleLeaf(ds1.datasetId, BigInt(sampleIdx)));
    expect(
      await f.registry.verifyRecord(
        ds1.datasetId,
        BigInt(sampleIdx),
        contents[sampleIdx],
        dsTree.proof(sampleIdx),
      ),
    ).toBe(true);
    expect(await f.market.datasetsOf(jobId)).toEqual([ds1.datasetId, ds2.datasetId]);
  });
});
