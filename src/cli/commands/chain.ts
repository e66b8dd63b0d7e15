/** `agora chain start|deploy|status`: the embedded chain and the protocol contracts on any chain. */
import type { Command } from 'commander';
import type { Account } from 'viem';
import { connectChain } from '../../chain/connect.ts';
import { deployOrContinue } from '../../chain/deploy-run.ts';
import { readDeployment } from '../../chain/deployments.ts';
import { DEVNET_CHAIN_ID, devnetAccount } from '../../chain/devnet.ts';
import { startEmbeddedChain } from '../../chain/embedded-chain.ts';
import { importDeployment, loadDeploymentSource } from '../../chain/import-deployment.ts';
import { AgoraError } from '../../errors.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new AgoraError('BAD_OPTION', `--port must be an integer 0..65535, not "${value}"`);
  }
  return n;
}

/** Waits for SIGINT/SIGTERM, then runs `stop`. */
export function untilSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const handler = async () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      await stop();
      resolve();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

export function registerChainCommands(program: Command, ctx: Ctx): void {
  const chain = program.command('chain').description('the embedded devnet chain and protocol deployment');

  chain
    .command('start')
    .description('serve an in-process EVM devnet (Hardhat 3 EDR) over JSON-RPC, with funded devnet accounts')
    .option('--host <host>', 'interface to bind (keep 127.0.0.1 unless you mean to expose it)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 picks a free one)', '8545')
    .option('--deploy', 'also deploy the protocol contracts and record them in the home')
    .option(
      '--state <file>',
      'persist the chain in FILE (a journal of its transactions) and reload it from there',
    )
    .action(async (o: { host: string; port: string; deploy?: boolean; state?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const port = parsePort(o.port);
      c.out.progress(`starting the embedded chain on ${o.host}:${port}…`);
      const embedded = await startEmbeddedChain({
        host: o.host,
        port,
        ...(o.state ? { stateFile: o.state } : {}),
      });
      if (embedded.replayed > 0)
        c.out.progress(`reloaded ${embedded.replayed} chain changes from ${o.state}`);
      let contracts: Record<string, string> | undefined;
      if (o.deploy) {
        const conn = await connectChain({ rpcUrl: embedded.url });
        // a reloaded chain (--state) keeps the protocol it has; a new one gets it deployed
        const { deployment: d } = await deployOrContinue(conn, c.home, devnetAccount(0), {
          existing: 'reuse',
          onProgress: (m) => c.out.progress(m),
        });
        contracts = d.contracts;
      }
      const accounts = Array.from({ length: 5 }, (_, i) => devnetAccount(i).address);
      c.out.result(
        { url: embedded.url, chainId: embedded.chainId, accounts, contracts: contracts ?? null },
        () =>
          [
            `Agora devnet chain ${embedded.chainId} at ${embedded.url}`,
            `funded devnet accounts (test mnemonic, devnet only): ${accounts.join(', ')}, …`,
            contracts
              ? `contracts: ${Object.entries(contracts)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ')}`
              : 'deploy the protocol from another shell: agora chain deploy',
            'Ctrl-C stops it.',
          ].join('\n'),
      );
      await untilSignal(async () => {
        c.out.progress('stopping the chain…');
        await embedded.stop();
      });
    });

  chain
    .command('deploy')
    .description(
      'deploy the protocol contracts and record them in <home>/deployments/<chainId>.json (an interrupted deploy continues)',
    )
    .option('--fresh', 'start a new, separate deployment even if this home records one for the chain')
    .action(async (o: { fresh?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const conn = await c.connect();
      let deployer: Account;
      if (conn.chainId === DEVNET_CHAIN_ID && !c.opts.wallet && c.opts.devnetAccount === undefined) {
        deployer = devnetAccount(0);
      } else {
        deployer = await c.signer(conn);
      }
      c.out.progress(`deploying to chain ${conn.chainId} at ${conn.endpoint} from ${deployer.address}`);
      const warnings: string[] = [];
      const run = await deployOrContinue(conn, c.home, deployer, {
        fresh: o.fresh === true,
        onProgress: (m) => c.out.progress(m),
        onWarning: (m) => {
          warnings.push(m);
          c.out.progress(`warning: ${m}`);
        },
      });
      const { deployment: d, path } = run;
      const resume = run.resumed ? d : undefined;
      c.out.result(
        { chainId: d.chainId, contracts: d.contracts, resumed: resume !== undefined, warnings },
        () =>
          [
            `deployed to chain ${d.chainId}${resume ? ' (continued)' : ''}; recorded in ${path}`,
            ...Object.entries(d.contracts).map(([k, v]) => `  ${k.padEnd(20)} ${v}`),
            `other homes use it with: agora chain import-deployment ${path}`,
          ].join('\n'),
      );
    });

  chain
    .command('import-deployment')
    .description(
      "record another home's deployment (its deployments/<chainId>.json, a path or an http(s) URL) in this home, so many homes share one protocol",
    )
    .argument('<source>', 'deployment file path or URL')
    .option('--force', 'replace a different deployment this home records for the chain')
    .action(async (source: string, o: { force?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const d = await loadDeploymentSource(source);
      const conn = await c.connect();
      const r = await importDeployment(conn, c.home, d, { force: o.force === true });
      c.out.result({ chainId: d.chainId, contracts: d.contracts, path: r.path, replaced: r.replaced }, () =>
        [
          `imported the deployment of chain ${d.chainId} into ${r.path}${r.replaced ? ' (replaced the one recorded)' : ''}`,
          ...Object.entries(d.contracts).map(([k, v]) => `  ${k.padEnd(20)} ${v}`),
        ].join('\n'),
      );
    });

  chain
    .command('status')
    .description('chain id, block height, and whether the protocol is deployed there')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const conn = await c.connect();
      const blockNumber = Number(await conn.publicClient.getBlockNumber());
      const d = readDeployment(c.home, conn.chainId);
      let deployed = false;
      if (d?.contracts.AgoraToken) {
        const code = await conn.publicClient.getCode({ address: d.contracts.AgoraToken });
        deployed = Boolean(code && code !== '0x');
      }
      c.out.result(
        {
          chainId: conn.chainId,
          endpoint: conn.endpoint,
          blockNumber,
          deployed,
          contracts: d?.contracts ?? null,
        },
        () =>
          `chain ${conn.chainId} at ${conn.endpoint}, block ${blockNumber}; protocol ${
            deployed
              ? 'deployed'
              : d
                ? 'recorded but missing on chain (run `agora chain deploy`)'
                : 'not deployed'
          }`,
      );
    });
}
