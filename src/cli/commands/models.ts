/**
 * `agora models [url...]`: what can be bought. Fetches each server's signed announcement
 * (remembering the endpoints in <home>/models/endpoints.json), checks its signature, and checks each
 * model hash against its job's final model hash on the connected chain.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { formatEther, type Hex } from 'viem';
import { trainingLedgerClient } from '../../chain/training-ledger.ts';
import { AgoraError, isAgoraError } from '../../errors.ts';
import {
  type AnnouncedModel,
  type SignedAnnouncement,
  verifyAnnouncement,
} from '../../serve/announcement.ts';
import { saveModelName } from '../../serve/model-offers.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

function endpointsFile(home: string): string {
  return join(home, 'models', 'endpoints.json');
}

export function registerModelsCommand(program: Command, ctx: Ctx): void {
  program
    .command('models')
    .argument('[url...]', 'servers to ask (remembered for next time)')
    .option('--forget', 'forget the given servers')
    .option(
      '--name <name>',
      'a name for the one server given (`agora ask "ask the NAME model about x.json"`)',
    )
    .description('models for sale: signed announcements of agora serve endpoints, checked against the chain')
    .action(async (urls: string[], o: { forget?: boolean; name?: string }, cmd: Command) => {
      const c = ctx(cmd);
      if (o.name !== undefined) {
        if (urls.length !== 1) {
          throw new AgoraError('MODELS_NAME_ONE_URL', `--name names one server; ${urls.length} were given`, {
            hint: 'agora models http://host:8402 --name clinic',
          });
        }
        saveModelName(c.home, o.name, urls[0]!);
      }
      const file = endpointsFile(c.home);
      const known: string[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as string[]) : [];
      const norm = urls.map((u) => u.replace(/\/+$/, ''));
      const all = o.forget ? known.filter((u) => !norm.includes(u)) : [...new Set([...known, ...norm])];
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
      if (all.length === 0) {
        throw new AgoraError('MODELS_NONE', 'no model servers known', {
          hint: 'agora models http://host:8402 (the URL of an agora serve)',
        });
      }
      let ledger: ReturnType<typeof trainingLedgerClient> | undefined;
      let chainId: number | undefined;
      try {
        const conn = await c.connect();
        chainId = conn.chainId;
        const d = await c.deployment(conn, ['TrainingLedger']);
        ledger = trainingLedgerClient(conn, d.contracts.TrainingLedger!);
      } catch (e) {
        c.out.progress(
          `model hashes not checked against the chain: ${isAgoraError(e) ? e.message : String(e)}`,
        );
      }
      type Listed = AnnouncedModel & { predict: string; onChain: 'match' | 'mismatch' | 'unchecked' };
      const servers: (
        | { url: string; error: string; models: Listed[] }
        | {
            url: string;
            seller: string;
            chainId: number;
            schemes: string[];
            issuedAt: number;
            models: Listed[];
          }
      )[] = [];
      for (const url of o.forget ? [] : all) {
        try {
          const res = await fetch(`${url}/v1/announcement`);
          if (!res.ok) throw new AgoraError('MODELS_NO_ANNOUNCEMENT', `${url} answered ${res.status}`);
          const a: SignedAnnouncement = await verifyAnnouncement(await res.json());
          const models: Listed[] = [];
          for (const m of a.models) {
            // 'unchecked': other chain, no job id, or the job has no final model on this chain.
            let onChain: 'match' | 'mismatch' | 'unchecked' = 'unchecked';
            if (ledger && chainId === a.chainId && m.jobId) {
              const h = (await ledger.finalModelHash(BigInt(m.jobId)).catch(() => undefined)) as
                | Hex
                | undefined;
              if (h && !/^0x0+$/.test(h))
                onChain = h.toLowerCase() === m.modelHash.toLowerCase() ? 'match' : 'mismatch';
            }
            models.push({ ...m, predict: `${url}/v1/models/${m.id}/predict`, onChain });
          }
          servers.push({
            url,
            seller: a.seller,
            chainId: a.chainId,
            schemes: a.schemes,
            issuedAt: a.issuedAt,
            models,
          });
        } catch (e) {
          servers.push({ url, error: isAgoraError(e) ? e.message : String(e), models: [] });
        }
      }
      c.out.result(
        { servers },
        () =>
          servers
            .flatMap((s) =>
              'error' in s
                ? [`${s.url}: ${s.error}`]
                : s.models.map(
                    (m) =>
                      `${m.predict}  job ${m.jobId ?? '-'}  ${m.task}  ${formatEther(BigInt(m.unitPrice))} AGORA/row  model ${m.modelHash} (${m.onChain === 'match' ? 'matches its job on chain' : m.onChain})  seller ${s.seller}${m.rounds ? `  ${m.rounds} rounds` : ''}`,
                  ),
            )
            .join('\n') || 'nothing for sale',
      );
    });
}
