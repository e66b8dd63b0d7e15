/** `agora data add|show|prove|verify`: attested datasets, record proofs (src/data/dataset.ts). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { LocalAccount } from 'viem';
import {
  parseRecordProof,
  prepareDataset,
  proveRecord,
  registerDataset,
  showDataset,
  verifyRecordProof,
} from '../../data/dataset.ts';
import { RECORD_FORMATS, type RecordFormat } from '../../data/records.ts';
import { AgoraError } from '../../errors.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

function parseId(value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) < 1n) {
    throw new AgoraError('BAD_ARGUMENT', `dataset id must be a positive integer, not "${value}"`);
  }
  return BigInt(value);
}

function parseIndex(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new AgoraError('BAD_ARGUMENT', `record index must be a non-negative integer, not "${value}"`);
  }
  return n;
}

function readFileOrThrow(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new AgoraError('FILE_NOT_FOUND', `cannot read ${what} ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export function registerDataCommands(program: Command, ctx: Ctx): void {
  const data = program
    .command('data')
    .description('attested datasets: register, show, prove and verify records');

  data
    .command('add')
    .argument('<path>', 'file, directory, or IMAGES,LABELS for idx')
    .description('split a source into records, build its Merkle tree and manifest, sign and register it')
    .requiredOption('--licence <spdx>', 'SPDX licence id (MIT, Apache-2.0, CC-BY-4.0, …) or LicenseRef-…')
    .requiredOption(
      '--sector <name>',
      'sector the data belongs to; it must be open (`agora gov params` lists the open sectors)',
    )
    .option('--format <format>', `record format: ${RECORD_FORMATS.join('|')} (default: from the path)`)
    .option('--chunk <bytes>', 'text only: fixed-size chunks of this many bytes instead of lines')
    .action(
      async (
        path: string,
        o: { licence: string; sector: string; format?: string; chunk?: string },
        cmd: Command,
      ) => {
        const c = ctx(cmd);
        if (o.format !== undefined && !RECORD_FORMATS.includes(o.format as RecordFormat)) {
          throw new AgoraError('BAD_OPTION', `unknown --format "${o.format}"`, {
            hint: `use ${RECORD_FORMATS.join('|')}`,
          });
        }
        const chunkBytes = o.chunk === undefined ? undefined : Number(o.chunk);
        // Fail fast on what needs no work: chain, deployment, wallet — before hashing a big source.
        const conn = await c.connect();
        const d = await c.deployment(conn, ['DataRegistry']);
        const contributor = (await c.signer(conn)) as LocalAccount;
        const prepared = prepareDataset({
          path,
          licence: o.licence,
          sector: o.sector,
          format: o.format as RecordFormat | undefined,
          chunkBytes,
          onProgress: (m) => c.out.progress(m),
        });
        const r = await registerDataset({
          conn,
          registry: d.contracts.DataRegistry!,
          contributor,
          home: c.home,
          prepared,
          source: { path, format: prepared.records.schema.format, chunkBytes },
          onProgress: (m) => c.out.progress(m),
        });
        c.out.result(
          { datasetId: r.datasetId.toString(), root: r.root, records: r.records, txHash: r.txHash },
          () =>
            [
              `registered dataset ${r.datasetId}: ${r.records} records, licence ${prepared.manifest.licence}, sector ${prepared.manifest.sector}`,
              `root ${r.root}`,
              `tx ${r.txHash}`,
              `manifest ${r.dir}`,
            ].join('\n'),
        );
      },
    );

  data
    .command('show')
    .argument('<id>', 'dataset id')
    .description(
      'a registered dataset and its signed EIP-712 attestation (verifiable by any EIP-712 library)',
    )
    .action(async (id: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['DataRegistry']);
      const s = await showDataset({
        conn,
        registry: d.contracts.DataRegistry!,
        home: c.home,
        datasetId: parseId(id),
      });
      c.out.result(s, () =>
        [
          `dataset ${s.datasetId}: ${s.records} records, ${s.bytes} bytes`,
          `licence ${s.licence}, sector ${s.sector}`,
          `contributor ${s.contributor} (signature checked)`,
          `root ${s.root}`,
          `manifestHash ${s.manifestHash}`,
          s.local
            ? `local manifest ${s.local.dir} (${s.local.schema.format})`
            : 'no local manifest in this home',
        ].join('\n'),
      );
    });

  data
    .command('prove')
    .argument('<id>', 'dataset id')
    .argument('<index>', 'record index (0-based)')
    .description('Merkle proof that a record belongs to a dataset (needs the dataset’s local manifest)')
    .action(async (id: string, index: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['DataRegistry']);
      const p = await proveRecord({
        conn,
        registry: d.contracts.DataRegistry!,
        home: c.home,
        datasetId: parseId(id),
        index: parseIndex(index),
        onProgress: (m) => c.out.progress(m),
      });
      c.out.result(p);
    });

  data
    .command('verify')
    .argument('<file>', 'a proof as printed by `agora data prove --json`')
    .option('--record <file>', 'the record’s bytes: also check that they hash to the proof’s contentHash')
    .description('check a record proof locally and on-chain (DataRegistry.verifyRecord)')
    .action(async (file: string, o: { record?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const proof = parseRecordProof(readFileOrThrow(file, 'proof file').toString('utf8'), file);
      const record = o.record ? new Uint8Array(readFileOrThrow(o.record, 'record file')) : undefined;
      const conn = await c.connect();
      const d = await c.deployment(conn, ['DataRegistry']);
      const r = await verifyRecordProof({ conn, registry: d.contracts.DataRegistry!, proof, record });
      if (!r.valid) {
        throw new AgoraError(
          'PROOF_INVALID',
          `record ${r.index} of dataset ${r.datasetId}: ${r.problems.join('; ')}`,
          {
            hint: 'get a fresh proof with `agora data prove ID INDEX --json` and check the record file',
          },
        );
      }
      c.out.result(
        r,
        () =>
          `valid: record ${r.index} of dataset ${r.datasetId} (contentHash ${r.contentHash}) — local ✓, on-chain ✓${r.recordMatches ? ', record bytes ✓' : ''}`,
      );
    });
}
