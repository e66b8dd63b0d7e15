/**
 * Typed client for the ComputeMarket: provider offers and stake, jobs with escrow, joining, refunds,
 * stake release and slashing (equivocation proofs, validator fraud reports).
 * Approve the market for AGORA (token client `ensureAllowance`) before staking or creating a job.
 */
import { type Address, type Hex, hexToBytes, type LocalAccount, type TransactionReceipt, toHex } from 'viem';
import { ComputeMarket } from '../../artifacts/index.ts';
import type { ChainConnection } from './connect.ts';
import { joinJobWorstPathExtra } from './gas.ts';
import type { RoundRecord } from './round-record.ts';
import { eventArgs, readTx, type SendOptions, type Signer, sendTx } from './tx.ts';
import { domains, type Eip712Domain, signRoundRecord } from './typed-data.ts';

/** Job states, in the contract's enum order. */
export const JOB_STATES = [
  'None',
  'Open',
  'Running',
  'Completed',
  'Expired',
  'Cancelled',
  'Unfilled',
] as const;
export type JobState = (typeof JOB_STATES)[number];
export const REPORT_STATES = ['None', 'Pending', 'Dismissed', 'Executed'] as const;
export type ReportState = (typeof REPORT_STATES)[number];

export type Provider = {
  stake: bigint;
  locked: bigint;
  hardwareHash: Hex;
  pricePerRound: bigint;
  active: boolean;
};

export type JobSpec = {
  modelSpecHash: Hex;
  datasetIds: bigint[];
  workers: number;
  innerSteps: number;
  rounds: number;
  pricePerRound: bigint;
  /** Unix seconds. */
  joinDeadline: bigint;
  completionDeadline: bigint;
  /** Seconds, within the governance bounds. */
  challengePeriod: bigint;
};

export type Job = {
  id: bigint;
  requester: Address;
  state: JobState;
  workers: number;
  innerSteps: number;
  rounds: number;
  joinDeadline: bigint;
  completionDeadline: bigint;
  challengePeriod: bigint;
  startedAt: bigint;
  endedAt: bigint;
  modelSpecHash: Hex;
  pricePerRound: bigint;
  escrow: bigint;
  fee: bigint;
  stakePerWorker: bigint;
};

export type Seat = {
  lockedStake: bigint;
  index: number;
  pendingReports: number;
  slashed: boolean;
  released: boolean;
};

export type FraudReport = {
  jobId: bigint;
  provider: Address;
  deadline: bigint;
  state: ReportState;
  validator: Address;
  round: bigint;
  evidenceHash: Hex;
};

export type ComputeMarketClient = {
  address: Address;
  /** EIP-712 domain for workers' signed round records. */
  domain(): Eip712Domain;
  registerProvider(
    signer: Signer,
    hardwareHash: Hex,
    pricePerRound: bigint,
    stake: bigint,
  ): Promise<TransactionReceipt>;
  updateOffer(signer: Signer, hardwareHash: Hex, pricePerRound: bigint): Promise<TransactionReceipt>;
  deregisterProvider(signer: Signer): Promise<TransactionReceipt>;
  addStake(signer: Signer, amount: bigint): Promise<TransactionReceipt>;
  withdrawStake(signer: Signer, amount: bigint): Promise<TransactionReceipt>;
  getProvider(provider: Address): Promise<Provider>;
  /** escrow = pricePerRound × rounds × workers; fee on top; the requester pays escrow + fee. */
  quote(pricePerRound: bigint, rounds: number, workers: number): Promise<{ escrow: bigint; fee: bigint }>;
  createJob(signer: Signer, spec: JobSpec): Promise<{ jobId: bigint; receipt: TransactionReceipt }>;
  /** Publishes a job spec document (`JobSpecPublished`, keyed by its keccak256); returns that hash. */
  publishJobSpec(signer: Signer, spec: Uint8Array): Promise<{ specHash: Hex; receipt: TransactionReceipt }>;
  /** Every document published under `specHash` (the bytes, as the chain holds them). */
  publishedSpecs(specHash: Hex): Promise<Uint8Array[]>;
  joinJob(signer: Signer, jobId: bigint): Promise<TransactionReceipt>;
  cancelJob(signer: Signer, jobId: bigint): Promise<TransactionReceipt>;
  refundUnfilled(signer: Signer, jobId: bigint): Promise<TransactionReceipt>;
  releaseStake(signer: Signer, jobId: bigint, provider: Address): Promise<TransactionReceipt>;
  getJob(jobId: bigint): Promise<Job>;
  participants(jobId: bigint): Promise<Address[]>;
  seatOf(jobId: bigint, provider: Address): Promise<Seat>;
  datasetsOf(jobId: bigint): Promise<bigint[]>;
  signRoundRecord(worker: LocalAccount, record: RoundRecord): Promise<Hex>;
  proveEquivocation(
    signer: Signer,
    a: RoundRecord,
    sigA: Hex,
    b: RoundRecord,
    sigB: Hex,
  ): Promise<TransactionReceipt>;
  reportFraud(
    validator: Signer,
    jobId: bigint,
    provider: Address,
    round: bigint,
    evidenceHash: Hex,
  ): Promise<{ reportId: bigint; receipt: TransactionReceipt }>;
  executeFraudSlash(signer: Signer, reportId: bigint): Promise<TransactionReceipt>;
  getReport(reportId: bigint): Promise<FraudReport>;
};

export function computeMarketClient(conn: ChainConnection, address: Address): ComputeMarketClient {
  const abi = ComputeMarket.abi;
  const read = <T>(functionName: string, args: readonly unknown[] = []) =>
    readTx<T>(conn, { label: `ComputeMarket.${functionName}`, address, abi, functionName, args });
  const write = (signer: Signer, functionName: string, args: readonly unknown[], opts?: SendOptions) =>
    sendTx(conn, signer, { label: `ComputeMarket.${functionName}`, address, abi, functionName, args }, opts);
  const client: ComputeMarketClient = {
    address,
    domain: () => domains.computeMarket(conn.chainId, address),
    registerProvider: (s, hw, price, stake) => write(s, 'registerProvider', [hw, price, stake]),
    updateOffer: (s, hw, price) => write(s, 'updateOffer', [hw, price]),
    deregisterProvider: (s) => write(s, 'deregisterProvider', []),
    addStake: (s, amount) => write(s, 'addStake', [amount]),
    withdrawStake: (s, amount) => write(s, 'withdrawStake', [amount]),
    getProvider: (p) => read<Provider>('getProvider', [p]),
    async quote(price, rounds, workers) {
      const [escrow, fee] = await read<[bigint, bigint]>('quote', [price, rounds, workers]);
      return { escrow, fee };
    },
    async createJob(s, spec) {
      const receipt = await write(s, 'createJob', [spec]);
      return { jobId: eventArgs<{ jobId: bigint }>(receipt, abi, 'JobCreated').jobId, receipt };
    },
    async publishJobSpec(s, spec) {
      const receipt = await write(s, 'publishJobSpec', [toHex(spec)]);
      return { specHash: eventArgs<{ specHash: Hex }>(receipt, abi, 'JobSpecPublished').specHash, receipt };
    },
    async publishedSpecs(specHash) {
      const logs = await conn.publicClient.getContractEvents({
        address,
        abi,
        eventName: 'JobSpecPublished',
        args: { specHash },
        fromBlock: 0n,
      });
      return logs.map((l) => hexToBytes((l.args as { spec: Hex }).spec));
    },
    // gas for the worst path: this join may be the one that fills the job and starts it (gas.ts)
    joinJob: async (s, jobId) =>
      write(s, 'joinJob', [jobId], { gasExtra: joinJobWorstPathExtra((await client.getJob(jobId)).workers) }),
    cancelJob: (s, jobId) => write(s, 'cancelJob', [jobId]),
    refundUnfilled: (s, jobId) => write(s, 'refundUnfilled', [jobId]),
    releaseStake: (s, jobId, provider) => write(s, 'releaseStake', [jobId, provider]),
    async getJob(jobId) {
      const j = await read<Omit<Job, 'id' | 'state'> & { state: number }>('getJob', [jobId]);
      return { ...j, id: jobId, state: JOB_STATES[j.state] };
    },
    participants: (jobId) => read<Address[]>('participantsOf', [jobId]).then((a) => [...a]),
    async seatOf(jobId, provider) {
      const s = await read<Seat>('seatOf', [jobId, provider]);
      return { ...s, index: Number(s.index), pendingReports: Number(s.pendingReports) };
    },
    datasetsOf: (jobId) => read<bigint[]>('datasetsOf', [jobId]).then((a) => [...a]),
    signRoundRecord: (worker, record) => signRoundRecord(worker, client.domain(), record),
    proveEquivocation: (s, a, sigA, b, sigB) => write(s, 'proveEquivocation', [a, sigA, b, sigB]),
    async reportFraud(v, jobId, provider, round, evidenceHash) {
      const receipt = await write(v, 'reportFraud', [jobId, provider, round, evidenceHash]);
      return { reportId: eventArgs<{ reportId: bigint }>(receipt, abi, 'FraudReported').reportId, receipt };
    },
    executeFraudSlash: (s, reportId) => write(s, 'executeFraudSlash', [reportId]),
    async getReport(reportId) {
      const r = await read<Omit<FraudReport, 'state'> & { state: number }>('getReport', [reportId]);
      return { ...r, state: REPORT_STATES[r.state] };
    },
  };
  return client;
}
