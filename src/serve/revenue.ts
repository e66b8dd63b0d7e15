/**
 * Revenue back to the makers of a model. What a seller earned from a model's queries is split:
 * first the protocol fee (ProtocolParams `protocolFeeBps`, to the treasury), then the rest in the
 * same proportions as the job's own reward split (src/market/job-rewards.ts: providers by paid
 * rounds, data contributors by samples used, validators by rounds checked; reported providers get
 * nothing), recomputed from the model's provenance manifest and chain facts, so anyone can check it.
 * Earnings are CUMULATIVE: the seller posts a Merkle root of each account's total to
 * `contracts/ModelRevenue.sol` and funds the increase; each account claims what it has not yet.
 */
import { type Address, getAddress, type Hex, parseEventLogs } from 'viem';
import { ModelRevenue } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { walletClientFor } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import { buildRewardTree, type RewardEntry, type RewardTree } from '../chain/merkle.ts';
import { readProtocolParams } from '../chain/protocol-params.ts';
import { readTx, type Signer, sendTx } from '../chain/tx.ts';
import type { ProvenanceManifest } from '../data/provenance.ts';
import { AgoraError } from '../errors.ts';
import { jobRewardSplit } from '../market/job-rewards.ts';
import type { ValidatorWork } from '../market/rewards.ts';
import { approvedValidators, reportedAsOf } from '../node/job-chain.ts';

export type RevenueFacts = {
  feeBps: number;
  treasury: Address;
  /** Providers with a fraud report on the job. */
  reported: ReadonlySet<string>;
  contributorOf: (datasetId: bigint) => Address;
  validators: readonly ValidatorWork[];
};

export type RevenueLine = {
  role: 'provider' | 'data' | 'validator' | 'protocol';
  account: Address;
  amount: bigint;
};

export type RevenueSplit = {
  /** The cumulative revenue split. */
  amount: bigint;
  fee: bigint;
  lines: RevenueLine[];
  /** One entry per account (roles merged), sorted by address. */
  entries: RewardEntry[];
  tree: RewardTree;
  root: Hex;
};

/** The split of `amount` (pure): the fee, then the job's reward proportions; anything unallocatable goes to the treasury. */
export function modelRevenueSplit(
  manifest: ProvenanceManifest,
  amount: bigint,
  facts: RevenueFacts,
): RevenueSplit {
  if (amount < 0n) throw new AgoraError('REVENUE_BAD_AMOUNT', `revenue ${amount} is negative`);
  if (!Number.isInteger(facts.feeBps) || facts.feeBps < 0 || facts.feeBps > 10_000) {
    throw new AgoraError('REVENUE_BAD_FEE', `protocol fee ${facts.feeBps} bps is out of range`);
  }
  const fee = (amount * BigInt(facts.feeBps)) / 10_000n;
  const split = jobRewardSplit({
    funded: amount - fee,
    rounds: manifest.rounds.map((r) => ({ round: r.round, records: r.records })),
    reported: facts.reported,
    contributorOf: facts.contributorOf,
    validators: facts.validators,
  });
  const treasury = getAddress(facts.treasury);
  const lines: RevenueLine[] = [...split.lines];
  const toTreasury = fee + split.unallocated;
  if (toTreasury > 0n) lines.push({ role: 'protocol', account: treasury, amount: toTreasury });
  const merged = new Map<string, RewardEntry>();
  for (const l of lines) {
    const k = l.account.toLowerCase();
    const e = merged.get(k) ?? { account: getAddress(l.account), amount: 0n };
    e.amount += l.amount;
    merged.set(k, e);
  }
  const entries = [...merged.values()]
    .filter((e) => e.amount > 0n)
    .sort((a, b) => (a.account.toLowerCase() < b.account.toLowerCase() ? -1 : 1));
  if (entries.length === 0) entries.push({ account: treasury, amount: 0n });
  const tree = buildRewardTree(entries);
  return { amount, fee, lines, entries, tree, root: tree.root };
}

/**
 * The facts of the split from the chain: fee and treasury (ProtocolParams), fraud reports on the job,
 * dataset contributors (DataRegistry), and the approved validators, each weighted by the job's rounds
 * (validators' per-round checks are not on chain; pass `validators` to use the job's own counts).
 */
export async function revenueFactsFromChain(input: {
  conn: ChainConnection;
  manifest: ProvenanceManifest;
  params: Address;
  market: Address;
  registry: Address;
  validators?: readonly ValidatorWork[];
}): Promise<RevenueFacts> {
  const { conn, manifest } = input;
  const p = await readProtocolParams(conn, input.params);
  const reported = await reportedAsOf(conn, input.market, BigInt(manifest.jobId));
  const registry = dataRegistryClient(conn, input.registry);
  const contributor = new Map<string, Address>();
  for (const r of manifest.rounds)
    for (const rec of r.records)
      for (const id of Object.keys(rec.samplePairs))
        if (!contributor.has(id))
          contributor.set(id, getAddress((await registry.getDataset(BigInt(id))).contributor));
  const validators =
    input.validators ??
    (await approvedValidators(conn, input.params)).map((account) => ({
      account,
      checks: manifest.rounds.length,
    }));
  return {
    feeBps: p.protocolFeeBps,
    treasury: p.treasury,
    reported,
    contributorOf: (id) => contributor.get(id.toString()) ?? p.treasury,
    validators,
  };
}

export type Distribution = { root: Hex; funded: bigint; paid: bigint };

/** Client of contracts/ModelRevenue.sol. */
export class ModelRevenueClient {
  readonly conn: ChainConnection;
  readonly address: Address;

  constructor(conn: ChainConnection, address: Address) {
    this.conn = conn;
    this.address = getAddress(address);
  }

  #read<T>(functionName: string, args: unknown[]): Promise<T> {
    return readTx<T>(this.conn, {
      label: `ModelRevenue.${functionName}`,
      address: this.address,
      abi: ModelRevenue.abi,
      functionName,
      args,
    });
  }

  async distribution(seller: Address, modelHash: Hex): Promise<Distribution> {
    const [root, funded, paid] = await this.#read<readonly [Hex, bigint, bigint]>('getDistribution', [
      seller,
      modelHash,
    ]);
    return { root, funded, paid };
  }

  claimed(seller: Address, modelHash: Hex, account: Address): Promise<bigint> {
    return this.#read<bigint>('claimedOf', [seller, modelHash, account]);
  }

  /** Posts the split's root and funds the distribution up to its total (approving the increase first). */
  async post(
    signer: Signer,
    token: Address,
    modelHash: Hex,
    split: RevenueSplit,
  ): Promise<{ hash: Hex; added: bigint }> {
    const seller = signer.account.address;
    const d = await this.distribution(seller, modelHash);
    const total = split.tree.total;
    if (total < d.funded) {
      throw new AgoraError(
        'REVENUE_DECREASE',
        `the split totals ${total}, below the ${d.funded} already funded`,
        {
          hint: 'post the cumulative revenue (what was earned since the model was first sold)',
        },
      );
    }
    const added = total - d.funded;
    if (added > 0n) {
      await sendTx(this.conn, signer, {
        label: 'AgoraToken.approve',
        address: token,
        abi: [
          {
            type: 'function',
            name: 'approve',
            stateMutability: 'nonpayable',
            inputs: [
              { name: 's', type: 'address' },
              { name: 'a', type: 'uint256' },
            ],
            outputs: [{ type: 'bool' }],
          },
        ],
        functionName: 'approve',
        args: [this.address, added],
      });
    }
    const r = await sendTx(this.conn, signer, {
      label: 'ModelRevenue.post',
      address: this.address,
      abi: ModelRevenue.abi,
      functionName: 'post',
      args: [modelHash, split.root, total],
    });
    return { hash: r.transactionHash, added };
  }

  /** Claims `account`'s unclaimed earnings with a proof from the split (anyone may submit). */
  async claim(
    signer: Signer,
    seller: Address,
    modelHash: Hex,
    split: RevenueSplit,
    account: Address,
  ): Promise<{ hash: Hex; amount: bigint }> {
    const { amount, proof } = split.tree.proofFor(account);
    const r = await sendTx(this.conn, signer, {
      label: 'ModelRevenue.claim',
      address: this.address,
      abi: ModelRevenue.abi,
      functionName: 'claim',
      args: [seller, modelHash, account, amount, proof],
    });
    const [ev] = parseEventLogs({ abi: ModelRevenue.abi, eventName: 'Claimed', logs: r.logs });
    return { hash: r.transactionHash, amount: ev ? (ev.args.amount as bigint) : 0n };
  }
}

export function walletFor(conn: ChainConnection, account: Parameters<typeof walletClientFor>[1]): Signer {
  return walletClientFor(conn, account) as Signer;
}
