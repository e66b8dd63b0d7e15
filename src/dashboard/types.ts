/**
 * The dashboard's state as the page sees it (pure types, shared by the server and the page in
 * web/). Every section is a map from a key to a JSON value, so that a change is one entry and the
 * live stream sends only the entries that changed (patch.ts). Amounts of wei are decimal strings.
 */

export type Peer = {
  name: string;
  role: 'provider' | 'validator' | 'requester';
  address: string;
  /** What the node is doing: its job row's state in its store (joined, training, done, …) or `stopped`. */
  state: string;
  jobId: string | null;
  /** The last round this node recorded (0-based), or null. */
  lastRound: number | null;
  /** Bytes this node sent in job networks (providers: all-reduce bytes of every round). */
  bytesSent: number;
  hardware: { cpuModel: string; cores: number; memoryBytes: number; engine: string } | null;
  /** The hardware descriptor hash of the provider's offer on chain. */
  hardwareHash: string | null;
  statusUrl: string | null;
  datasetId: string | null;
};

export type JobInfo = {
  jobId: string;
  requester: string;
  state: string;
  workers: number;
  innerSteps: number;
  rounds: number;
  pricePerRound: string;
  escrow: string;
  fee: string;
  datasetIds: string[];
  participants: string[];
  roundsCommitted: number;
  /** Bytes one worker would send per round with DDP (fp32 ring all-reduce every step), when known. */
  ddpBytesPerRound: number | null;
  closed: boolean;
  finalModelHash: string | null;
  rewardRoot: string | null;
  rewardTotal: string | null;
  /** Known once the devnet job trained its centralized baseline. */
  result: {
    testAccuracy: number;
    centralizedAccuracy: number;
    bytesPerWorker: number;
    ddpBytesPerWorker: number;
    seconds: number;
  } | null;
};

export type WorkerCheck = {
  worker: string;
  link: string;
  replays: string[];
  failed: boolean;
};

export type RoundInfo = {
  jobId: string;
  round: number;
  /** From the chain's RoundCommitted event. */
  commit: {
    txHash: string;
    block: number;
    recordsRoot: string;
    modelHash: string;
    /** Addresses recovered from the commit's co-signatures. */
    signers: string[];
    /** Unix ms of the block. */
    at: number;
    /** Unix ms when this node saw the commit's event. */
    seenAt: number;
  } | null;
  /** Mean train loss of the providers' records of the round. */
  trainLoss: number | null;
  /** Accuracy of the committed model on the held-out test split (evaluated every few rounds). */
  testAccuracy: number | null;
  /** Bytes all providers sent in this round. */
  bytesSent: number;
  /** Validators' checks of the round (from the validators' stores). */
  checks: { validator: string; workers: WorkerCheck[] }[];
};

export type ChainTx = {
  hash: string;
  block: number;
  index: number;
  from: string;
  to: string | null;
  /** Contract name, or null. */
  contract: string | null;
  fn: string | null;
  ok: boolean;
  gasUsed: number;
  at: number;
};

export type ChainEvent = {
  id: string;
  block: number;
  txHash: string;
  contract: string;
  name: string;
  text: string;
  at: number;
};

export type DatasetInfo = {
  datasetId: string;
  root: string;
  records: number;
  bytes: number;
  licence: string;
  sector: string;
  contributor: string;
  /** Whether this node has the per-record hashes (proof lookups need them). */
  local: boolean;
};

export type ModelInfo = {
  jobId: string;
  modelHash: string;
  path: string | null;
  verified: boolean | null;
  mismatches: string[];
  datasets: {
    datasetId: string;
    licence: string;
    sector: string;
    contributor: string;
    records: number;
    recordsUsed: number | null;
    uses: number | null;
  }[];
  licences: { licence: string; datasets: number; recordsUsed: number | null }[];
  participants: string[];
  rounds: number;
};

export type ProposalInfo = {
  proposalId: string;
  proposer: string;
  description: string;
  state: string;
  targets: string[];
  voteStart: number;
  voteEnd: number;
};

export type RewardInfo = {
  jobId: string;
  account: string;
  /** provider, data, validator, or a combination; null when only the claim is known. */
  role: string | null;
  amount: string;
  claimed: boolean;
  claimTx: string | null;
};

export type ReportInfo = {
  reportId: string;
  jobId: string;
  provider: string;
  validator: string;
  round: number;
  state: string;
  slashed: string | null;
};

export type Contract = { name: string; address: string };

export type Meta = {
  chainId: number;
  rpcUrl: string | null;
  /** The account that deployed the protocol (named on the pages). */
  deployer: string | null;
  block: number;
  startedAt: number;
  /** The devnet's phase: starting, running the job, baseline, serving. */
  phase: string;
  message: string | null;
};

export type DashboardState = {
  meta: Record<string, Meta>;
  params: Record<string, string>;
  contracts: Record<string, Contract>;
  peers: Record<string, Peer>;
  jobs: Record<string, JobInfo>;
  rounds: Record<string, RoundInfo>;
  txs: Record<string, ChainTx>;
  events: Record<string, ChainEvent>;
  datasets: Record<string, DatasetInfo>;
  models: Record<string, ModelInfo>;
  proposals: Record<string, ProposalInfo>;
  rewards: Record<string, RewardInfo>;
  reports: Record<string, ReportInfo>;
};

export type Section = keyof DashboardState;

export const SECTIONS: readonly Section[] = [
  'meta',
  'params',
  'contracts',
  'peers',
  'jobs',
  'rounds',
  'txs',
  'events',
  'datasets',
  'models',
  'proposals',
  'rewards',
  'reports',
];

/** Changed entries by section; `null` removes an entry. */
export type Patch = { v: number } & { [S in Section]?: Record<string, DashboardState[S][string] | null> };

/** A record's inclusion proof as the server serves it (the page checks it). */
export type RecordProofView = {
  datasetId: string;
  index: number;
  /** Root registered on chain for the dataset. */
  root: string;
  /** The record's canonical bytes, hex. */
  record: string;
  contentHash: string;
  proof: string[];
  format: string;
};
