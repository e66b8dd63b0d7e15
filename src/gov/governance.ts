/**
 * Typed client for the AgoraGovernor (OpenZeppelin Governor + TimelockControl): propose actions, vote,
 * queue in the timelock, execute, and the reads a member needs to follow a proposal (votes, quorum,
 * snapshot, deadline, eta). Proposals are identified by (actions, description); the id is the governor's
 * hash of both. Typed actions (parameters, validators, sectors, grants) are built in `actions.ts`.
 */
import {
  type Address,
  encodeFunctionData,
  type Hex,
  keccak256,
  type TransactionReceipt,
  toBytes,
} from 'viem';
import { AgoraGovernor } from '../../artifacts/index.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { eventArgs, readTx, type Signer, sendTx } from '../chain/tx.ts';

/** One call the timelock makes when a proposal executes. */
export type ProposalAction = { target: Address; value?: bigint; data: Hex };

/** Proposal states, in the governor's enum order. */
export const PROPOSAL_STATES = [
  'Pending',
  'Active',
  'Canceled',
  'Defeated',
  'Succeeded',
  'Queued',
  'Expired',
  'Executed',
] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

export const VOTE_SUPPORTS = ['against', 'for', 'abstain'] as const;
export type VoteSupport = (typeof VOTE_SUPPORTS)[number];
const SUPPORT: Record<VoteSupport, number> = { against: 0, for: 1, abstain: 2 };

export type ProposalVotes = { against: bigint; for: bigint; abstain: bigint };

export type GovernanceClient = {
  address: Address;
  propose(
    signer: Signer,
    actions: readonly ProposalAction[],
    description: string,
  ): Promise<{ proposalId: bigint; receipt: TransactionReceipt }>;
  /** Casts a vote; with a reason it is `castVoteWithReason` (the reason is in the VoteCast event). */
  castVote(
    signer: Signer,
    proposalId: bigint,
    support: VoteSupport,
    reason?: string,
  ): Promise<TransactionReceipt>;
  queue(signer: Signer, actions: readonly ProposalAction[], description: string): Promise<TransactionReceipt>;
  /** Withdraws a proposal before voting opens (its proposer only: the governor's `cancel`). */
  cancel(
    signer: Signer,
    actions: readonly ProposalAction[],
    description: string,
  ): Promise<TransactionReceipt>;
  execute(
    signer: Signer,
    actions: readonly ProposalAction[],
    description: string,
  ): Promise<TransactionReceipt>;
  state(proposalId: bigint): Promise<ProposalState>;
  proposalId(actions: readonly ProposalAction[], description: string): Promise<bigint>;
  /** Seconds timestamps (the token clock): voting starts after the snapshot and ends at the deadline. */
  proposalSnapshot(proposalId: bigint): Promise<bigint>;
  proposalDeadline(proposalId: bigint): Promise<bigint>;
  /** When a queued proposal becomes executable (0 when not queued). */
  proposalEta(proposalId: bigint): Promise<bigint>;
  proposalProposer(proposalId: bigint): Promise<Address>;
  proposalVotes(proposalId: bigint): Promise<ProposalVotes>;
  hasVoted(proposalId: bigint, account: Address): Promise<boolean>;
  /** Votes of `account` at `timepoint` (read in the pending block, like `quorum`). */
  getVotes(account: Address, timepoint: bigint): Promise<bigint>;
  /**
   * Quorum at `timepoint`, read in the pending block (so a snapshot that the latest mined block has not
   * passed yet, but the next block will, still reads).
   */
  quorum(timepoint: bigint): Promise<bigint>;
  quorumNumerator(): Promise<bigint>;
  proposalThreshold(): Promise<bigint>;
  votingDelay(): Promise<bigint>;
  votingPeriod(): Promise<bigint>;
};

function split(actions: readonly ProposalAction[]): [Address[], bigint[], Hex[]] {
  return [actions.map((a) => a.target), actions.map((a) => a.value ?? 0n), actions.map((a) => a.data)];
}

export function governanceClient(conn: ChainConnection, address: Address): GovernanceClient {
  const abi = AgoraGovernor.abi;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `AgoraGovernor.${functionName}`, address, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, signer, { label: `AgoraGovernor.${functionName}`, address, abi, functionName, args });
  const descHash = (d: string) => keccak256(toBytes(d));
  return {
    address,
    async propose(signer, actions, description) {
      const receipt = await write(signer, 'propose', [...split(actions), description]);
      return {
        proposalId: eventArgs<{ proposalId: bigint }>(receipt, abi, 'ProposalCreated').proposalId,
        receipt,
      };
    },
    castVote: (signer, proposalId, support, reason) =>
      reason === undefined
        ? write(signer, 'castVote', [proposalId, SUPPORT[support]])
        : write(signer, 'castVoteWithReason', [proposalId, SUPPORT[support], reason]),
    queue: (signer, actions, description) =>
      write(signer, 'queue', [...split(actions), descHash(description)]),
    execute: (signer, actions, description) =>
      write(signer, 'execute', [...split(actions), descHash(description)]),
    cancel: (signer, actions, description) =>
      write(signer, 'cancel', [...split(actions), descHash(description)]),
    state: (id) => read<number>('state', [id]).then((s) => PROPOSAL_STATES[s]),
    proposalId: (actions, description) => read('hashProposal', [...split(actions), descHash(description)]),
    proposalSnapshot: (id) => read('proposalSnapshot', [id]),
    proposalDeadline: (id) => read('proposalDeadline', [id]),
    proposalEta: (id) => read('proposalEta', [id]),
    proposalProposer: (id) => read('proposalProposer', [id]),
    async proposalVotes(id) {
      const [against, forVotes, abstain] = await read<[bigint, bigint, bigint]>('proposalVotes', [id]);
      return { against, for: forVotes, abstain };
    },
    hasVoted: (id, account) => read('hasVoted', [id, account]),
    getVotes: (account, timepoint) => readPending(conn, address, 'getVotes', [account, timepoint]),
    quorum: (timepoint) => readPending(conn, address, 'quorum', [timepoint]),
    quorumNumerator: () => read('quorumNumerator'),
    proposalThreshold: () => read('proposalThreshold'),
    votingDelay: () => read('votingDelay'),
    votingPeriod: () => read('votingPeriod'),
  };
}

/** A read in the pending block: a timepoint the next block passes (but the latest may not) reads. */
async function readPending(
  conn: ChainConnection,
  address: Address,
  functionName: 'getVotes' | 'quorum',
  args: readonly unknown[],
): Promise<bigint> {
  try {
    return (await conn.publicClient.readContract({
      address,
      abi: AgoraGovernor.abi,
      functionName,
      args,
      blockTag: 'pending',
    } as Parameters<typeof conn.publicClient.readContract>[0])) as bigint;
  } catch {
    return readTx<bigint>(conn, {
      label: `AgoraGovernor.${functionName}`,
      address,
      abi: AgoraGovernor.abi,
      functionName,
      args,
    });
  }
}

/** Encodes a call to `abi.functionName(args)` on `target` as a proposal action. */
export function action(
  target: Address,
  abi: readonly unknown[],
  functionName: string,
  args: readonly unknown[] = [],
): ProposalAction {
  return {
    target,
    data: encodeFunctionData({ abi: abi as never, functionName, args: args as never } as never),
  };
}
