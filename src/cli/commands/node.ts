/**
 * `agora node start --role provider|validator|requester`: one role as a daemon against `--rpc`
 * (wallet, chain watcher, node:sqlite store and status API under `<home>/nodes/<name>/`, pino logs).
 * Provider: registers its data (`--data IMAGES,LABELS`) and a staked offer, watches the ComputeMarket
 * and joins matching jobs. Requester: closes its jobs once every round is committed. Validator:
 * checks every round of running jobs. Once a job runs, the roles meet on the job's libp2p network
 * (the requester listens on `--listen`, the others dial it with `--bootstrap`) and run the round
 * protocol across processes (src/node/{provider-job,coordinator,validator-job}.ts; docs/swarm.md).
 */
import { statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { type LocalAccount, parseEther } from 'viem';
import { Dashboard } from '../../dashboard/dashboard.ts';
import { openBrowser } from '../../dashboard/open-browser.ts';
import { AgoraError } from '../../errors.ts';
import type { RoundCommitted } from '../../node/coordinator.ts';
import { NODE_ROLES, NodeDaemon, type NodeRole } from '../../node/daemon.ts';
import { contractsOf } from '../../node/node-contracts.ts';
import { DATA_FORMATS, type DataFormat, type DataSource } from '../../task/task.ts';
import type { CliContext } from '../context.ts';
import { parsePort, untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;
type NodeOpts = {
  role: string;
  listen?: string;
  bootstrap?: string;
  byzantine?: boolean;
  name?: string;
  data?: string;
  format?: string;
  label?: string;
  textField?: string;
  context?: string;
  maxParams?: string;
  maxMemoryMb?: string;
  maxRoundSeconds?: string;
  tasks?: string;
  flops?: string;
  price: string;
  stake: string;
  pollMs: string;
  once?: boolean;
  faultDivergeRound?: string;
  dashboard?: string;
  open?: boolean;
};

/** `--data --format --label` as a data source (the format from the path when not given). */
export function dataSourceOf(
  path: string,
  format?: string,
  label?: string,
  text: { textField?: string; context?: string } = {},
): DataSource {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // a missing path is reported by the task that reads it
  }
  const f =
    format ??
    (path.includes(',')
      ? 'idx'
      : isDir
        ? 'images'
        : /\.jsonl$|\.ndjson$/.test(path)
          ? text.textField
            ? 'text'
            : 'jsonl'
          : /\.csv$/.test(path)
            ? 'csv'
            : /\.(txt|md|text)$/.test(path)
              ? 'text'
              : undefined);
  if (!f || !(DATA_FORMATS as readonly string[]).includes(f)) {
    throw new AgoraError('BAD_OPTION', `cannot tell the format of --data ${path}`, {
      hint: `pass --format (${DATA_FORMATS.join(', ')})`,
    });
  }
  if ((f === 'csv' || f === 'jsonl') && !label)
    throw new AgoraError('BAD_OPTION', `--format ${f} needs --label COLUMN (the column to predict)`, {
      hint: 'for a language model on a JSONL text field use --format text --text-field FIELD',
    });
  let context: number | undefined;
  if (text.context !== undefined) {
    context = Number(text.context);
    if (!Number.isInteger(context) || context < 1 || context > 4096)
      throw new AgoraError('BAD_OPTION', `--context must be an integer in 1..4096, not "${text.context}"`);
  }
  return {
    path,
    format: f as DataFormat,
    ...(label ? { label } : {}),
    ...(f === 'text' && text.textField ? { textField: text.textField } : {}),
    ...(f === 'text' && context !== undefined ? { context } : {}),
  };
}

export function registerNodeCommands(program: Command, ctx: Ctx): void {
  const node = program.command('node').description('run an Agora node (provider, validator or requester)');
  node
    .command('start')
    .requiredOption('--role <role>', 'provider | validator | requester')
    .option('--name <name>', 'node name (its directory under <home>/nodes/); default: the role')
    .option(
      '--data <path>',
      'provider: the data to register and train on (IDX: IMAGES,LABELS; a CSV/JSONL file; an image folder ROOT/<label>/<image>; a text file)',
    )
    .option(
      '--format <format>',
      `provider: the data's format (${DATA_FORMATS.join(', ')}); default from the file name`,
    )
    .option('--label <column>', 'provider: the label column (csv, jsonl)')
    .option('--text-field <field>', 'provider, --format text on a JSONL file: the field holding the text')
    .option(
      '--context <bytes>',
      'provider, --format text: bytes of context per window (the job model’s; default 64)',
    )
    .option('--max-params <n>', 'provider: refuse jobs whose model has more parameters', '50000000')
    .option('--max-memory-mb <n>', 'provider: refuse jobs estimated to need more memory (MiB)', '4096')
    .option('--max-round-seconds <s>', 'provider: refuse jobs whose round is estimated to take longer', '600')
    .option('--tasks <kinds>', 'provider: comma-separated task kinds it runs (default: all it knows)')
    .option(
      '--flops <n>',
      "provider: this machine's training throughput for the round-time estimate (FLOP/s)",
      '2e9',
    )
    .option('--price <agora>', 'provider: price per round', '1')
    .option('--stake <agora>', 'provider: stake with the offer', '100')
    .option('--poll-ms <ms>', 'chain poll interval', '1000')
    .option('--listen <multiaddr>', 'libp2p listen address for job networks', '/ip4/127.0.0.1/tcp/0')
    .option('--bootstrap <multiaddrs>', 'comma-separated multiaddrs to dial for job networks (the requester)')
    .option('--once', 'do one poll and exit (scripts, tests)')
    .option(
      '--dashboard <port>',
      "serve the live dashboard of this node's view on 127.0.0.1:PORT (0: a free port)",
    )
    .option('--open', 'with --dashboard: open it in the browser')
    .addOption(new Option('--byzantine', 'fault injection: send sign-flipped pseudo-gradients').hideHelp())
    .addOption(
      new Option('--fault-diverge-round <round>', 'fault injection: a wrong model in round R').hideHelp(),
    )
    .description('start a node daemon; Ctrl-C stops it')
    .action(async (o: NodeOpts, cmd: Command) => {
      const c = ctx(cmd);
      if (!NODE_ROLES.includes(o.role as NodeRole)) {
        throw new AgoraError('BAD_OPTION', `unknown --role "${o.role}"`, {
          hint: 'use provider, validator or requester',
        });
      }
      const conn = await c.connect();
      const d = await c.deployment(conn, [
        'ComputeMarket',
        'TrainingLedger',
        'DataRegistry',
        'AgoraToken',
        'ProtocolParams',
      ]);
      const contracts = contractsOf(d);
      const account = (await c.signer(conn)) as LocalAccount;
      const name = o.name ?? o.role;
      const dash =
        o.dashboard !== undefined
          ? new Dashboard({ conn, deployment: d, home: c.home, port: parsePort(o.dashboard), account })
          : undefined;
      const daemon = new NodeDaemon({
        role: o.role as NodeRole,
        name,
        home: c.home,
        conn,
        contracts,
        account,
        listen: [o.listen ?? '/ip4/127.0.0.1/tcp/0'],
        bootstrap: (o.bootstrap ?? '')
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
        pollMs: Number(o.pollMs),
        ...(o.data
          ? { data: dataSourceOf(o.data, o.format, o.label, { textField: o.textField, context: o.context }) }
          : {}),
        bounds: {
          maxParams: Number(o.maxParams),
          maxMemoryMb: Number(o.maxMemoryMb),
          maxSecondsPerRound: Number(o.maxRoundSeconds),
          flops: Number(o.flops),
          ...(o.tasks ? { kinds: o.tasks.split(',').map((t) => t.trim()) } : {}),
        },
        price: parseEther(o.price),
        stake: parseEther(o.stake),
        byzantine: o.byzantine === true,
        ...(o.faultDivergeRound !== undefined ? { divergeRound: Number(o.faultDivergeRound) } : {}),
        onProgress: (m) => c.out.progress(m),
        ...(dash
          ? {
              onRoundCommitted: (x: RoundCommitted) =>
                dash.onDevnetEvent({ kind: 'committed', ...x, jobId: x.jobId.toString() }),
            }
          : {}),
      });
      await daemon.start();
      if (dash) {
        await dash.start();
        dash.onDevnetEvent({
          kind: 'nodes',
          nodes: [
            {
              name,
              role: o.role as NodeRole,
              address: daemon.address,
              dir: daemon.dir,
              ...(daemon.statusUrl ? { statusUrl: daemon.statusUrl } : {}),
              ...(daemon.datasetId !== undefined ? { datasetId: daemon.datasetId.toString() } : {}),
            },
          ],
        });
        dash.phase('serving', `${name} (${o.role}) running`);
        c.out.progress(`dashboard: ${dash.url}`);
        if (o.open) {
          const b = openBrowser(dash.url!);
          if (!b.opened) c.out.progress(`not opening a browser: ${b.how}; open ${dash.url} yourself`);
        }
      }
      if (daemon.coordinatorAddress)
        c.out.progress(`${name}: coordinator address ${daemon.coordinatorAddress}`);
      const statusUrl = () => daemon.statusUrl;
      c.out.result(
        { name, role: o.role, address: account.address, status: statusUrl() },
        () => `${name} (${o.role}) ${account.address} running; status API ${statusUrl()}/status`,
      );
      if (o.once) {
        await daemon.stop();
        await dash?.stop();
        return;
      }
      await untilSignal(async () => {
        c.out.progress(`stopping ${name}…`);
        await daemon.stop();
        await dash?.stop();
      });
    });
}
