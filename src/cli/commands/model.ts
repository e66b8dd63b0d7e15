/** `agora model provenance`: what trained a model, from its checkpoint to jobs, rounds and datasets. */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import {
  buildProvenanceReport,
  type ProvenanceManifest,
  parseProvenanceManifest,
  provenanceMarkdown,
} from '../../data/provenance.ts';
import { findJobByModelHash, readChainFacts } from '../../data/provenance-chain.ts';
import { provenanceManifestPath } from '../../data/store.ts';
import { AgoraError } from '../../errors.ts';
import { predictFromDir } from '../../task/export.ts';
import { predictInputRows } from '../../task/predict-input.ts';
import { checkpointHash } from '../../train/checkpoint/hash.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerModelCommands(program: Command, ctx: Ctx): void {
  const model = program.command('model').description('trained models: provenance of their training data');

  model
    .command('predict')
    .argument('<dir>', 'an exported model directory (`agora job model ID --out DIR`)')
    .requiredOption(
      '--input <rows>',
      'JSON (an object of column values, pixel values, {"prompt": …} for a text model, or an array), a .csv/.jsonl/.json file, or a PNG/JPEG image',
    )
    .description(
      'run an exported model: classes with their probabilities for each input, or generated text for a language model',
    )
    .action(async (dir: string, o: { input: string }, cmd: Command) => {
      const c = ctx(cmd);
      const rows = predictInputRows(o.input);
      const predictions = await predictFromDir(dir, rows);
      c.out.result({ predictions }, () =>
        predictions
          .map((p, i) =>
            'label' in p
              ? `${i}: ${p.label} (${Object.entries(p.probabilities)
                  .map(([k, v]) => `${k} ${v.toFixed(3)}`)
                  .join(', ')})`
              : 'text' in p
                ? `${i}: ${p.prompt}${p.text}`
                : `${i}: ${p.value}`,
          )
          .join('\n'),
      );
    });

  model
    .command('provenance')
    .argument('<checkpoint>', 'checkpoint file (its keccak256 is the model hash), or a 0x model hash')
    .option('--manifest <file>', 'provenance manifest (default: CHECKPOINT.provenance.json)')
    .option('--verify', 'check every claim against the chain and report each mismatch (exit 1 on any)')
    .option('--md', 'print the Markdown training-data summary (the default without --json)')
    .description(
      'job, rounds, participants and datasets (licences, contributors, records used) behind a model',
    )
    .action(
      async (checkpoint: string, o: { manifest?: string; verify?: boolean; md?: boolean }, cmd: Command) => {
        const c = ctx(cmd);
        const isHash = /^0x[0-9a-fA-F]{64}$/.test(checkpoint);
        let ckptHash: Hex | null = null;
        if (!isHash) {
          let bytes: Buffer;
          try {
            bytes = readFileSync(checkpoint);
          } catch (e) {
            throw new AgoraError(
              'CHECKPOINT_UNREADABLE',
              `cannot read checkpoint ${checkpoint}: ${(e as Error).message}`,
              {
                hint: 'pass a checkpoint file or a 0x model hash',
                cause: e,
              },
            );
          }
          c.out.progress(`hashing ${checkpoint} (${bytes.length} bytes)…`);
          ckptHash = checkpointHash(bytes) as Hex;
        }
        const modelHash = (ckptHash ?? checkpoint.toLowerCase()) as Hex;
        const manifestPath = o.manifest ?? (isHash ? undefined : provenanceManifestPath(checkpoint));
        let manifest: ProvenanceManifest | null = null;
        if (manifestPath && (o.manifest || existsSync(manifestPath))) {
          let text: string;
          try {
            text = readFileSync(manifestPath, 'utf8');
          } catch (e) {
            throw new AgoraError(
              'PROVENANCE_MISSING',
              `cannot read ${manifestPath}: ${(e as Error).message}`,
              { cause: e },
            );
          }
          manifest = parseProvenanceManifest(text, manifestPath);
        } else c.out.progress('no provenance manifest beside the checkpoint: reporting chain facts only');

        const conn = await c.connect();
        const d = await c.deployment(conn, ['TrainingLedger', 'ComputeMarket', 'DataRegistry']);
        const contracts = {
          TrainingLedger: d.contracts.TrainingLedger!,
          ComputeMarket: d.contracts.ComputeMarket!,
          DataRegistry: d.contracts.DataRegistry!,
        };
        let jobId: bigint;
        if (manifest) jobId = BigInt(manifest.jobId);
        else {
          c.out.progress(`looking for the job that produced ${modelHash}…`);
          const found = await findJobByModelHash(
            conn,
            contracts.TrainingLedger,
            modelHash,
            BigInt(d.blockNumber),
          );
          if (!found) {
            throw new AgoraError(
              'MODEL_UNKNOWN',
              `no job on chain ${conn.chainId} committed model ${modelHash}`,
              {
                hint: 'check --rpc/--home, or that the checkpoint is the one the job committed (keccak256 of the file)',
              },
            );
          }
          jobId = found.jobId;
        }
        c.out.progress(`reading job ${jobId} from the chain…`);
        const facts = await readChainFacts(conn, contracts, jobId);
        const report = buildProvenanceReport({
          facts,
          manifest,
          modelHash,
          checkpoint: isHash ? null : checkpoint,
          checkpointHash: ckptHash,
          verify: Boolean(o.verify),
        });
        c.out.result(report, () => provenanceMarkdown(report));
        if (report.verified === false) {
          process.stderr.write(
            `provenance check failed: ${report.mismatches.length} claim(s) do not match the chain\n`,
          );
          for (const m of report.mismatches) process.stderr.write(`  - [${m.check}] ${m.message}\n`);
          process.exitCode = 1;
        }
      },
    );
}
