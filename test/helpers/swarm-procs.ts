/**
 * The common steps of the cross-process swarm tests (`agora node start` processes against one
 * chain): the requester's coordinator address, MNIST providers with their shards and their staked
 * offers, the `agora job create` of an mnist-mlp job, and the waits for the reward root and claims.
 */
import { join } from 'node:path';
import { getAddress } from 'viem';
import { expect } from 'vitest';
import { devnetAccount } from '../../src/chain/devnet.ts';
import type { TrainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { runCli } from './cli.ts';
import type { Proc, ProcGroup } from './node-procs.ts';
import { until } from './until.ts';

/** The requester's coordinator multiaddr, once it has logged it. */
export function untilCoordinatorAddress(requester: Proc, ms: number): Promise<string> {
  return until('the coordinator address', () => /coordinator address (\S+)/.exec(requester.out)?.[1], ms);
}

export type MnistProviders = {
  providers: Proc[];
  /** The `agora node start` arguments of provider i (to restart it); its shard is written again. */
  args: (i: number) => string[];
};

/**
 * Starts `count` providers p1…pN (devnet accounts 1…N), each its own process with an MNIST shard
 * of 4 classes (`planMnistShards(count, 4)`) written to HOME/shard-N; `extraArgs(i)` go after the
 * common ones.
 */
export function startMnistProviders(
  group: ProcGroup,
  o: {
    home: string;
    common: string[];
    boot: string;
    pollMs: number;
    count: number;
    extraArgs?: (i: number) => string[];
  },
): MnistProviders {
  const plan = planMnistShards(o.count, 4);
  const args = (i: number) => [
    ...o.common,
    ...['--devnet-account', String(i + 1), 'node', 'start', '--role', 'provider', '--name', `p${i + 1}`],
    ...['--data', writeShardIdx(plan.pool, plan.shards[i], join(o.home, `shard-${i + 1}`))],
    ...['--bootstrap', o.boot, '--poll-ms', String(o.pollMs)],
  ];
  const providers = Array.from({ length: o.count }, (_, i) =>
    group.start(`p${i + 1}`, [...args(i), ...(o.extraArgs?.(i) ?? [])]),
  );
  return { providers, args };
}

/** Waits for every provider's staked offer: the data set ids they registered, in provider order. */
export function untilOffers(providers: Proc[], ms: number): Promise<string[]> {
  return Promise.all(
    providers.map((p) =>
      until(
        `${p.name}'s offer`,
        () => (/offer staked/.test(p.out) ? /dataset (\d+)/.exec(p.out)?.[1] : undefined),
        ms,
      ),
    ),
  );
}

/** `agora job create` (requester: devnet account 10) of a 3-worker mnist-mlp job, H = 10, price 1. */
export async function createMnistJob(
  common: string[],
  datasetIds: string[],
  rounds: number,
  timeoutMs?: number,
): Promise<bigint> {
  const create = await runCli(
    [
      ...common,
      ...[
        '--devnet-account',
        '10',
        'job',
        'create',
        '--task',
        'mnist-mlp',
        '--datasets',
        datasetIds.join(','),
      ],
      ...['--workers', '3', '--H', '10', '--rounds', String(rounds), '--price', '1', '--json'],
    ],
    { timeoutMs },
  );
  expect(create.code, create.stderr).toBe(0);
  return BigInt(JSON.parse(create.stdout).jobId);
}

/**
 * Waits for the job's reward root (not zero). `retryReadErrors`: a failed ledger read is polled
 * again (while the chain restarts) instead of failing the wait.
 */
export function untilRewardRoot(
  ledger: TrainingLedgerClient,
  jobId: bigint,
  ms: number,
  opts: { retryReadErrors?: boolean } = {},
): Promise<true> {
  const read = () => ledger.getJobLedger(jobId);
  return until(
    'the reward root',
    async () => {
      const l = opts.retryReadErrors ? await read().catch(() => undefined) : await read();
      return l && l.rewardRoot !== `0x${'0'.repeat(64)}` ? true : undefined;
    },
    ms,
  );
}

/** Waits until every one of the devnet accounts (providers, validator) has claimed its reward. */
export function untilClaimed(ledger: TrainingLedgerClient, jobId: bigint, accounts: number[], ms: number) {
  const payees = accounts.map((i) => getAddress(devnetAccount(i).address));
  return until(
    'every provider and the validator to claim',
    async () =>
      (await Promise.all(payees.map((a) => ledger.isClaimed(jobId, a)))).every(Boolean) ? true : undefined,
    ms,
  );
}
