/**
 * `agora model earnings <job>`: what a model's sales earned each of its makers (providers, data
 * contributors, validators, protocol), what is posted on-chain and claimed; `--post` (seller) funds
 * the distribution, `--claim` (maker) collects. The split is recomputed from the provenance manifest,
 * and checked against the root the seller posted.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type Address, formatEther, getAddress, type Hex } from 'viem';
import { walletClientFor } from '../../chain/connect.ts';
import { trainingLedgerClient } from '../../chain/training-ledger.ts';
import { parseProvenanceManifest } from '../../data/provenance.ts';
import { provenanceManifestPath } from '../../data/store.ts';
import { AgoraError } from '../../errors.ts';
import { findJobModel } from '../../node/job-files.ts';
import {
  ModelRevenueClient,
  modelRevenueSplit,
  type RevenueLine,
  revenueFactsFromChain,
} from '../../serve/revenue.ts';
import { openChannelStore } from '../../serve/service.ts';
import type { CliContext } from '../context.ts';
import { resolveAddress } from './pay.ts';

type Ctx = (cmd: Command) => CliContext;

type Opts = { seller?: string; manifest?: string; post?: boolean; claim?: boolean; for?: string };

export function registerEarningsCommand(program: Command, ctx: Ctx): void {
  const model = program.commands.find((c) => c.name() === 'model') ?? program.command('model');
  model
    .command('earnings')
    .argument('<job>', 'job id of the model')
    .option('--seller <address>', 'whose sales (default: this wallet)')
    .option('--manifest <file>', 'provenance manifest (default: the job model found in --home)')
    .option('--post', 'as the seller: post the split of what this wallet earned and fund it')
    .option('--claim', 'claim what this wallet (or --for) has earned and not claimed')
    .option('--for <address>', 'claim for this account (anyone may submit a claim)')
    .description("a model's revenue split by its provenance: earned, posted and claimed per maker")
    .action(async (job: string, o: Opts, cmd: Command) => {
      const c = ctx(cmd);
      if (!/^[0-9]+$/.test(job)) throw new AgoraError('BAD_OPTION', `job id "${job}" is not a number`);
      const conn = await c.connect();
      const d = await c.deployment(conn, [
        'ModelRevenue',
        'ProtocolParams',
        'ComputeMarket',
        'DataRegistry',
        'TrainingLedger',
        'AgoraToken',
      ]);
      let manifestPath = o.manifest;
      if (!manifestPath) {
        const hash = await trainingLedgerClient(conn, d.contracts.TrainingLedger!).finalModelHash(
          BigInt(job),
        );
        const found = findJobModel(c.home, BigInt(job), hash);
        manifestPath = found?.manifest ?? (found ? provenanceManifestPath(found.path) : undefined);
      }
      if (!manifestPath || !existsSync(manifestPath)) {
        throw new AgoraError('REVENUE_NO_MANIFEST', `no provenance manifest of job ${job} here`, {
          hint: 'pass --manifest FILE (written beside the model by `agora job model ID --out DIR`)',
        });
      }
      const manifest = parseProvenanceManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
      const account = o.post || o.claim || !o.seller ? await c.signer(conn) : undefined;
      const seller = o.seller ? resolveAddress(o.seller, '--seller') : getAddress(account!.address);
      const modelHash = manifest.modelHash.toLowerCase() as Hex;
      const revenue = new ModelRevenueClient(conn, d.contracts.ModelRevenue!);
      const facts = await revenueFactsFromChain({
        conn,
        manifest,
        params: d.contracts.ProtocolParams!,
        market: d.contracts.ComputeMarket!,
        registry: d.contracts.DataRegistry!,
      });
      let posted = await revenue.distribution(seller, modelHash);
      const isSeller = account && getAddress(account.address) === seller;
      const earned = isSeller ? openChannelStore(c.home).earned(modelHash) : posted.funded;
      let split = modelRevenueSplit(manifest, earned, facts);
      let postTx: Hex | undefined;
      if (o.post) {
        if (!isSeller)
          throw new AgoraError('REVENUE_NOT_SELLER', 'only the seller posts its own revenue', {
            hint: 'drop --seller',
          });
        postTx = (
          await revenue.post(walletClientFor(conn, account!), d.contracts.AgoraToken!, modelHash, split)
        ).hash;
        posted = await revenue.distribution(seller, modelHash);
      }
      // What is on chain is checked against the split recomputed from the manifest.
      const postedSplit =
        posted.funded === split.amount ? split : modelRevenueSplit(manifest, posted.funded, facts);
      const verified = posted.funded === 0n || postedSplit.root === posted.root;
      let claimTx: Hex | undefined;
      if (o.claim) {
        if (!verified) {
          throw new AgoraError(
            'REVENUE_ROOT_MISMATCH',
            `the posted root ${posted.root} is not the split of the manifest for ${posted.funded}`,
            {
              hint: 'the seller posted a different split: report it',
            },
          );
        }
        const who: Address = o.for ? resolveAddress(o.for, '--for') : getAddress(account!.address);
        claimTx = (await revenue.claim(walletClientFor(conn, account!), seller, modelHash, postedSplit, who))
          .hash;
        split = postedSplit;
      }
      const lines: (RevenueLine & { claimedByAccount: bigint })[] = [];
      for (const l of split.lines) {
        const claimed = await revenue.claimed(seller, modelHash, l.account);
        lines.push({ ...l, claimedByAccount: claimed });
      }
      c.out.result(
        {
          jobId: job,
          modelHash,
          seller,
          earned: split.amount,
          fee: split.fee,
          lines,
          posted,
          postedMatchesManifest: verified,
          postTx: postTx ?? null,
          claimTx: claimTx ?? null,
        },
        () =>
          [
            `model ${modelHash} (job ${job}), seller ${seller}: earned ${formatEther(split.amount)} AGORA (fee ${formatEther(split.fee)})`,
            ...lines.map(
              (l) =>
                `  ${l.role.padEnd(9)} ${l.account}  ${formatEther(l.amount)}  (account has claimed ${formatEther(l.claimedByAccount)})`,
            ),
            `on chain: funded ${formatEther(posted.funded)}, paid out ${formatEther(posted.paid)}; root ${verified ? 'matches' : 'DOES NOT match'} the manifest's split`,
            ...(postTx ? [`posted (tx ${postTx})`] : []),
            ...(claimTx ? [`claimed (tx ${claimTx})`] : []),
          ].join('\n'),
      );
    });
}
