/**
 * Discovery of models for sale without knowing a server first. A seller records an offer on chain
 * (`ModelRevenue.offer`: seller = the transaction's sender, model hash, job, price per row,
 * endpoint; an event, nothing stored); a buyer reads the `Offered` logs, keeps the latest offer per
 * seller and model, fetches each endpoint's signed announcement, and checks that it is signed by the
 * seller who made the offer, that it sells that model at that price, and that the model hash is the
 * final model hash of its job on TrainingLedger. The job's task and metric come from its spec as
 * published on chain.
 */
import { type Address, getAddress, type Hex, parseAbiItem } from 'viem';
import { ModelRevenue } from '../../artifacts/index.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { type Signer, sendTx } from '../chain/tx.ts';
import { AgoraError, isAgoraError } from '../errors.ts';
import { fetchJobSpec } from '../task/spec-source.ts';
import type { AnnouncedModel, SignedAnnouncement } from './announcement.ts';
import { fetchAnnouncement, type ModelOffer, type ModelSource } from './model-offers.ts';

/** One `Offered` event: a seller's offer of a model's predictions, as recorded on chain. */
export type ChainOffer = {
  seller: Address;
  modelHash: Hex;
  /** null when the model is not the final model of a job (jobId 0 on chain). */
  jobId: string | null;
  unitPrice: bigint;
  endpoint: string;
  block: bigint;
  tx: Hex;
};

const OFFERED = parseAbiItem(
  'event Offered(address indexed seller, bytes32 indexed modelHash, uint256 indexed jobId, uint256 unitPrice, string endpoint)',
);

/** Records (or, with endpoint '', withdraws) an offer of a model's predictions on chain. */
export async function offerModel(
  conn: ChainConnection,
  signer: Signer,
  modelRevenue: Address,
  o: { modelHash: Hex; jobId: string | null; unitPrice: bigint; endpoint: string },
): Promise<Hex> {
  if (o.endpoint !== '' && !/^https?:\/\/[^\s]+$/.test(o.endpoint)) {
    throw new AgoraError('OFFER_BAD_ENDPOINT', `"${o.endpoint}" is not an http(s) URL`, {
      hint: 'offer the URL buyers reach the server at (--public-url)',
    });
  }
  const r = await sendTx(conn, signer, {
    label: 'ModelRevenue.offer',
    address: modelRevenue,
    abi: ModelRevenue.abi,
    functionName: 'offer',
    args: [o.modelHash, BigInt(o.jobId ?? 0), o.unitPrice, o.endpoint.replace(/\/+$/, '')],
  });
  return r.transactionHash;
}

/** The current offers: the latest `Offered` event per seller and model, withdrawn ones left out. */
export async function readOffers(conn: ChainConnection, modelRevenue: Address): Promise<ChainOffer[]> {
  const logs = await conn.publicClient.getLogs({
    address: modelRevenue,
    event: OFFERED,
    fromBlock: 0n,
    toBlock: 'latest',
  });
  const latest = new Map<string, ChainOffer>();
  for (const l of logs) {
    const a = l.args as {
      seller: Address;
      modelHash: Hex;
      jobId: bigint;
      unitPrice: bigint;
      endpoint: string;
    };
    latest.set(`${a.seller.toLowerCase()}:${a.modelHash.toLowerCase()}`, {
      seller: getAddress(a.seller),
      modelHash: a.modelHash.toLowerCase() as Hex,
      jobId: a.jobId === 0n ? null : a.jobId.toString(),
      unitPrice: a.unitPrice,
      endpoint: a.endpoint,
      block: l.blockNumber,
      tx: l.transactionHash,
    });
  }
  return [...latest.values()].filter((o) => o.endpoint !== '');
}

/** What `agora models` lists per model. */
export type ListedModel = AnnouncedModel & {
  predict: string;
  endpoint: string;
  seller: Address;
  /** Where the buyer learned of it: an on-chain offer or a URL it was given. */
  source: 'chain' | 'url';
  /** The model hash against its job's final model hash on TrainingLedger. */
  onChain: 'match' | 'mismatch' | 'unchecked';
  /** The job's evaluation metric and task, from its spec as published on chain. */
  metric: string | null;
  job: { name: string; kind: string; objective: string; rounds: number } | null;
};

export type DiscoveryContracts = { trainingLedger?: Address; computeMarket?: Address };

/** Checks an announcement's models against the chain (final model hash and job spec of each job). */
export async function checkAnnouncedModels(
  conn: ChainConnection | undefined,
  contracts: DiscoveryContracts,
  a: SignedAnnouncement,
  source: 'chain' | 'url',
): Promise<ListedModel[]> {
  const sameChain = conn !== undefined && conn.chainId === a.chainId;
  const ledger =
    sameChain && contracts.trainingLedger ? trainingLedgerClient(conn, contracts.trainingLedger) : undefined;
  const market =
    sameChain && contracts.computeMarket ? computeMarketClient(conn, contracts.computeMarket) : undefined;
  const out: ListedModel[] = [];
  for (const m of a.models) {
    let onChain: ListedModel['onChain'] = 'unchecked';
    let metric: string | null = null;
    let job: ListedModel['job'] = null;
    if (m.jobId && /^[0-9]+$/.test(m.jobId)) {
      const h = (await ledger?.finalModelHash(BigInt(m.jobId)).catch(() => undefined)) as Hex | undefined;
      if (h && !/^0x0+$/.test(h))
        onChain = h.toLowerCase() === m.modelHash.toLowerCase() ? 'match' : 'mismatch';
      if (market && conn) {
        try {
          const onChainJob = await market.getJob(BigInt(m.jobId));
          const spec = await fetchJobSpec(conn, market.address, onChainJob.modelSpecHash);
          metric = spec.metric;
          job = { name: spec.name, kind: spec.kind, objective: spec.objective, rounds: spec.rounds };
        } catch {
          // no spec on chain (or another deployment): leave them unknown
        }
      }
    }
    out.push({
      ...m,
      predict: `${a.endpoint}/v1/models/${m.id}/predict`,
      endpoint: a.endpoint,
      seller: getAddress(a.seller),
      source,
      onChain,
      metric,
      job,
    });
  }
  return out;
}

export type DiscoveredServer =
  | { endpoint: string; seller?: Address; source: 'chain' | 'url'; error: string; models: [] }
  | {
      endpoint: string;
      seller: Address;
      source: 'chain' | 'url';
      issuedAt: number;
      chainId: number;
      paymentChannels: Address | null;
      models: ListedModel[];
    };

/**
 * The models of the on-chain offers, each checked: the announcement at the offered endpoint must be
 * signed by the offering seller and sell the offered model; offers that fail are reported with why.
 */
export async function discoverOffered(
  conn: ChainConnection,
  modelRevenue: Address,
  contracts: DiscoveryContracts,
): Promise<DiscoveredServer[]> {
  const offers = await readOffers(conn, modelRevenue);
  const byEndpoint = new Map<string, ChainOffer[]>();
  for (const o of offers) {
    const k = `${o.seller}|${o.endpoint}`;
    byEndpoint.set(k, [...(byEndpoint.get(k) ?? []), o]);
  }
  const out: DiscoveredServer[] = [];
  for (const group of byEndpoint.values()) {
    const { endpoint, seller } = group[0];
    try {
      const a = await fetchAnnouncement(endpoint);
      if (getAddress(a.seller) !== seller) {
        throw new AgoraError(
          'MODELS_WRONG_SELLER',
          `${endpoint} announces seller ${a.seller}, but ${seller} made the offer on chain`,
          { hint: 'someone offered an endpoint that is not theirs: ignore it' },
        );
      }
      const listed = await checkAnnouncedModels(conn, contracts, a, 'chain');
      const models: ListedModel[] = [];
      for (const o of group) {
        const m = listed.find((x) => x.modelHash.toLowerCase() === o.modelHash);
        if (!m || (m.jobId ?? null) !== o.jobId || BigInt(m.unitPrice) !== o.unitPrice) continue;
        models.push(m);
      }
      if (models.length === 0) {
        throw new AgoraError(
          'MODELS_OFFER_MISMATCH',
          `${endpoint} does not sell what was offered on chain (model, job or price differ)`,
          { hint: 'the offer is stale: the seller should offer again' },
        );
      }
      out.push({ endpoint, seller, source: 'chain', ...announced(a), models });
    } catch (e) {
      out.push({
        endpoint,
        seller,
        source: 'chain',
        error: isAgoraError(e) ? e.message : String(e),
        models: [],
      });
    }
  }
  return out;
}

/** What a server's announcement adds to its listing: when it was signed, its chain and its channels. */
export function announced(a: SignedAnnouncement): {
  issuedAt: number;
  chainId: number;
  paymentChannels: Address | null;
} {
  return {
    issuedAt: a.issuedAt,
    chainId: a.chainId,
    paymentChannels: a.paymentChannels ? getAddress(a.paymentChannels) : null,
  };
}

/**
 * The on-chain offers as a `ModelSource` for buyers (agents, the dashboard): every offer checked as
 * `agora models` checks it, and a model whose hash is not its job's final model left out.
 */
export function chainOfferSource(
  conn: ChainConnection,
  modelRevenue: Address,
  contracts: DiscoveryContracts,
): ModelSource {
  return {
    name: 'chain',
    async offers(onError) {
      const out: ModelOffer[] = [];
      for (const s of await discoverOffered(conn, modelRevenue, contracts)) {
        if ('error' in s) {
          onError?.(s.endpoint, new AgoraError('MODELS_BAD_OFFER', s.error));
          continue;
        }
        for (const m of s.models) {
          if (m.onChain === 'mismatch') continue;
          out.push({
            endpoint: s.endpoint,
            predictUrl: m.predict,
            seller: s.seller,
            chainId: s.chainId,
            paymentChannels: s.paymentChannels,
            model: m,
            source: 'chain',
          });
        }
      }
      return out;
    },
  };
}

/** The buyer's sources a deployment offers: its on-chain offers, when it has ModelRevenue. */
export function deploymentOfferSources(conn: ChainConnection, d: Deployment | undefined): ModelSource[] {
  const c = d?.contracts;
  if (!c?.ModelRevenue) return [];
  return [
    chainOfferSource(conn, c.ModelRevenue, {
      trainingLedger: c.TrainingLedger,
      computeMarket: c.ComputeMarket,
    }),
  ];
}
