/**
 * `agora job create|status|model`: the requester's side of the ComputeMarket. Thin: parse, call the
 * chain clients and src/node, print (`--json` for machines).
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { formatEther, type LocalAccount, parseEther } from 'viem';
import { computeMarketClient } from '../../chain/compute-market.ts';
import { walletClientFor } from '../../chain/connect.ts';
import { trainingLedgerClient } from '../../chain/training-ledger.ts';
import { AgoraError } from '../../errors.ts';
import { findJobModel } from '../../node/job-files.ts';
import { postJob } from '../../node/post-job.ts';
import { NodeStore } from '../../node/store.ts';
import { jobSpecFromCli, SPEC_CLI_HELP } from '../../task/cli-spec.ts';
import { exportJobModel } from '../../task/export.ts';
import { canonicalJson, TASK_AGGREGATORS, TASK_CALIBRATIONS, TASK_DRIFTS } from '../../task/spec.ts';
import { fetchJobSpec } from '../../task/spec-source.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

function posInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new AgoraError('BAD_OPTION', `--${name} must be a positive integer, not "${v}"`);
  return n;
}

function jobIdOf(v: string): bigint {
  if (!/^\d+$/.test(v))
    throw new AgoraError('BAD_OPTION', `"${v}" is not a job id`, { hint: 'job ids are 1, 2, …' });
  return BigInt(v);
}

export function registerJobCommands(program: Command, ctx: Ctx): void {
  const job = program.command('job').description('training jobs: create, status, model');

  job
    .command('create')
    .description(
      'post a training job with escrow on the ComputeMarket (you pay price × rounds × workers + fee)',
    )
    .option('--spec <file>', 'the job spec document (JSON, docs/tasks.md)')
    .option('--preset <name>', 'a named spec (mnist-mlp)')
    .option('--task <kind>', SPEC_CLI_HELP.task)
    .option('--data <file>', SPEC_CLI_HELP.data)
    .option('--label <column>', SPEC_CLI_HELP.label)
    .option('--objective <objective>', SPEC_CLI_HELP.objective)
    .option('--drift <name>', `drift correction (${TASK_DRIFTS.join(', ')})`)
    .option('--aggregator <name>', `all-reduce aggregator (${TASK_AGGREGATORS.join(', ')})`)
    .option(
      '--calibration <name>',
      `what the last round does to the output layer (${TASK_CALIBRATIONS.join(', ')})`,
    )
    .requiredOption('--datasets <ids>', 'comma-separated DataRegistry dataset ids')
    .option('--workers <K>', 'providers (seats)', '4')
    .option('--H <n>', 'inner steps per round (presets: 10; a --spec file has its own)')
    .option('--rounds <n>', 'DiLoCo rounds (presets: 100; a --spec file has its own)')
    .option('--price <agora>', 'price per round per worker, in AGORA', '1')
    .option('--join-window <s>', 'seconds providers have to join', '600')
    .option('--deadline <s>', 'seconds until the job must be complete', '7200')
    .option('--challenge <s>', 'challenge period after the job ends, seconds', '10')
    .action(async (o: Record<string, string>, cmd: Command) => {
      const c = ctx(cmd);
      const spec = jobSpecFromCli(o);
      const datasetIds = o.datasets.split(',').map((s) => jobIdOf(s.trim()));
      const conn = await c.connect();
      const d = await c.deployment(conn, ['ComputeMarket', 'AgoraToken']);
      const account = (await c.signer(conn)) as LocalAccount;
      const signer = walletClientFor(conn, account);
      const workers = posInt(o.workers, 'workers');
      const rounds = spec.rounds;
      const store = new NodeStore(join(c.home, 'nodes', 'requester', 'node.db'));
      let posted: Awaited<ReturnType<typeof postJob>>;
      try {
        posted = await postJob({
          conn,
          contracts: { market: d.contracts.ComputeMarket!, token: d.contracts.AgoraToken! },
          signer,
          store,
          spec,
          datasetIds,
          workers,
          innerSteps: spec.innerSteps,
          rounds,
          pricePerRound: parseEther(o.price),
          joinWindowS: posInt(o.joinWindow, 'join-window'),
          deadlineS: posInt(o.deadline, 'deadline'),
          challengeS: posInt(o.challenge, 'challenge'),
          onProgress: (m) => c.out.progress(m),
        });
      } finally {
        store.close();
      }
      const { jobId, escrow, fee, txHash } = posted;
      c.out.result(
        {
          jobId: jobId.toString(),
          escrow: escrow.toString(),
          fee: fee.toString(),
          txHash,
        },
        () =>
          `job ${jobId} created: ${spec.name} (${spec.kind}, drift ${spec.drift}, aggregator ${spec.aggregator}, calibration ${spec.calibration}), K=${workers}, H=${spec.innerSteps}, ${rounds} rounds; escrow ${formatEther(escrow)} AGORA + fee ${formatEther(fee)}`,
      );
    });

  job
    .command('spec')
    .description(
      'print a job spec document (a preset, or one made from a data file) to edit and pass to --spec',
    )
    .option('--spec <file>', 'check a spec file and print it')
    .option('--preset <name>', 'a named spec (mnist-mlp)')
    .option('--task <kind>', SPEC_CLI_HELP.task)
    .option('--data <file>', SPEC_CLI_HELP.data)
    .option('--label <column>', SPEC_CLI_HELP.label)
    .option('--objective <objective>', SPEC_CLI_HELP.objective)
    .option('--H <n>', 'inner steps per round')
    .option('--rounds <n>', 'DiLoCo rounds')
    .action(async (o: Record<string, string>, cmd: Command) => {
      const c = ctx(cmd);
      const spec = jobSpecFromCli(o);
      c.out.result(spec, () => JSON.stringify(JSON.parse(canonicalJson(spec)), null, 2));
    });

  job
    .command('status')
    .argument('<id>', 'job id')
    .description('a job on chain: state, participants, rounds committed, rewards')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const c = ctx(cmd);
      const jobId = jobIdOf(id);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['ComputeMarket', 'TrainingLedger']);
      const market = computeMarketClient(conn, d.contracts.ComputeMarket!);
      const ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);
      const j = await market.getJob(jobId);
      if (j.state === 'None')
        throw new AgoraError('JOB_UNKNOWN', `job ${jobId} does not exist on chain ${conn.chainId}`);
      const l = await ledger.getJobLedger(jobId);
      // the spec published on chain under the job's modelSpecHash (undefined: none, or invalid)
      const spec = await fetchJobSpec(conn, d.contracts.ComputeMarket!, j.modelSpecHash).catch(
        () => undefined,
      );
      const s = {
        jobId: jobId.toString(),
        state: j.state,
        task: spec
          ? {
              task: spec.name,
              kind: spec.kind,
              metric: spec.metric,
              drift: spec.drift,
              aggregator: spec.aggregator,
              calibration: spec.calibration,
            }
          : undefined,
        modelSpecHash: j.modelSpecHash,
        requester: j.requester,
        workers: j.workers,
        innerSteps: j.innerSteps,
        rounds: j.rounds,
        roundsCommitted: l.roundsCommitted,
        participants: await market.participants(jobId),
        datasets: (await market.datasetsOf(jobId)).map(String),
        escrow: j.escrow.toString(),
        funded: l.funded.toString(),
        finalModelHash: l.finalModelHash,
        rewardRoot: l.rewardRoot,
        rewardTotal: l.rewardTotal.toString(),
        claimed: l.claimed.toString(),
      };
      c.out.result(s, () =>
        [
          `job ${s.jobId}: ${s.state}, ${s.roundsCommitted}/${s.rounds} rounds committed (K=${s.workers}, H=${s.innerSteps})`,
          `  task ${s.task ? `${s.task.task} (${s.task.kind}, metric ${s.task.metric}, drift ${s.task.drift}, aggregator ${s.task.aggregator}, calibration ${s.task.calibration})` : `unknown (model spec ${s.modelSpecHash})`}`,
          `  datasets ${s.datasets.join(', ')}; participants ${s.participants.join(', ') || '-'}`,
          `  escrow ${formatEther(j.escrow)} AGORA, funded ${formatEther(l.funded)}, rewards ${formatEther(l.rewardTotal)} (claimed ${formatEther(l.claimed)})`,
          `  final model ${s.finalModelHash}`,
        ].join('\n'),
      );
    });

  job
    .command('model')
    .argument('<id>', 'job id')
    .requiredOption(
      '--out <dir>',
      'where to write model.safetensors, config.json, model.onnx, the checkpoint and its provenance manifest',
    )
    .description(
      "save a job's final model (safetensors, hash checked against the chain) and its provenance manifest",
    )
    .action(async (id: string, o: { out: string }, cmd: Command) => {
      const c = ctx(cmd);
      const jobId = jobIdOf(id);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['TrainingLedger']);
      const ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);
      const hash = await ledger.finalModelHash(jobId);
      if (/^0x0+$/.test(hash)) {
        throw new AgoraError('JOB_NO_MODEL', `job ${jobId} has no committed model yet`, {
          hint: `see \`agora job status ${jobId}\``,
        });
      }
      const found = findJobModel(c.home, jobId, hash);
      if (!found) {
        throw new AgoraError(
          'JOB_MODEL_NOT_LOCAL',
          `no file in ${c.home} hashes to job ${jobId}'s final model ${hash}`,
          {
            hint: 'run it with the --home of a node that trained or requested the job',
          },
        );
      }
      const market = (await c.deployment(conn, ['ComputeMarket'])).contracts.ComputeMarket!;
      const spec = await fetchJobSpec(
        conn,
        market,
        (await computeMarketClient(conn, market).getJob(jobId)).modelSpecHash,
      );
      const r = await exportJobModel({
        spec,
        checkpointPath: found.path,
        ...(found.manifest ? { provenanceManifest: found.manifest } : {}),
        dir: o.out,
        jobId,
      });
      c.out.result({ jobId: jobId.toString(), modelHash: hash, ...r }, () =>
        [
          `model of job ${jobId} (${spec.name}, ${spec.kind}; checkpoint hash ${hash} matches the chain) in ${r.dir}:`,
          `  ${r.model}  named weights (no optimizer state)`,
          `  ${r.config}  architecture and preprocessing`,
          `  ${r.onnx}  inference graph`,
          `  ${r.checkpoint}  the committed checkpoint`,
          r.provenanceManifest
            ? `  ${r.provenanceManifest}  provenance manifest`
            : '  no provenance manifest found locally',
          `predict: agora model predict ${r.dir} --input ROWS.jsonl`,
        ].join('\n'),
      );
    });
}
