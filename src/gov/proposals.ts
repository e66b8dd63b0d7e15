/**
 * Proposals as the chain records them (adapter over viem reads and logs): every proposal from its
 * `ProposalCreated` event (the calls and description needed to queue and execute it), numbered in
 * creation order; the facts its phase is computed from; the votes cast; and the chain's clock.
 */
import { type Abi, type Address, getAddress, type Hex, type Log, parseEventLogs } from 'viem';
import { AgoraGovernor, AgoraTimelock, AgoraToken } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { readTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { GovContracts } from './actions.ts';
import { splitDescription } from './description.ts';
import { governanceClient, type ProposalAction, VOTE_SUPPORTS, type VoteSupport } from './governance.ts';
import type { ProposalFacts } from './phases.ts';

/** The governed deployment: its contracts and the block to read events from. */
export type GovChain = { conn: ChainConnection; contracts: GovContracts; fromBlock: bigint };

export function govChain(conn: ChainConnection, d: Deployment): GovChain {
  const c = d.contracts;
  for (const k of ['ProtocolParams', 'AgoraGovernor', 'TimelockController', 'AgoraToken'] as const) {
    if (!c[k]) {
      throw new AgoraError('GOV_NO_CONTRACT', `the deployment on chain ${d.chainId} has no ${k}`, {
        hint: 'deploy the protocol with `agora chain deploy`',
      });
    }
  }
  // `d.blockNumber` is the chain's head when the deployment started, before its first contract: every
  // protocol event (constructors' initial validators and sectors included) is in a later block
  return { conn, contracts: c as GovContracts, fromBlock: BigInt(d.blockNumber) };
}

/**
 * The timestamp a transaction sent now will see: the pending block's (devnets, anvil and geth serve
 * it, time travel included); else one second after the latest block or the wall clock, whichever is later.
 */
export async function chainNow(conn: ChainConnection): Promise<bigint> {
  try {
    const p = await conn.publicClient.getBlock({ blockTag: 'pending' });
    if (p?.timestamp) return p.timestamp;
  } catch {}
  const latest = (await conn.publicClient.getBlock()).timestamp;
  const wall = BigInt(Math.floor(Date.now() / 1000));
  return latest + 1n > wall ? latest + 1n : wall;
}

export type ProposalRecord = {
  /** 1, 2, … in creation order on this deployment (what `agora gov list` shows). */
  number: number;
  id: bigint;
  proposer: Address;
  calls: ProposalAction[];
  description: string;
  title: string;
  body: string;
  createdAt: bigint;
  createdBlock: bigint;
  /** The snapshot (voting opens just after) and the deadline (voting closes just after). */
  voteStart: bigint;
  voteEnd: bigint;
  txHash: Hex;
};

type Created = {
  proposalId: bigint;
  proposer: Address;
  targets: readonly Address[];
  values: readonly bigint[];
  calldatas: readonly Hex[];
  voteStart: bigint;
  voteEnd: bigint;
  description: string;
};

async function logs(g: GovChain, address: Address | Address[], abi: Abi, eventName?: string) {
  const raw = await g.conn.publicClient.getLogs({ address, fromBlock: g.fromBlock });
  return parseEventLogs({ abi, logs: raw as Log[], ...(eventName ? { eventName } : {}) }) as unknown as {
    eventName: string;
    args: Record<string, unknown>;
    blockNumber: bigint;
    transactionHash: Hex;
  }[];
}

/** Every proposal of the deployment, oldest first. */
export async function listProposals(g: GovChain): Promise<ProposalRecord[]> {
  const created = await logs(g, g.contracts.AgoraGovernor, AgoraGovernor.abi as Abi, 'ProposalCreated');
  const times = new Map<bigint, bigint>();
  for (const l of created) {
    if (!times.has(l.blockNumber)) {
      times.set(
        l.blockNumber,
        (await g.conn.publicClient.getBlock({ blockNumber: l.blockNumber })).timestamp,
      );
    }
  }
  return created.map((l, i) => {
    const a = l.args as unknown as Created;
    const { title, body } = splitDescription(a.description);
    return {
      number: i + 1,
      id: a.proposalId,
      proposer: getAddress(a.proposer),
      calls: a.targets.map((t, j) => ({ target: getAddress(t), value: a.values[j], data: a.calldatas[j] })),
      description: a.description,
      title,
      body,
      createdAt: times.get(l.blockNumber) ?? 0n,
      createdBlock: l.blockNumber,
      voteStart: a.voteStart,
      voteEnd: a.voteEnd,
      txHash: l.transactionHash,
    };
  });
}

/** A proposal by its id (decimal or 0x) or its number in `agora gov list`. */
export async function findProposal(g: GovChain, ref: string): Promise<ProposalRecord> {
  const all = await listProposals(g);
  const s = ref.trim().replace(/^#/, '');
  let id: bigint | undefined;
  try {
    id = BigInt(s);
  } catch {}
  const found =
    id === undefined
      ? undefined
      : (all.find((p) => p.id === id) ??
        (s.length <= 6 && !s.startsWith('0x') ? all.find((p) => p.number === Number(s)) : undefined));
  if (!found) {
    throw new AgoraError('GOV_UNKNOWN_PROPOSAL', `no proposal "${ref}" on this deployment`, {
      hint: all.length
        ? `\`agora gov list\` shows the ${all.length} proposal(s): use the id or the number (1–${all.length})`
        : 'there are no proposals yet: make one with `agora gov propose`',
    });
  }
  return found;
}

/** The facts a proposal's phase is computed from, read now. */
export async function proposalFacts(g: GovChain, p: ProposalRecord, now: bigint): Promise<ProposalFacts> {
  const gov = governanceClient(g.conn, g.contracts.AgoraGovernor);
  const [snapshot, deadline, eta, votes, chainState, minDelay] = await Promise.all([
    gov.proposalSnapshot(p.id),
    gov.proposalDeadline(p.id),
    gov.proposalEta(p.id),
    gov.proposalVotes(p.id),
    gov.state(p.id),
    readTx<bigint>(g.conn, {
      label: 'TimelockController.getMinDelay',
      address: g.contracts.TimelockController,
      abi: AgoraTimelock.abi,
      functionName: 'getMinDelay',
    }),
  ]);
  let quorum: bigint;
  if (now > snapshot) {
    quorum = await gov.quorum(snapshot);
  } else {
    const [supply, num] = await Promise.all([
      readTx<bigint>(g.conn, {
        label: 'AgoraToken.totalSupply',
        address: g.contracts.AgoraToken,
        abi: AgoraToken.abi,
        functionName: 'totalSupply',
      }),
      gov.quorumNumerator(),
    ]);
    quorum = (supply * num) / 100n;
  }
  return {
    createdAt: p.createdAt,
    snapshot,
    deadline,
    eta,
    executed: chainState === 'Executed',
    canceled: chainState === 'Canceled',
    votes,
    quorum,
    minDelay,
  };
}

export type CastVote = { voter: Address; support: VoteSupport; weight: bigint; reason: string };

/** The votes cast on a proposal, in order. */
export async function votesOf(g: GovChain, proposalId: bigint): Promise<CastVote[]> {
  const all = await logs(g, g.contracts.AgoraGovernor, AgoraGovernor.abi as Abi, 'VoteCast');
  return all
    .filter((l) => l.args.proposalId === proposalId)
    .map((l) => ({
      voter: getAddress(l.args.voter as string),
      support: VOTE_SUPPORTS[Number(l.args.support)],
      weight: l.args.weight as bigint,
      reason: (l.args.reason as string) ?? '',
    }));
}

/** The transaction that executed a proposal (undefined if not executed). */
export async function executionTx(g: GovChain, proposalId: bigint): Promise<Hex | undefined> {
  const all = await logs(g, g.contracts.AgoraGovernor, AgoraGovernor.abi as Abi, 'ProposalExecuted');
  return all.find((l) => l.args.proposalId === proposalId)?.transactionHash;
}

export { logs as governanceLogs };
