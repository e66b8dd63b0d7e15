/**
 * `agora models [url...]`: what can be bought. The offers sellers made on chain (`agora serve
 * --offer`), and the servers given here (remembered in <home>/models/endpoints.json): each server's
 * signed announcement is fetched and its signature checked (an on-chain offer must be announced by
 * the seller who made it), each model hash is checked against its job's final model hash, and the
 * job's name and metric are read from its spec on chain.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { type Address, formatEther } from 'viem';
import { AgoraError, isAgoraError } from '../../errors.ts';
import {
  announced,
  checkAnnouncedModels,
  type DiscoveredServer,
  type DiscoveryContracts,
  discoverOffered,
} from '../../serve/discovery.ts';
import { fetchAnnouncement, saveModelName } from '../../serve/model-offers.ts';
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
    .description(
      'models for sale: offers on chain and given servers, their signed announcements checked against the chain',
    )
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
      let conn: Awaited<ReturnType<CliContext['connect']>> | undefined;
      let contracts: DiscoveryContracts = {};
      let modelRevenue: Address | undefined;
      try {
        conn = await c.connect();
        const d = await c.deployment(conn, ['TrainingLedger']);
        contracts = { trainingLedger: d.contracts.TrainingLedger, computeMarket: d.contracts.ComputeMarket };
        modelRevenue = d.contracts.ModelRevenue;
      } catch (e) {
        c.out.progress(`not checked against the chain: ${isAgoraError(e) ? e.message : String(e)}`);
      }
      const servers: DiscoveredServer[] = [];
      // What sellers offered on chain (each checked against its endpoint's signed announcement)…
      if (conn && modelRevenue && !o.forget) {
        c.out.progress('reading the offers on chain…');
        servers.push(...(await discoverOffered(conn, modelRevenue, contracts)));
      }
      // …and the servers this home was given (and remembers).
      for (const url of o.forget ? [] : all) {
        if (servers.some((s) => s.endpoint === url && !('error' in s))) continue;
        try {
          const a = await fetchAnnouncement(url);
          const models = await checkAnnouncedModels(conn, contracts, a, 'url');
          servers.push({ endpoint: url, seller: a.seller, source: 'url', ...announced(a), models });
        } catch (e) {
          servers.push({
            endpoint: url,
            source: 'url',
            error: isAgoraError(e) ? e.message : String(e),
            models: [],
          });
        }
      }
      c.out.result(
        { servers },
        () =>
          servers
            .flatMap((s) =>
              'error' in s
                ? [`${s.endpoint} (${s.source}): ${s.error}`]
                : s.models.map(
                    (m) =>
                      `${m.predict}  job ${m.jobId ?? '-'}${m.job ? ` "${m.job.name}"` : ''}  ${m.task}${m.metric ? ` (${m.metric})` : ''}  ${formatEther(BigInt(m.unitPrice))} AGORA/row  model ${m.modelHash} (${m.onChain === 'match' ? 'matches its job on chain' : m.onChain})  seller ${s.seller}${m.rounds ? `  ${m.rounds} rounds` : ''}${m.datasets?.length ? `, datasets ${m.datasets.join(' ')}` : ''}  [${s.source}]`,
                  ),
            )
            .join('\n') || 'nothing for sale',
      );
    });
}
