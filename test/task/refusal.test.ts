/**
 * A provider refuses jobs over its bounds and jobs whose data schema its data does not satisfy,
 * with the reason in its log and its status API (real embedded chain, real daemons).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { NodeDaemon } from '../../src/node/daemon.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { postJob } from '../../src/node/post-job.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { startAll, stopAll } from '../../src/node/startable.ts';
import { NodeStore } from '../../src/node/store.ts';
import { mnistMlpPreset } from '../../src/task/presets.ts';
import { tabularSpecFromFile } from '../../src/task/tabular-spec.ts';
import { tempHome } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';

const CSV = join(import.meta.dirname, '../../examples/tabular/clinic-visits.csv');

type Status = { refused: { jobId: string; reason: string }[]; bounds: { maxParams: number } };

describe('provider bounds and data schemas', () => {
  let chain: EmbeddedChain | undefined;
  let daemons: NodeDaemon[] = [];
  afterAll(async () => {
    await stopAll(daemons);
    await chain?.stop();
  });

  it('refuses a job over its bounds and a job its data cannot serve, saying why (log + status API)', async () => {
    chain = await startEmbeddedChain();
    const conn = await connectChain({ provider: chain.provider });
    const contracts = contractsOf(await deployProtocol(conn, devnetAccount(0)));
    const home = tempHome();
    const logFile = join(home, 'nodes.log');
    const logger = createLogger({ name: 'test', level: 'info', file: logFile });
    const plan = planMnistShards(2, 5);
    const base = { home, conn, contracts, logger, pollMs: 200 };
    const small = new NodeDaemon({
      ...base,
      role: 'provider',
      name: 'small',
      account: devnetAccount(1),
      data: writeShardIdx(plan.pool, plan.shards[0], join(home, 'shard-1')),
      bounds: { maxParams: 10_000 },
    });
    const tabular = new NodeDaemon({
      ...base,
      role: 'provider',
      name: 'tabular',
      account: devnetAccount(2),
      data: { path: CSV, format: 'csv', label: 'triage' },
    });
    daemons = [small, tabular];
    await startAll(daemons);
    const store = new NodeStore(join(home, 'requester.db'));
    const post = (spec: ReturnType<typeof mnistMlpPreset>) =>
      postJob({
        conn,
        contracts,
        signer: walletClientFor(conn, devnetAccount(10)),
        store,
        spec,
        datasetIds: [small.datasetId!, tabular.datasetId!],
        workers: 2,
        pricePerRound: 10n ** 18n,
      });
    const mnist = await post(mnistMlpPreset({ innerSteps: 5, rounds: 2 }));
    // a tabular job whose CSV header is not the provider's (a column it does not have)
    const wrong = tabularSpecFromFile({ path: CSV, label: 'triage', innerSteps: 5, rounds: 2 });
    const data = wrong.data as { columns: string[]; numeric: string[] };
    const tab = await post({
      ...wrong,
      data: { ...wrong.data, columns: [...data.columns, 'insulin'], numeric: [...data.numeric, 'insulin'] },
      model: { kind: 'mlp', sizes: [(wrong.model as unknown as { sizes: number[] }).sizes[0] + 1, 64, 3] },
    });
    store.close();
    const status = async (d: NodeDaemon) => (await (await fetch(`${d.statusUrl}/status`)).json()) as Status;
    const refusedBoth = (d: NodeDaemon) => async () => {
      const s = await status(d);
      return s.refused.length >= 2 ? s : undefined;
    };
    const s1 = await until('the small provider refuses both jobs', refusedBoth(small), 30_000);
    expect(s1.bounds.maxParams).toBe(10_000);
    const reason1 = (id: bigint) => s1.refused.find((r) => r.jobId === id.toString())?.reason;
    expect(reason1(mnist.jobId)).toMatch(/the model has 50890 parameters, over this provider's 10000/);
    expect(reason1(tab.jobId)).toMatch(/the job trains on tabular data; this provider's data is image/);
    const s2 = await until('the tabular provider refuses both jobs', refusedBoth(tabular), 30_000);
    const reason2 = (id: bigint) => s2.refused.find((r) => r.jobId === id.toString())?.reason;
    expect(reason2(mnist.jobId)).toMatch(
      /data schema does not fit .* the job trains on image data; this provider's data is tabular/,
    );
    expect(reason2(tab.jobId)).toMatch(/the job's CSV header is .*insulin/);
    // nobody joined either job
    for (const d of daemons) {
      expect(d.store.getJob(mnist.jobId)?.state).toBe('refused');
      expect(d.store.getJob(tab.jobId)?.state).toBe('refused');
    }
    const log = await until(
      'the refusals in the log',
      async () => {
        const text = readFileSync(logFile, 'utf8');
        return (text.match(/job refused/g) ?? []).length >= 4 ? text : undefined;
      },
      10_000,
    );
    expect(log).toMatch(/"reason":"the model has 50890 parameters/);
  }, 120_000);
});
