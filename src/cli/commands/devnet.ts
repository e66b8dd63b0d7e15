/**
 * `agora devnet` (what `npm start` runs): a local chain with the protocol deployed, served on
 * 127.0.0.1 so other shells can use it with the same --home.
 */
import type { Command } from 'commander';
import { formatEther } from 'viem';
import { AgoraToken } from '../../../artifacts/index.ts';
import { connectChain } from '../../chain/connect.ts';
import { deployProtocol } from '../../chain/deploy.ts';
import { writeDeployment } from '../../chain/deployments.ts';
import { devnetAccount } from '../../chain/devnet.ts';
import { startEmbeddedChain } from '../../chain/embedded-chain.ts';
import type { CliContext } from '../context.ts';
import { parsePort, untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerDevnetCommand(program: Command, ctx: Ctx): void {
  program
    .command('devnet')
    .description('run a local Agora devnet: embedded chain + deployed protocol (npm start)')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'JSON-RPC port (0 picks a free one)', '8545')
    .option('--exit', 'stop after printing the summary instead of serving until Ctrl-C')
    .action(async (o: { host: string; port: string; exit?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const started = Date.now();
      c.out.progress(`starting the embedded chain on ${o.host}:${o.port}…`);
      const embedded = await startEmbeddedChain({ host: o.host, port: parsePort(o.port) });
      const conn = await connectChain({ rpcUrl: embedded.url });
      const deployer = devnetAccount(0);
      const d = await deployProtocol(conn, deployer, { onProgress: (m) => c.out.progress(m) });
      const path = writeDeployment(c.home, d);
      const token = d.contracts.AgoraToken!;
      const balances = await Promise.all(
        [0, 1, 2].map(async (i) => {
          const address = devnetAccount(i).address;
          const balance = (await conn.publicClient.readContract({
            address: token,
            abi: AgoraToken.abi,
            functionName: 'balanceOf',
            args: [address],
          })) as bigint;
          return { address, agora: formatEther(balance) };
        }),
      );
      const summary = {
        url: embedded.url,
        chainId: d.chainId,
        contracts: d.contracts,
        deploymentFile: path,
        balances,
        seconds: (Date.now() - started) / 1000,
      };
      c.out.result(summary, () =>
        [
          '',
          `Agora devnet is up: chain ${d.chainId} at ${embedded.url} (${summary.seconds.toFixed(1)} s)`,
          `deployment recorded in ${path}`,
          ...Object.entries(d.contracts).map(([k, v]) => `  ${k.padEnd(20)} ${v}`),
          'devnet accounts (public test mnemonic; devnet only):',
          ...balances.map((b) => `  ${b.address}  ${b.agora} AGORA`),
          '',
          o.exit ? 'stopping (--exit).' : `try from another shell: npx agora chain status --home ${c.home}`,
          o.exit ? '' : 'Ctrl-C stops the devnet.',
        ].join('\n'),
      );
      if (o.exit) {
        await embedded.stop();
        return;
      }
      await untilSignal(async () => {
        c.out.progress('stopping the devnet…');
        await embedded.stop();
      });
    });
}
