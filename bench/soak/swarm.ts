/**
 * A devnet-style swarm of separate processes, each in its own home, as a user would run one: a
 * chain (`agora chain start --deploy`), a requester, a validator and K providers (`agora node
 * start`), every home sharing the chain's deployment through `agora chain import-deployment`. Any
 * role can be killed with SIGKILL and restarted with the same home, name and arguments (the
 * requester on the same listen address, so the others' bootstrap address stays right).
 *
 * Used by the chaos soak (`npm run soak`, bench/soak.ts) and its CI test (test/node/soak.test.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectChain } from '../../src/chain/connect.ts';
import { importDeployment, loadDeploymentSource } from '../../src/chain/import-deployment.ts';
import { freePort } from '../../src/net/free-port.ts';
import { loadOrCreatePeerKey } from '../../src/node/peer-key.ts';
import { planMnistShards, writeShardIdx } from '../../src/node/shard-data.ts';
import { runCli } from '../../test/helpers/cli.ts';
import { type Proc, procGroup } from '../../test/helpers/node-procs.ts';
import { until } from '../../test/helpers/until.ts';

/** Devnet accounts of the roles (test mnemonic): providers 1..K, the requester 10, the validator 19. */
export const REQUESTER_ACCOUNT = 10;
export const VALIDATOR_ACCOUNT = 19;
export const providerAccount = (i: number): number => i + 1;

export type SwarmRole = {
  /** requester, validator, p1…pK */
  name: string;
  home: string;
  devnetAccount: number;
  args: string[];
  /** the running process (the latest one after restarts) */
  proc: Proc;
  /** processes started for this role so far (1 + restarts) */
  starts: number;
};

export type SwarmOptions = {
  /** a fresh directory: the homes go under it */
  dir: string;
  providers: number;
  /** records per provider shard (label-skewed MNIST, 2 classes each); small keeps setup quick */
  shardSize?: number;
  pollMs?: number;
  /** how long each startup step may take (a loaded machine needs margin) */
  stepTimeoutMs?: number;
  log?: (line: string) => void;
};

export type Swarm = {
  rpc: string;
  chainHome: string;
  requester: SwarmRole;
  validator: SwarmRole;
  providers: SwarmRole[];
  /** each provider's registered dataset id */
  datasets: string[];
  /** every process started, in order (for logs on failure) */
  procs: Proc[];
  kill(role: SwarmRole): void;
  restart(role: SwarmRole): Proc;
  /** `agora job create` from the requester's home; returns the job id */
  createJob(o: {
    rounds: number;
    H: number;
    price?: string;
    deadlineSeconds?: number;
    joinWindowSeconds?: number;
    challengeSeconds?: number;
  }): Promise<bigint>;
  /** SIGKILLs every node process (the chain keeps running, for the checks) */
  stopNodes(): void;
  /** SIGKILLs every process, the chain included */
  stop(): void;
  /** writes each process's stdout+stderr to `<dir>/<name>.out` (restarts: `p3#2.out`) */
  saveOutputs(dir: string): void;
};

const CHAIN_ID = 31337;

/** The MNIST shards of K providers (the pool is loaded once per process, not once per trial). */
const plans = new Map<number, ReturnType<typeof planMnistShards>>();
function shardPlan(providers: number) {
  let p = plans.get(providers);
  if (!p) {
    p = planMnistShards(providers, 2);
    plans.set(providers, p);
  }
  return p;
}

export async function startSwarm(o: SwarmOptions): Promise<Swarm> {
  const group = procGroup();
  const log = o.log ?? (() => {});
  const stepMs = o.stepTimeoutMs ?? 120_000;
  const poll = String(o.pollMs ?? 300);
  try {
    const chainHome = join(o.dir, 'chain');
    const chainPort = await freePort();
    const chain = group.start('chain', [
      ...['--home', chainHome, 'chain', 'start', '--port', String(chainPort), '--deploy', '--json'],
    ]);
    await until(
      'the chain to deploy the protocol',
      () => {
        if (chain.child.exitCode !== null) throw new Error(`agora chain start exited:\n${chain.out}`);
        return /"contracts":\s*\{/.test(chain.out) ? true : undefined;
      },
      stepMs,
      100,
    );
    const rpc = `http://127.0.0.1:${chainPort}`;
    const deploymentFile = join(chainHome, 'deployments', `${CHAIN_ID}.json`);
    log(`chain at ${rpc}, protocol deployed`);

    // every home shares the chain's deployment (what `agora chain import-deployment FILE` does, as
    // a library call: a CLI process costs many seconds of CPU on a loaded machine)
    const homes = ['requester', 'validator', ...Array.from({ length: o.providers }, (_, i) => `p${i + 1}`)];
    const conn = await connectChain({ rpcUrl: rpc });
    const deployment = await loadDeploymentSource(deploymentFile);
    for (const name of homes) await importDeployment(conn, join(o.dir, name), deployment);

    const role = (name: string, devnetAccount: number, args: string[]): SwarmRole => {
      const home = join(o.dir, name);
      const full = [
        ...['--home', home, '--rpc', rpc, '--devnet-account', String(devnetAccount)],
        ...['node', 'start', '--name', name, '--poll-ms', poll, ...args],
      ];
      return { name, home, devnetAccount, args: full, proc: group.start(name, full), starts: 1 };
    };
    // the requester's libp2p identity made up front (as its node makes it on first start), so its
    // bootstrap address is known and every role starts at once
    const listen = await freePort();
    const { peerId } = await loadOrCreatePeerKey(join(o.dir, 'requester', 'nodes', 'requester'));
    const boot = `/ip4/127.0.0.1/tcp/${listen}/p2p/${peerId}`;
    const requester = role('requester', REQUESTER_ACCOUNT, [
      ...['--role', 'requester', '--listen', `/ip4/127.0.0.1/tcp/${listen}`],
    ]);
    const validator = role('validator', VALIDATOR_ACCOUNT, ['--role', 'validator', '--bootstrap', boot]);
    const plan = shardPlan(o.providers);
    const providers = plan.shards.map((shard, i) => {
      const name = `p${i + 1}`;
      const dataDir = join(o.dir, name, 'shard');
      mkdirSync(dataDir, { recursive: true });
      const data = writeShardIdx(plan.pool, shard.subarray(0, o.shardSize ?? shard.length), dataDir);
      return role(name, providerAccount(i), ['--role', 'provider', '--data', data, '--bootstrap', boot]);
    });
    const datasets = await Promise.all(
      providers.map((p) =>
        until(
          `${p.name}'s offer`,
          () => {
            if (p.proc.child.exitCode !== null) throw new Error(`${p.name} exited:\n${p.proc.out}`);
            return /offer staked/.test(p.proc.out) ? /dataset (\d+)/.exec(p.proc.out)?.[1] : undefined;
          },
          stepMs,
        ),
      ),
    );
    const announced = await until(
      'the coordinator address',
      () => {
        if (requester.proc.child.exitCode !== null)
          throw new Error(`the requester exited:\n${requester.proc.out}`);
        return /coordinator address (\S+)/.exec(requester.proc.out)?.[1];
      },
      stepMs,
    );
    if (announced !== boot) throw new Error(`the requester announced ${announced}, not ${boot}`);
    log(`requester, validator and ${o.providers} providers up (datasets ${datasets.join(',')})`);

    return {
      rpc,
      chainHome,
      requester,
      validator,
      providers,
      datasets,
      procs: group.procs,
      kill(r) {
        if (r.proc.child.exitCode === null && r.proc.child.signalCode === null) r.proc.child.kill('SIGKILL');
      },
      restart(r) {
        r.starts++;
        r.proc = group.start(`${r.name}#${r.starts}`, r.args);
        return r.proc;
      },
      async createJob(j) {
        const r = await runCli(
          [
            ...['--home', requester.home, '--rpc', rpc, '--devnet-account', String(REQUESTER_ACCOUNT)],
            ...['job', 'create', '--task', 'mnist-mlp', '--datasets', datasets.join(',')],
            ...['--workers', String(o.providers), '--H', String(j.H), '--rounds', String(j.rounds)],
            ...['--price', j.price ?? '1', '--json'],
            ...(j.deadlineSeconds !== undefined ? ['--deadline', String(j.deadlineSeconds)] : []),
            ...(j.joinWindowSeconds !== undefined ? ['--join-window', String(j.joinWindowSeconds)] : []),
            ...(j.challengeSeconds !== undefined ? ['--challenge', String(j.challengeSeconds)] : []),
          ],
          { timeoutMs: stepMs },
        );
        if (r.code !== 0) throw new Error(`agora job create failed: ${r.stderr}`);
        return BigInt(JSON.parse(r.stdout).jobId);
      },
      stopNodes() {
        for (const p of group.procs)
          if (p.name !== 'chain' && p.child.exitCode === null) p.child.kill('SIGKILL');
      },
      stop() {
        group.killAll();
      },
      saveOutputs(dir) {
        mkdirSync(dir, { recursive: true });
        for (const p of group.procs) writeFileSync(join(dir, `${p.name}.out`), p.out);
      },
    };
  } catch (e) {
    group.killAll();
    throw e;
  }
}
