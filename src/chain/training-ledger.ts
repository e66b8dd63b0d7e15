/**
 * Typed client for the TrainingLedger: co-signed round commits, closing a job (escrow → rewards, final
 * model hash), co-signed reward roots, Merkle claims, and sweeping unallocated rewards to the treasury.
 * An epoch is a whole job: `epoch === jobId`.
 */
import type { Address, Hex, LocalAccount, TransactionReceipt } from 'viem';
import { TrainingLedger } from '../../artifacts/index.ts';
import { action, type ProposalAction } from '../gov/governance.ts';
import type { ChainConnection } from './connect.ts';
import type { RewardTree } from './merkle.ts';
import { readTx, type Signer, sendTx } from './tx.ts';
import { domains, type Eip712Domain, signRewardRoot, signRoundCommit } from './typed-data.ts';

export type LedgerRound = { recordsRoot: Hex; modelHash: Hex; committedAt: bigint };

export type JobLedger = {
  roundsCommitted: number;
  closed: boolean;
  complete: boolean;
  swept: boolean;
  finalModelHash: Hex;
  funded: bigint;
  rewardRoot: Hex;
  rewardTotal: bigint;
  claimed: bigint;
};

export type TrainingLedgerClient = {
  address: Address;
  domain(): Eip712Domain;
  signRoundCommit(
    participant: LocalAccount,
    jobId: bigint,
    round: bigint,
    recordsRoot: Hex,
    modelHash: Hex,
  ): Promise<Hex>;
  signRewardRoot(participant: LocalAccount, jobId: bigint, root: Hex, total: bigint): Promise<Hex>;
  commitRound(
    signer: Signer,
    jobId: bigint,
    round: bigint,
    recordsRoot: Hex,
    modelHash: Hex,
    signatures: readonly Hex[],
  ): Promise<TransactionReceipt>;
  closeJob(signer: Signer, jobId: bigint): Promise<TransactionReceipt>;
  postRewardRoot(
    signer: Signer,
    epoch: bigint,
    root: Hex,
    total: bigint,
    signatures: readonly Hex[],
  ): Promise<TransactionReceipt>;
  claim(
    signer: Signer,
    epoch: bigint,
    account: Address,
    amount: bigint,
    proof: readonly Hex[],
  ): Promise<TransactionReceipt>;
  /** Claims `account`'s entry of `tree` (proof computed locally). */
  claimFromTree(
    signer: Signer,
    epoch: bigint,
    tree: RewardTree,
    account: Address,
  ): Promise<TransactionReceipt>;
  sweepUnallocated(signer: Signer, epoch: bigint): Promise<TransactionReceipt>;
  getRound(jobId: bigint, round: bigint): Promise<LedgerRound>;
  getJobLedger(jobId: bigint): Promise<JobLedger>;
  roundsCommitted(jobId: bigint): Promise<number>;
  finalModelHash(jobId: bigint): Promise<Hex>;
  isClaimed(epoch: bigint, account: Address): Promise<boolean>;
};

export function trainingLedgerClient(conn: ChainConnection, address: Address): TrainingLedgerClient {
  const abi = TrainingLedger.abi;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `TrainingLedger.${functionName}`, address, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, signer, { label: `TrainingLedger.${functionName}`, address, abi, functionName, args });
  const client: TrainingLedgerClient = {
    address,
    domain: () => domains.trainingLedger(conn.chainId, address),
    signRoundCommit: (p, jobId, round, recordsRoot, modelHash) =>
      signRoundCommit(p, client.domain(), { jobId, round, recordsRoot, modelHash }),
    signRewardRoot: (p, jobId, root, total) => signRewardRoot(p, client.domain(), { jobId, root, total }),
    commitRound: (s, jobId, round, recordsRoot, modelHash, sigs) =>
      write(s, 'commitRound', [jobId, round, recordsRoot, modelHash, sigs]),
    closeJob: (s, jobId) => write(s, 'closeJob', [jobId]),
    postRewardRoot: (s, epoch, root, total, sigs) => write(s, 'postRewardRoot', [epoch, root, total, sigs]),
    claim: (s, epoch, account, amount, proof) => write(s, 'claim', [epoch, account, amount, proof]),
    claimFromTree(s, epoch, tree, account) {
      const { amount, proof } = tree.proofFor(account);
      return client.claim(s, epoch, account, amount, proof);
    },
    sweepUnallocated: (s, epoch) => write(s, 'sweepUnallocated', [epoch]),
    getRound: (jobId, round) => read<LedgerRound>('getRound', [jobId, round]),
    async getJobLedger(jobId) {
      const l = await read<JobLedger>('getJobLedger', [jobId]);
      return { ...l, roundsCommitted: Number(l.roundsCommitted) };
    },
    roundsCommitted: (jobId) => read<number>('roundsCommitted', [jobId]).then(Number),
    finalModelHash: (jobId) => read<Hex>('finalModelHash', [jobId]),
    isClaimed: (epoch, account) => read<boolean>('isClaimed', [epoch, account]),
  };
  return client;
}

/**
 * Governance fallback (proposal action): posts an epoch's reward root without participant signatures,
 * for a closed job whose participants never agreed on a split. Same solvency and once-only rules.
 */
export function postRewardRootByGovernanceAction(
  ledger: Address,
  epoch: bigint,
  root: Hex,
  total: bigint,
): ProposalAction {
  return action(ledger, TrainingLedger.abi, 'postRewardRootByGovernance', [epoch, root, total]);
}
