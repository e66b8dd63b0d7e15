/**
 * Typed client for the AgoraGovernor (OpenZeppelin Governor + TimelockControl): propose actions, vote,
 * queue in the timelock, execute. Proposals are identified by (actions, description); the id is the
 * governor's hash of both. Build parameter-change actions with `protocol-params.ts`.
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

export type VoteSupport = 'against' | 'for' | 'abstain';
const SUPPORT: Record<VoteSupport, number> = { against: 0, for: 1, abstain: 2 };

export type GovernanceClient = {
  address: Address;
  propose(
    signer: Signer,
    actions: readonly ProposalAction[],
    description: string,
  ): Promise<{ proposalId: bigint; receipt: TransactionReceipt }>;
  castVote(signer: Signer, proposalId: bigint, support: VoteSupport): Promise<TransactionReceipt>;
  queue(signer: Signer, actions: readonly ProposalAction[], description: string): Promise<TransactionReceipt>;
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
    castVote: (signer, proposalId, support) => write(signer, 'castVote', [proposalId, SUPPORT[support]]),
    queue: (signer, actions, description) =>
      write(signer, 'queue', [...split(actions), descHash(description)]),
    execute: (signer, actions, description) =>
      write(signer, 'execute', [...split(actions), descHash(description)]),
    state: (id) => read<number>('state', [id]).then((s) => PROPOSAL_STATES[s]),
    proposalId: (actions, description) => read('hashProposal', [...split(actions), descHash(description)]),
    proposalSnapshot: (id) => read('proposalSnapshot', [id]),
    proposalDeadline: (id) => read('proposalDeadline', [id]),
    proposalEta: (id) => read('proposalEta', [id]),
    votingDelay: () => read('votingDelay'),
    votingPeriod: () => read('votingPeriod'),
  };
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
