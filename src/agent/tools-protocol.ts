/**
 * Executors of the protocol tools: datasets, jobs, rewards, payment channels, governance. Each plans
 * from the same library calls the CLI uses (src/data, src/node/post-job, src/market, src/pay,
 * src/chain/governance) and runs them only when its plan is confirmed.
 */
import { join } from 'node:path';
import { formatEther, type Hex, parseEther } from 'viem';
import { computeMarketClient } from '../chain/compute-market.ts';
import { walletClientFor } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { prepareDataset, registerDataset, showDataset } from '../data/dataset.ts';
import { AgoraError } from '../errors.ts';
import { claimReward, knownClaims } from '../market/claimable.ts';
import { postJob } from '../node/post-job.ts';
import { NodeStore } from '../node/store.ts';
import { ChannelClient } from '../pay/channel-client.ts';
import { presetSpec } from '../task/presets.ts';
import { parseAmount } from '../wallet/amount.ts';
import { openChannels } from '../wallet/balance.ts';
import { labelOf } from '../wallet/contacts.ts';
import { type AgentEnv, agora, contract, nowOf, resolveParty } from './env.ts';
import type { PlanBody } from './tools.ts';

type A = Record<string, unknown>;

export async function planDataAdd(env: AgentEnv, a: A): Promise<PlanBody> {
  if (!a.licence || !a.sector) {
    throw new AgoraError('NEEDS_MORE', `registering ${a.file} needs a licence and a sector`, {
      hint: 'say e.g. "register data.csv under CC-BY-4.0 in the text sector"',
    });
  }
  const registry = contract(env, 'DataRegistry');
  const prepared = prepareDataset({
    path: String(a.file),
    licence: String(a.licence),
    sector: String(a.sector),
  });
  const m = prepared.manifest;
  return {
    summary: `register ${a.file} as a dataset: ${m.records} records, licence ${m.licence}, sector ${m.sector}`,
    lines: [`contributor ${env.address} signs the attestation`, `Merkle root ${m.root}`],
    params: { file: String(a.file), root: m.root, licence: m.licence, sector: m.sector, registry },
    async execute() {
      const r = await registerDataset({
        conn: env.conn,
        registry,
        contributor: await env.account(),
        home: env.home,
        prepared,
        source: { path: String(a.file), format: prepared.records.schema.format },
      });
      return {
        tool: 'data.add',
        summary: `registered dataset ${r.datasetId} (${r.records} records)`,
        data: { datasetId: r.datasetId.toString(), root: r.root, records: r.records },
        txHash: r.txHash,
      };
    },
  };
}

export async function planDataShow(env: AgentEnv, a: A): Promise<PlanBody> {
  const registry = contract(env, 'DataRegistry');
  return {
    summary: `show dataset ${a.datasetId}`,
    lines: [],
    params: { datasetId: String(a.datasetId) },
    async execute() {
      const s = await showDataset({
        conn: env.conn,
        registry,
        home: env.home,
        datasetId: BigInt(String(a.datasetId)),
      });
      return {
        tool: 'data.show',
        summary: `dataset ${s.datasetId}: ${s.records} records, licence ${s.licence}, sector ${s.sector}, contributor ${s.contributor}`,
        data: {
          datasetId: s.datasetId,
          records: s.records,
          licence: s.licence,
          sector: s.sector,
          contributor: s.contributor,
          root: s.root,
        },
      };
    },
  };
}

export async function planJobCreate(env: AgentEnv, a: A): Promise<PlanBody> {
  const datasets = (a.datasets as string[] | undefined) ?? [];
  if (datasets.length === 0) {
    throw new AgoraError('NEEDS_MORE', 'a training job needs datasets', {
      hint: 'say which, e.g. "train mnist-mlp on datasets 1 and 2"',
    });
  }
  const workers = Number(a.workers ?? 4);
  const rounds = Number(a.rounds ?? 100);
  const spec = presetSpec(String(a.task), { innerSteps: 10, rounds });
  const price = a.price === undefined ? parseEther('1') : parseAmount(String(a.price));
  const market = contract(env, 'ComputeMarket');
  const token = contract(env, 'AgoraToken');
  const { escrow, fee } = await computeMarketClient(env.conn, market).quote(price, rounds, workers);
  const balance = await tokenClient(env.conn, token).balanceOf(env.address);
  if (balance < escrow + fee) {
    throw new AgoraError(
      'INSUFFICIENT_AGORA',
      `the job costs ${agora(escrow + fee)}; your wallet holds ${agora(balance)}`,
    );
  }
  return {
    summary: `post a ${spec.name} job on datasets ${datasets.join(', ')}: ${workers} workers × ${rounds} rounds at ${agora(price)} per round`,
    lines: [
      `escrow ${agora(escrow)} + protocol fee ${agora(fee)}`,
      `balance after ${agora(balance - escrow - fee)}`,
    ],
    params: {
      task: spec.name,
      datasets: datasets.join(','),
      workers: String(workers),
      rounds: String(rounds),
      price: price.toString(),
    },
    spend: { token: 'AGORA', amount: escrow + fee, to: market, contract: 'ComputeMarket' },
    async execute() {
      const store = new NodeStore(join(env.home, 'nodes', 'requester', 'node.db'));
      try {
        const r = await postJob({
          conn: env.conn,
          contracts: { market, token },
          signer: walletClientFor(env.conn, await env.account()),
          store,
          spec,
          datasetIds: datasets.map(BigInt),
          workers,
          innerSteps: 10,
          rounds,
          pricePerRound: price,
        });
        return {
          tool: 'job.create',
          summary: `job ${r.jobId} posted; ${agora(r.escrow + r.fee)} in escrow and fee`,
          data: { jobId: r.jobId.toString(), escrow: formatEther(r.escrow), fee: formatEther(r.fee) },
          txHash: r.txHash,
        };
      } finally {
        store.close();
      }
    },
  };
}

export async function planJobStatus(env: AgentEnv, a: A): Promise<PlanBody> {
  const market = computeMarketClient(env.conn, contract(env, 'ComputeMarket'));
  const ledger = trainingLedgerClient(env.conn, contract(env, 'TrainingLedger'));
  const jobId = BigInt(String(a.jobId));
  return {
    summary: `show job ${jobId}`,
    lines: [],
    params: { jobId: jobId.toString() },
    async execute() {
      const j = await market.getJob(jobId);
      if (j.state === 'None') throw new AgoraError('JOB_UNKNOWN', `job ${jobId} does not exist`);
      const l = await ledger.getJobLedger(jobId);
      return {
        tool: 'job.status',
        summary: `job ${jobId}: ${j.state}, ${l.roundsCommitted}/${j.rounds} rounds, escrow ${agora(j.escrow)}`,
        data: {
          jobId: jobId.toString(),
          state: j.state,
          rounds: Number(j.rounds),
          roundsCommitted: l.roundsCommitted,
        },
      };
    },
  };
}

export async function planRewardsClaim(env: AgentEnv, a: A): Promise<PlanBody> {
  const ledger = contract(env, 'TrainingLedger');
  const jobId = BigInt(String(a.jobId));
  const c = knownClaims(env.home, env.address).find((x) => x.jobId === jobId.toString());
  if (!c) {
    throw new AgoraError(
      'CLAIM_UNKNOWN',
      `this home has no reward proof for ${env.address} in job ${jobId}`,
      {
        hint: 'claims are recorded by the node that worked on the job: use its --home and wallet',
      },
    );
  }
  return {
    summary: `claim ${agora(c.amount)} of rewards from job ${jobId} to ${env.address}`,
    lines: [],
    params: { jobId: jobId.toString(), amount: c.amount.toString() },
    spend: { token: 'AGORA', amount: 0n, to: env.address },
    async execute() {
      const r = await claimReward(
        env.conn,
        ledger,
        env.home,
        walletClientFor(env.conn, await env.account()),
        jobId,
      );
      return {
        tool: 'rewards.claim',
        summary: `claimed ${agora(r.amount)} from job ${jobId}`,
        data: { jobId: r.jobId, amount: formatEther(r.amount) },
        txHash: r.txHash,
      };
    },
  };
}

export async function planPayOpen(env: AgentEnv, a: A): Promise<PlanBody> {
  const to = resolveParty(env, String(a.to));
  const amount = parseAmount(String(a.amount));
  const channels = contract(env, 'PaymentChannels');
  const token = contract(env, 'AgoraToken');
  const client = new ChannelClient(env.conn, channels);
  const balance = await tokenClient(env.conn, token).balanceOf(env.address);
  if (balance < amount)
    throw new AgoraError(
      'INSUFFICIENT_AGORA',
      `your wallet holds ${agora(balance)}, less than the ${agora(amount)} deposit`,
    );
  const period = (await client.bounds()).default;
  return {
    summary: `open a payment channel to ${labelOf(to)} with a deposit of ${agora(amount)}`,
    lines: [
      `challenge period ${period} s; unspent deposit comes back when you close it`,
      `balance after ${agora(balance - amount)}`,
    ],
    params: { to: to.address, amount: amount.toString(), token, channels },
    spend: { token: 'AGORA', amount, to: channels, contract: 'PaymentChannels' },
    async execute() {
      const c = new ChannelClient(env.conn, channels, await env.account());
      const r = await c.open({ recipient: to.address, token, amount });
      return {
        tool: 'pay.open',
        summary: `opened channel ${r.channelId} to ${labelOf(to)}`,
        data: { channelId: r.channelId, deposit: formatEther(amount) },
        txHash: r.hash,
      };
    },
  };
}

export async function planPayClose(env: AgentEnv, a: A): Promise<PlanBody> {
  const channels = contract(env, 'PaymentChannels');
  const mine = (
    await openChannels(env.conn, channels, env.address, BigInt(env.deployment?.blockNumber ?? 0))
  ).filter((c) => c.role === 'sender');
  let id = a.channelId as Hex | undefined;
  if (!id) {
    const payee = resolveParty(env, String(a.with));
    const matches = mine.filter((c) => c.counterparty === payee.address);
    if (matches.length !== 1) {
      throw new AgoraError(
        'CHANNEL_AMBIGUOUS',
        `you have ${matches.length} open channels to ${labelOf(payee)}`,
        { hint: 'say which by its channel id (see `agora wallet balance`)' },
      );
    }
    id = matches[0]!.channelId;
  }
  const ch = mine.find((c) => c.channelId.toLowerCase() === id?.toLowerCase());
  if (!ch) throw new AgoraError('CHANNEL_NOT_YOURS', `${id} is not an open channel you pay from`);
  const now = nowOf(env);
  const withdraw = ch.closesAt > 0 && now >= ch.closesAt;
  if (ch.closesAt > 0 && !withdraw) {
    throw new AgoraError(
      'CHANNEL_CLOSING',
      `channel ${id} is closing; its refund can be withdrawn after ${new Date(ch.closesAt * 1000).toISOString()}`,
    );
  }
  return {
    summary: withdraw
      ? `withdraw the ${agora(ch.deposit - ch.paid)} left in channel ${id.slice(0, 10)}… to ${ch.counterparty}`
      : `start closing channel ${id.slice(0, 10)}… to ${ch.counterparty} (paid ${agora(ch.paid)} of ${agora(ch.deposit)})`,
    lines: withdraw
      ? []
      : ['the payee can still settle vouchers during the challenge period; then withdraw the rest'],
    params: { channelId: id, step: withdraw ? 'withdraw' : 'startClose' },
    spend: { token: 'AGORA', amount: 0n, to: env.address },
    async execute() {
      const c = new ChannelClient(env.conn, channels, await env.account());
      const r = withdraw ? await c.withdraw(id) : await c.startClose(id);
      return {
        tool: 'pay.close',
        summary: withdraw ? `withdrew channel ${id}` : `closing channel ${id}`,
        data: { channelId: id, step: withdraw ? 'withdraw' : 'startClose' },
        txHash: r.hash,
      };
    },
  };
}
