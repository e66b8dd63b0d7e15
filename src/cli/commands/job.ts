/**
 * `agora job create|status|model`: the requester's side of the ComputeMarket. Thin: parse, call the
 * chain clients and src/node, print (`--json` for machines).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
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
import { TASK_AGGREGATORS, TASK_CALIBRATIONS, TASK_DRIFTS, taskSpec, taskSpecOf } from '../../node/task.ts';
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
    .requiredOption('--task <task>', 'training task (mnist-mlp)')
    .option('--drift <name>', `drift correction (${TASK_DRIFTS.join(', ')})`, 'fixed-head')
    .option('--aggregator <name>', `all-reduce aggregator (${TASK_AGGREGATORS.join(', ')})`, 'mean')
    .option(
      '--calibration <name>',
      `what the last round does to the output layer (${TASK_CALIBRATIONS.join(', ')})`,
      'lda-head',
    )
    .requiredOption('--datasets <ids>', 'comma-separated DataRegistry dataset ids')
    .option('--workers <K>', 'providers (seats)', '4')
    .option('--H <n>', 'inner steps per round', '10')
    .option('--rounds <n>', 'DiLoCo rounds', '100')
    .option('--price <agora>', 'price per round per worker, in AGORA', '1')
    .option('--join-window <s>', 'seconds providers have to join', '600')
    .option('--deadline <s>', 'seconds until the job must be complete', '7200')
    .option('--challenge <s>', 'challenge period after the job ends, seconds', '10')
    .action(async (o: Record<string, string>, cmd: Command) => {
      const c = ctx(cmd);
      const spec = taskSpec(o.task, { drift: o.drift, aggregator: o.aggregator, calibration: o.calibration });
      const datasetIds = o.datasets.split(',').map((s) => jobIdOf(s.trim()));
      const conn = await c.connect();
      const d = await c.deployment(conn, ['ComputeMarket', 'AgoraToken']);
      const account = (await c.signer(conn)) as LocalAccount;
      const signer = walletClientFor(conn, account);
      const workers = posInt(o.workers, 'workers');
      const rounds = posInt(o.rounds, 'rounds');
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
          innerSteps: posInt(o.H, 'H'),
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
          `job ${jobId} created: ${spec.task} (drift ${spec.drift}, aggregator ${spec.aggregator}, calibration ${spec.calibration}), K=${workers}, H=${o.H}, ${rounds} rounds; escrow ${formatEther(escrow)} AGORA + fee ${formatEther(fee)}`,
      );
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
      const spec = taskSpecOf(j.modelSpecHash);
      const s = {
        jobId: jobId.toString(),
        state: j.state,
        // the task its model spec hash names (undefined: a task this agora does not know)
        task: spec
          ? { task: spec.task, drift: spec.drift, aggregator: spec.aggregator, calibration: spec.calibration }
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
          `  task ${s.task ? `${s.task.task} (drift ${s.task.drift}, aggregator ${s.task.aggregator}, calibration ${s.task.calibration})` : `unknown (model spec ${s.modelSpecHash})`}`,
          `  datasets ${s.datasets.join(', ')}; participants ${s.participants.join(', ') || '-'}`,
          `  escrow ${formatEther(j.escrow)} AGORA, funded ${formatEther(l.funded)}, rewards ${formatEther(l.rewardTotal)} (claimed ${formatEther(l.claimed)})`,
          `  final model ${s.finalModelHash}`,
        ].join('\n'),
      );
    });

  job
    .command('model')
    .argument('<id>', 'job id')
    .requiredOption('--out <dir>', 'where to write model.safetensors and its provenance manifest')
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
      mkdirSync(o.out, { recursive: true });
      const model = join(o.out, 'model.safetensors');
      copyFileSync(found.path, model);
      let manifest: string | undefined;
      if (found.manifest) {
        manifest = `${model}.provenance.json`;
        copyFileSync(found.manifest, manifest);
      }
      c.out.result(
        { jobId: jobId.toString(), modelHash: hash, model, provenanceManifest: manifest ?? null },
        () =>
          [
            `model of job ${jobId} (hash ${hash}, matches the chain): ${model}`,
            manifest ? `provenance manifest: ${manifest}` : 'no provenance manifest found locally',
          ].join('\n'),
      );
    });
}
