/**
 * The dashboard's chain adapter: follows new blocks (every `pollMs`), decodes every transaction
 * and event of the protocol contracts with their ABIs, and puts into the hub the recent
 * transactions, the events in words (words.ts), and what they change: jobs, committed rounds
 * (with the co-signers recovered from the commit's signatures), datasets, fraud reports and
 * slashes, reward claims, governance proposals and the protocol parameters.
 */
import {
  type Abi,
  type Address,
  decodeEventLog,
  decodeFunctionData,
  getAddress,
  type Hex,
  recoverTypedDataAddress,
} from 'viem';
import {
  AgoraGovernor,
  AgoraTimelock,
  AgoraToken,
  ComputeMarket,
  DataRegistry,
  PaymentChannels,
  ProtocolParams,
  TrainingLedger,
} from '../../artifacts/index.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import { dataRegistryClient } from '../chain/data-registry.ts';
import type { Deployment } from '../chain/deployments.ts';
import { readProtocolParams } from '../chain/protocol-params.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import { domains, ROUND_COMMIT_TYPES } from '../chain/typed-data.ts';
import { loadDataset } from '../data/store.ts';
import { governanceClient } from '../gov/governance.ts';
import type { Logger } from '../node/logger.ts';
import type { Startable } from '../node/startable.ts';
import type { DashboardHub } from './hub.ts';
import type { JobInfo, RoundInfo } from './types.ts';
import { formatAgora, roleOf } from './views.ts';
import { describeEvent } from './words.ts';

const ABIS: Record<string, Abi> = {
  AgoraToken: AgoraToken.abi as Abi,
  TimelockController: AgoraTimelock.abi as Abi,
  AgoraGovernor: AgoraGovernor.abi as Abi,
  ProtocolParams: ProtocolParams.abi as Abi,
  DataRegistry: DataRegistry.abi as Abi,
  ComputeMarket: ComputeMarket.abi as Abi,
  TrainingLedger: TrainingLedger.abi as Abi,
  PaymentChannels: PaymentChannels.abi as Abi,
};
const FINAL_PROPOSAL_STATES = new Set(['Canceled', 'Defeated', 'Expired', 'Executed']);

export type ChainSourceOptions = {
  conn: ChainConnection;
  deployment: Deployment;
  hub: DashboardHub;
  /** The home whose local datasets can be proven (`<home>/data/`). */
  home: string;
  logger?: Logger;
  /** How often new blocks are looked for (default 100 ms). */
  pollMs?: number;
  /** Called once a round commit is in the hub (the store adapter refreshes then). */
  onRoundCommitted?: (jobId: string, round: number) => void;
  /** Called after a job closes or its rewards are posted. */
  onJobChanged?: (jobId: string) => void;
};

export function emptyJob(jobId: string): JobInfo {
  return {
    jobId,
    requester: '',
    state: 'Unknown',
    workers: 0,
    innerSteps: 0,
    rounds: 0,
    pricePerRound: '0',
    escrow: '0',
    fee: '0',
    datasetIds: [],
    participants: [],
    roundsCommitted: 0,
    ddpBytesPerRound: null,
    closed: false,
    finalModelHash: null,
    rewardRoot: null,
    rewardTotal: null,
    result: null,
  };
}

export function emptyRound(jobId: string, round: number): RoundInfo {
  return { jobId, round, commit: null, trainLoss: null, testAccuracy: null, bytesSent: 0, checks: [] };
}

export class ChainSource implements Startable {
  readonly name = 'dashboard-chain';
  readonly #o: ChainSourceOptions;
  readonly #names = new Map<string, string>();
  readonly #addresses: Address[];
  #next = 0n;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #busy?: Promise<void>;
  #lastProposalRefresh = 0;

  constructor(o: ChainSourceOptions) {
    this.#o = o;
    for (const [name, address] of Object.entries(o.deployment.contracts))
      this.#names.set(address.toLowerCase(), name);
    this.#addresses = Object.values(o.deployment.contracts);
  }

  /** A readable name for an address: a peer's or a contract's name, else the short address. */
  nameOf = (address: string): string => {
    const a = address.toLowerCase();
    for (const [, p] of this.#o.hub.entries('peers')) if (p.address.toLowerCase() === a) return p.name;
    const c = this.#names.get(a);
    if (c) return c;
    if (a === this.#o.deployment.deployer.toLowerCase()) return 'deployer';
    if (/^0x0{40}$/.test(a)) return 'nobody (0x0)';
    return `${address.slice(0, 8)}…${address.slice(-4)}`;
  };

  async start(): Promise<void> {
    const { hub, deployment, conn } = this.#o;
    for (const [name, address] of Object.entries(deployment.contracts))
      hub.put('contracts', name, { name, address });
    await this.#refreshParams();
    const head = await conn.publicClient.getBlockNumber();
    // a devnet's whole history; on a long chain, the deployment's block on
    this.#next = head < 5000n ? 0n : BigInt(deployment.blockNumber);
    await this.#tick();
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#busy?.catch(() => {});
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#busy = this.#tick()
        .catch((e: Error) => this.#o.logger?.warn({ err: e.message }, 'dashboard: chain poll failed'))
        .finally(() => this.#schedule());
    }, this.#o.pollMs ?? 100);
  }

  async #tick(): Promise<void> {
    const { conn, hub } = this.#o;
    const head = await conn.publicClient.getBlockNumber();
    if (this.#next <= head && !this.#stopped) {
      const from = this.#next;
      const to = head - from > 199n ? from + 199n : head;
      // first what the protocol's events change (one call for the whole range: the live path),
      // then the blocks' transactions and the events in words
      const logs = await conn.publicClient.getLogs({
        address: this.#addresses,
        fromBlock: from,
        toBlock: to,
      });
      for (const log of logs) {
        const ev = this.#decode(log);
        if (ev)
          await this.#apply(ev.contract, ev.name, ev.args, {
            hash: log.transactionHash as Hex,
            block: Number(log.blockNumber),
          });
      }
      for (let b = from; b <= to && !this.#stopped; b++) await this.#block(b);
      this.#next = to + 1n;
    }
    hub.update('meta', 'chain', () => this.#meta(), { block: Number(head) });
    if (Date.now() - this.#lastProposalRefresh > 2000) {
      this.#lastProposalRefresh = Date.now();
      await this.#refreshProposals();
    }
  }

  #decode(log: {
    address: string;
    data: Hex;
    topics: readonly Hex[];
  }): { contract: string; name: string; args: Record<string, unknown> } | undefined {
    const contract = this.#names.get(log.address.toLowerCase());
    if (!contract || !ABIS[contract]) return undefined;
    try {
      const ev = decodeEventLog({
        abi: ABIS[contract],
        data: log.data,
        topics: log.topics as [Hex, ...Hex[]],
      }) as unknown as { eventName: string; args?: Record<string, unknown> };
      return { contract, name: ev.eventName, args: ev.args ?? {} };
    } catch {
      return undefined;
    }
  }

  #meta() {
    return {
      chainId: this.#o.conn.chainId,
      rpcUrl: null,
      deployer: this.#o.deployment.deployer,
      block: 0,
      startedAt: Date.now(),
      phase: 'serving',
      message: null,
    };
  }

  async #block(number: bigint): Promise<void> {
    const { conn, hub } = this.#o;
    const b = await conn.publicClient.getBlock({ blockNumber: number, includeTransactions: true });
    const at = Number(b.timestamp) * 1000;
    for (const tx of b.transactions) {
      const receipt = await conn.publicClient.getTransactionReceipt({ hash: tx.hash });
      const target = tx.to ?? receipt.contractAddress ?? null;
      const contract = target ? (this.#names.get(target.toLowerCase()) ?? null) : null;
      let call: { functionName: string; args?: readonly unknown[] } | undefined;
      if (contract && ABIS[contract]) {
        try {
          call = decodeFunctionData({ abi: ABIS[contract], data: tx.input });
        } catch {}
      }
      hub.put('txs', tx.hash, {
        hash: tx.hash,
        block: Number(number),
        index: tx.transactionIndex ?? 0,
        from: getAddress(tx.from),
        to: tx.to ? getAddress(tx.to) : null,
        contract,
        fn: call?.functionName ?? (tx.to ? null : 'deploy'),
        ok: receipt.status === 'success',
        gasUsed: Number(receipt.gasUsed),
        at,
      });
      for (const log of receipt.logs) {
        const ev = this.#decode(log);
        if (!ev) continue;
        hub.put('events', `${Number(number)}:${log.logIndex}`, {
          id: `${Number(number)}:${log.logIndex}`,
          block: Number(number),
          txHash: tx.hash,
          contract: ev.contract,
          name: ev.name,
          text: describeEvent(ev.name, ev.args, this.nameOf),
          at,
        });
        if (ev.name === 'RoundCommitted') {
          // the commit is in the hub already (#apply); its co-signers and block time come from here
          const key = `${ev.args.jobId}:${Number(ev.args.round)}`;
          const r = hub.get('rounds', key);
          const signers = await this.#commitSigners(ev.args, call);
          if (r?.commit) hub.put('rounds', key, { ...r, commit: { ...r.commit, signers, at } });
        }
      }
    }
  }

  async #apply(
    contract: string,
    name: string,
    args: Record<string, unknown>,
    tx: { hash: Hex; block: number },
  ): Promise<void> {
    const { hub } = this.#o;
    const id = (k: string) => String(args[k]);
    switch (`${contract}.${name}`) {
      case 'ComputeMarket.JobCreated':
      case 'ComputeMarket.JobStarted':
      case 'ComputeMarket.JobClosed':
      case 'ComputeMarket.JobCancelled':
      case 'ComputeMarket.JobUnfilled':
      case 'TrainingLedger.JobClosed':
        await this.#refreshJob(id('jobId'));
        if (name === 'JobClosed') this.#o.onJobChanged?.(id('jobId'));
        return;
      case 'TrainingLedger.RewardRootPosted':
        await this.#refreshJob(id('epoch'));
        this.#o.onJobChanged?.(id('epoch'));
        return;
      case 'TrainingLedger.RoundCommitted': {
        const jobId = id('jobId');
        const round = Number(args.round);
        // (a coordinator in this process may have pushed it already: src/dashboard/dashboard.ts)
        if (!hub.get('rounds', `${jobId}:${round}`)?.commit) {
          hub.update('rounds', `${jobId}:${round}`, () => emptyRound(jobId, round), {
            commit: {
              txHash: tx.hash,
              block: tx.block,
              recordsRoot: String(args.recordsRoot),
              modelHash: String(args.modelHash),
              signers: [],
              at: Date.now(),
              seenAt: Date.now(),
            },
          });
        }
        hub.update('jobs', jobId, () => emptyJob(jobId), {
          roundsCommitted: Math.max(round + 1, hub.get('jobs', jobId)?.roundsCommitted ?? 0),
        });
        this.#o.onRoundCommitted?.(jobId, round);
        return;
      }
      case 'DataRegistry.DatasetRegistered': {
        const { conn, deployment } = this.#o;
        const d = await dataRegistryClient(conn, deployment.contracts.DataRegistry!).getDataset(
          BigInt(id('datasetId')),
        );
        let local = false;
        try {
          local = loadDataset(this.#o.home, d.root) !== undefined;
        } catch {}
        hub.put('datasets', id('datasetId'), {
          datasetId: id('datasetId'),
          root: d.root,
          records: Number(d.records),
          bytes: Number(d.bytes),
          licence: d.licence,
          sector: d.sector,
          contributor: getAddress(d.contributor),
          local,
        });
        return;
      }
      case 'ComputeMarket.FraudReported':
        hub.put('reports', id('reportId'), {
          reportId: id('reportId'),
          jobId: id('jobId'),
          provider: getAddress(id('provider')),
          validator: getAddress(id('validator')),
          round: Number(args.round),
          state: 'Pending',
          slashed: null,
        });
        return;
      case 'ComputeMarket.FraudDismissed':
        hub.update(
          'reports',
          id('reportId'),
          () => ({
            reportId: id('reportId'),
            jobId: '',
            provider: '',
            validator: '',
            round: 0,
            state: 'Dismissed',
            slashed: null,
          }),
          { state: 'Dismissed' },
        );
        return;
      case 'ComputeMarket.Slashed': {
        for (const [k, r] of hub.entries('reports')) {
          if (
            r.jobId === id('jobId') &&
            r.provider.toLowerCase() === id('provider').toLowerCase() &&
            !r.slashed
          )
            hub.put('reports', k, { ...r, state: 'Executed', slashed: String(args.amount) });
        }
        return;
      }
      case 'TrainingLedger.Claimed': {
        const jobId = id('epoch');
        const account = getAddress(id('account'));
        const snap = {
          jobs: Object.fromEntries(hub.entries('jobs')),
          datasets: Object.fromEntries(hub.entries('datasets')),
          peers: Object.fromEntries(hub.entries('peers')),
        };
        const key = `${jobId}:${account}`;
        hub.update(
          'rewards',
          key,
          () => ({ jobId, account, role: null, amount: String(args.amount), claimed: false, claimTx: null }),
          {
            amount: String(args.amount),
            claimed: true,
            claimTx: tx.hash,
            role: hub.get('rewards', key)?.role ?? roleOf(account, snap, jobId),
          },
        );
        return;
      }
      case 'AgoraGovernor.ProposalCreated': {
        const pid = String(args.proposalId);
        hub.put('proposals', pid, {
          proposalId: pid,
          proposer: getAddress(id('proposer')),
          description: String(args.description),
          state: 'Pending',
          targets: ((args.targets ?? []) as string[]).map((t) => this.nameOf(t)),
          voteStart: Number(args.voteStart),
          voteEnd: Number(args.voteEnd),
        });
        await this.#refreshProposals();
        return;
      }
      case 'AgoraGovernor.ProposalQueued':
      case 'AgoraGovernor.ProposalExecuted':
      case 'AgoraGovernor.ProposalCanceled':
      case 'AgoraGovernor.VoteCast':
        await this.#refreshProposals();
        return;
      case 'ProtocolParams.ParamChanged':
      case 'ProtocolParams.TreasuryChanged':
      case 'ProtocolParams.ValidatorSet':
      case 'ProtocolParams.SectorSet':
        await this.#refreshParams();
        return;
    }
  }

  /** The addresses that co-signed a round commit (recovered from the transaction's signatures). */
  async #commitSigners(
    args: Record<string, unknown>,
    call?: { functionName: string; args?: readonly unknown[] },
  ): Promise<string[]> {
    if (call?.functionName !== 'commitRound' || !call.args) return [];
    const { conn, deployment } = this.#o;
    const sigs = call.args[4] as Hex[];
    const domain = domains.trainingLedger(conn.chainId, deployment.contracts.TrainingLedger as Address);
    const message = {
      jobId: args.jobId as bigint,
      round: args.round as bigint,
      recordsRoot: args.recordsRoot as Hex,
      modelHash: args.modelHash as Hex,
    };
    const out: string[] = [];
    for (const signature of sigs) {
      try {
        out.push(
          await recoverTypedDataAddress({
            domain,
            types: ROUND_COMMIT_TYPES,
            primaryType: 'RoundCommit',
            message,
            signature,
          }),
        );
      } catch {}
    }
    return out;
  }

  async #refreshJob(jobId: string): Promise<void> {
    const { conn, deployment, hub } = this.#o;
    const market = computeMarketClient(conn, deployment.contracts.ComputeMarket!);
    const ledger = trainingLedgerClient(conn, deployment.contracts.TrainingLedger!);
    const id = BigInt(jobId);
    const [j, participants, datasets, l] = await Promise.all([
      market.getJob(id),
      market.participants(id),
      market.datasetsOf(id),
      ledger.getJobLedger(id),
    ]);
    const zero = (h: Hex) => (/^0x0*$/.test(h) ? null : h);
    hub.update('jobs', jobId, () => emptyJob(jobId), {
      requester: getAddress(j.requester),
      state: j.state,
      workers: j.workers,
      innerSteps: j.innerSteps,
      rounds: j.rounds,
      pricePerRound: j.pricePerRound.toString(),
      escrow: j.escrow.toString(),
      fee: j.fee.toString(),
      datasetIds: datasets.map(String),
      participants: participants.map((p) => getAddress(p)),
      roundsCommitted: l.roundsCommitted,
      closed: l.closed,
      finalModelHash: zero(l.finalModelHash),
      rewardRoot: zero(l.rewardRoot),
      rewardTotal: zero(l.rewardRoot) ? l.rewardTotal.toString() : null,
    });
  }

  async #refreshParams(): Promise<void> {
    const { conn, deployment, hub } = this.#o;
    if (!deployment.contracts.ProtocolParams) return;
    const p = await readProtocolParams(conn, deployment.contracts.ProtocolParams);
    const put = (k: string, v: string) => hub.put('params', k, v);
    put('minStake (provider stake)', formatAgora(p.minStake));
    put('slash', `${p.slashBps / 100}% of the locked stake`);
    put('protocol fee', `${p.protocolFeeBps / 100}% of a job's escrow`);
    put('challenge period', `${p.minChallengePeriod} s to ${p.maxChallengePeriod} s`);
    put('treasury', `${this.nameOf(p.treasury)} (${p.treasury})`);
    put('owner (governance)', `${this.nameOf(p.governance)} (${p.governance})`);
    if (deployment.contracts.AgoraGovernor) {
      const g = governanceClient(conn, deployment.contracts.AgoraGovernor);
      const [delay, period] = await Promise.all([g.votingDelay(), g.votingPeriod()]);
      put('voting delay', `${delay} s`);
      put('voting period', `${period} s`);
    }
  }

  async #refreshProposals(): Promise<void> {
    const { conn, deployment, hub } = this.#o;
    if (!deployment.contracts.AgoraGovernor) return;
    const g = governanceClient(conn, deployment.contracts.AgoraGovernor);
    for (const [k, p] of hub.entries('proposals')) {
      if (FINAL_PROPOSAL_STATES.has(p.state)) continue;
      const state = await g.state(BigInt(p.proposalId)).catch(() => p.state);
      if (state !== p.state) hub.put('proposals', k, { ...p, state });
    }
  }
}
