/**
 * Node daemons of one swarm in the test's process: a real embedded chain with the protocol
 * deployed, a requester (devnet account 10) listening on 127.0.0.1, optionally a validator
 * (account 19), and two providers p1, p2 (accounts 1, 2) with MNIST shards, all polling every 200 ms.
 */
import { join } from 'node:path';
import { type ChainConnection, connectChain } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { NodeDaemon } from '../../src/node/daemon.ts';
import { createLogger } from '../../src/node/logger.ts';
import { contractsOf } from '../../src/node/node-contracts.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { startAll, stopAll } from '../../src/node/startable.ts';
import { tempHome } from './cli.ts';

export type DaemonSwarm = {
  chain: EmbeddedChain;
  conn: ChainConnection;
  contracts: ReturnType<typeof contractsOf>;
  home: string;
  requester: NodeDaemon;
  validator: NodeDaemon | undefined;
  providers: NodeDaemon[];
  /** Stops every daemon (one already stopped is stopped again harmlessly), then the chain. */
  stop(): Promise<void>;
};

/**
 * Starts the chain, the requester, then the validator (with `validator`) and the providers, in
 * that order. `lingerMs`: how long the requester serves a finished job's reward split. Logs go to
 * HOME/nodes.log at AGORA_TEST_LOG's level (default `warn`).
 */
export async function startDaemonSwarm(o: { validator: boolean; lingerMs?: number }): Promise<DaemonSwarm> {
  const s = { providers: [] as NodeDaemon[] } as DaemonSwarm;
  let daemons: NodeDaemon[] = [];
  s.stop = async () => {
    await stopAll(daemons);
    await s.chain?.stop();
  };
  try {
    s.chain = await startEmbeddedChain();
    const conn = await connectChain({ provider: s.chain.provider });
    const contracts = contractsOf(await deployProtocol(conn, devnetAccount(0)));
    const home = tempHome();
    Object.assign(s, { conn, contracts, home });
    const logger = createLogger({
      name: 'test',
      level: process.env.AGORA_TEST_LOG ?? 'warn',
      file: join(home, 'nodes.log'),
    });
    const plan = planMnistShards(2, 5);
    const base = { home, conn, contracts, logger, pollMs: 200, lingerMs: o.lingerMs };
    s.requester = new NodeDaemon({
      ...base,
      role: 'requester',
      name: 'requester',
      account: devnetAccount(10),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
    await s.requester.start();
    daemons = [s.requester];
    // asked for tcp/0, the requester fixes a free port at start: its coordinator address is
    // dialable before any job runs
    const boot = s.requester.coordinatorAddress!;
    s.validator = o.validator
      ? new NodeDaemon({
          ...base,
          role: 'validator',
          name: 'validator',
          account: devnetAccount(19),
          bootstrap: [boot],
        })
      : undefined;
    s.providers = [0, 1].map(
      (i) =>
        new NodeDaemon({
          ...base,
          role: 'provider',
          name: `p${i + 1}`,
          account: devnetAccount(i + 1),
          data: writeShardIdx(plan.pool, plan.shards[i], join(home, `shard-${i + 1}`)),
          bootstrap: [boot],
        }),
    );
    const others = [...(s.validator ? [s.validator] : []), ...s.providers];
    await startAll(others);
    daemons = [s.requester, ...others];
    return s;
  } catch (e) {
    await s.stop().catch(() => {});
    throw e;
  }
}
