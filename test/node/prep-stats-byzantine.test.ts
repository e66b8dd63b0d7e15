/**
 * A provider that lies about its swarm statistics before round 0 (its counts, sums and squares
 * scaled by 1.5, signed) in a tabular devnet job (the node daemons in one process,
 * src/node/devnet-job.ts): the validator recomputes sampled chunks of its statistics from its
 * registered records (src/node/prep-checks.ts), files a fraud report for round 0, and the provider
 * is slashed and unpaid while the honest providers finish the job.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type DevnetJobRun, devnetJobOnFreshChain, expectSlashedAndUnpaid } from '../helpers/devnet-job.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/household-energy.csv');

describe('tabular devnet job with a provider that lies about its swarm statistics', () => {
  let run: DevnetJobRun;
  const liar = devnetAccount(4).address; // provider-4

  beforeAll(async () => {
    run = await devnetJobOnFreshChain({
      task: 'tabular',
      data: CSV,
      label: 'kwh',
      shards: 'iid',
      H: 10,
      rounds: 3,
      lieAboutStats: 1,
    });
  }, 300_000);
  afterAll(async () => run?.chain.stop());

  it('is reported for round 0, slashed and unpaid; the others finish and the model still trains', async () => {
    await expectSlashedAndUnpaid(run, liar, 0, 3);
    const { res } = run;
    expect(res.metric).toBe('rmse');
    expect(res.better).toBe('lower');
    expect(Number.isFinite(res.value)).toBe(true);
  });
});
