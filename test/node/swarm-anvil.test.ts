/**
 * The swarm as separate processes against an independent EVM node: Foundry's anvil with 2 s blocks
 * (interval mining, several transactions per block, as on a real chain). A requester, a validator and
 * three providers, each its own `agora node start` process; the job is created from a sixth. The
 * three joins race into one block (the last one starts the job), commits, claims and checks come in
 * while blocks are minutes apart in machine time. Every round commits, every party claims, and no
 * transaction of the job's parties reverted (none ran out of gas, none was refused and resent).
 * The requester's coordinator listens before anyone dials it: no provider logs a refused bootstrap dial.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { connectChain } from '../../src/chain/connect.ts';
import { readDeployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { freePort } from '../../src/net/free-port.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { runCli, tempHome } from '../helpers/cli.ts';
import { procGroup } from '../helpers/node-procs.ts';
import {
  createMnistJob,
  startMnistProviders,
  untilClaimed,
  untilCoordinatorAddress,
  untilOffers,
  untilRewardRoot,
} from '../helpers/swarm-procs.ts';

describe('agora node start against anvil with 2 s blocks', () => {
  const group = procGroup();
  const { start } = group;
  let node: Anvil | undefined;
  afterAll(async () => {
    group.killAll();
    await node?.stop();
  });

  it('every round commits, every party claims, no transaction reverts', async () => {
    onTestFailed(() => console.error(group.tails(60)));
    // all 20 devnet accounts funded (the validator is account 19); instant blocks for the deploy,
    // then a block every 2 s
    node = await startAnvil({ accounts: 20 });
    const rpc = node.url;
    const home = tempHome();
    const deploy = await runCli(['--home', home, '--rpc', rpc, 'chain', 'deploy', '--json'], {
      timeoutMs: 120_000,
    });
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(JSON.parse(deploy.stdout).warnings).toEqual([]);
    const conn = await connectChain({ rpcUrl: rpc });
    await conn.publicClient.request({ method: 'evm_setIntervalMining', params: [2] } as never);
    const from = await conn.publicClient.getBlockNumber();
    const d = readDeployment(home, conn.chainId)!;
    const ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);

    const port = await freePort();
    const common = ['--home', home, '--rpc', rpc];
    const requester = start('requester', [
      ...common,
      ...['--devnet-account', '10', 'node', 'start', '--role', 'requester'],
      ...['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--poll-ms', '500'],
    ]);
    const boot = await untilCoordinatorAddress(requester, 90_000);
    start('validator', [
      ...common,
      ...[
        '--devnet-account',
        '19',
        'node',
        'start',
        '--role',
        'validator',
        '--bootstrap',
        boot,
        '--poll-ms',
        '500',
      ],
    ]);
    const { providers } = startMnistProviders(group, { home, common, boot, pollMs: 500, count: 3 });
    const ids = await untilOffers(providers, 180_000);
    const rounds = 4;
    const jobId = await createMnistJob(common, ids, rounds, 120_000);

    await untilRewardRoot(ledger, jobId, 420_000);
    await untilClaimed(ledger, jobId, [1, 2, 3, 19], 180_000);
    const l = await ledger.getJobLedger(jobId);
    expect(l.roundsCommitted).toBe(rounds);
    expect(l.closed).toBe(true);
    expect(l.claimed).toBe(l.rewardTotal);

    // no transaction of the job's parties reverted (out of gas or otherwise), in any block
    const parties = new Set([1, 2, 3, 10, 19].map((i) => devnetAccount(i).address.toLowerCase()));
    const to = await conn.publicClient.getBlockNumber();
    const failed: string[] = [];
    let sent = 0;
    const perBlock: number[] = [];
    for (let b = from + 1n; b <= to; b++) {
      const receipts = (await conn.publicClient.request({
        method: 'eth_getBlockReceipts',
        params: [`0x${b.toString(16)}`],
      } as never)) as { from: string; status: Hex; transactionHash: Hex; gasUsed: Hex }[];
      const ours = receipts.filter((r) => parties.has(r.from.toLowerCase()));
      if (ours.length > 0) perBlock.push(ours.length);
      sent += ours.length;
      for (const r of ours)
        if (r.status !== '0x1') failed.push(`${r.transactionHash} from ${r.from} in block ${b}`);
    }
    expect(failed, failed.join('\n')).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    // interval mining really put several of the job's transactions into one block
    expect(Math.max(...perBlock)).toBeGreaterThan(1);

    // the coordinator was listening before the providers dialed it
    for (const p of providers) {
      const log = readFileSync(join(home, 'nodes', p.name, 'node.log'), 'utf8');
      expect(log, `${p.name}: bootstrap dial refused`).not.toMatch(/bootstrap dial failed/);
    }
  }, 720_000);
});
