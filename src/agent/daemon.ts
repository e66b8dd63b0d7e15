/**
 * `agora agent start --policy FILE`: an autonomous agent as a `Startable`. Every interval it votes on
 * active proposals by the rules of its policy (judged from the decoded actions, with the rule's reason
 * on chain through `castVoteWithReason`), claims rewards this home holds proofs for when they reach the
 * policy's threshold, and buys predictions for queued inputs from the cheapest model that meets the
 * policy's requirements (src/agent/buyer.ts), paying only within the policy's caps. Each decision is
 * logged with its reason. The text it reads (proposal descriptions, inputs, model outputs) is logged
 * or stored, never obeyed, and cannot change its policy, which is read once from the owner's file.
 */
import {
  type Address,
  decodeFunctionData,
  formatEther,
  type Hex,
  type LocalAccount,
  parseAbiItem,
} from 'viem';
import { AgoraGovernor, DataRegistry, ProtocolParams } from '../../artifacts/index.ts';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { readTx, sendTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { governanceClient } from '../gov/governance.ts';
import { claimableRewards, claimReward } from '../market/claimable.ts';
import type { Startable } from '../node/startable.ts';
import type { ModelSource } from '../serve/model-offers.ts';
import { parseAmount } from '../wallet/amount.ts';
import { type DecodedAction, decideVote } from './autonomy.ts';
import { type BuyDecision, PredictionBuyer } from './buyer.ts';
import type { Policy } from './policy.ts';
import { agentEnv } from './session.ts';
import { SpendLedger } from './spend-ledger.ts';

export type Decision = {
  at: string;
  kind: 'vote' | 'skip-vote' | 'claim' | 'skip-claim' | 'error' | BuyDecision['kind'];
  subject: string;
  reason: string;
  support?: string;
  amount?: string;
  txHash?: Hex;
};

const proposalCreated = parseAbiItem(
  'event ProposalCreated(uint256 proposalId, address proposer, address[] targets, uint256[] values, string[] signatures, bytes[] calldatas, uint256 voteStart, uint256 voteEnd, string description)',
);
const SUPPORT = { against: 0, for: 1, abstain: 2 } as const;

/** What a proposal's calldata calls (ProtocolParams and DataRegistry actions decode; others do not). */
export function decodeAction(target: Address, data: Hex): DecodedAction {
  for (const abi of [ProtocolParams.abi, DataRegistry.abi]) {
    try {
      const d = decodeFunctionData({ abi, data });
      return { target, call: d.functionName, args: (d.args ?? []) as readonly unknown[] };
    } catch {}
  }
  return { target, call: `unknown(${data.slice(0, 10)})`, args: [] };
}

export class AgentDaemon implements Startable {
  readonly name = 'agent';
  readonly decisions: Decision[] = [];
  readonly #conn: ChainConnection;
  readonly #deployment: Deployment;
  readonly #home: string;
  readonly #account: LocalAccount;
  readonly #policy: Policy;
  readonly #log: (d: Decision) => void;
  readonly #skipped = new Set<string>();
  readonly #buyer: PredictionBuyer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(o: {
    conn: ChainConnection;
    deployment: Deployment;
    home: string;
    account: LocalAccount;
    policy: Policy;
    log?: (d: Decision) => void;
    /** Where the buyer finds models besides the policy's servers (gossip, chain). */
    modelSources?: ModelSource[];
  }) {
    if (!o.policy.autonomy) {
      throw new AgoraError(
        'POLICY_NO_AUTONOMY',
        'the policy has no "autonomy" section: nothing to do on its own',
        {
          hint: 'add "autonomy": { "vote": { "rules": […] }, "claim": { "minAmount": "1" } } (docs/agents.md)',
        },
      );
    }
    this.#conn = o.conn;
    this.#deployment = o.deployment;
    this.#home = o.home;
    this.#account = o.account;
    this.#policy = o.policy;
    this.#log = o.log ?? (() => {});
    const buy = o.policy.autonomy.buy;
    if (buy) {
      const env = agentEnv({
        home: o.home,
        conn: o.conn,
        deployment: o.deployment,
        address: o.account.address,
        unlock: async () => o.account,
        policy: o.policy,
      });
      this.#buyer = new PredictionBuyer({
        env,
        ledger: new SpendLedger(o.home),
        rule: buy,
        sources: o.modelSources,
        decide: (d) => this.#decide(d),
      });
    }
  }

  #decide(d: Omit<Decision, 'at'>): void {
    const full = { at: new Date().toISOString(), ...d };
    this.decisions.push(full);
    this.#log(full);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.tick().catch((e) =>
        this.#decide({ kind: 'error', subject: 'tick', reason: (e as Error).message }),
      );
      await this.#running;
      if (!this.#stopped)
        this.#timer = setTimeout(loop, (this.#policy.autonomy?.intervalSeconds ?? 30) * 1000);
    };
    await loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** One pass: votes, then claims, then buys predictions for the queue. */
  async tick(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    if (now >= this.#policy.expiresAt) {
      this.#decide({
        kind: 'error',
        subject: 'policy',
        reason: 'the policy has expired: the agent does nothing',
      });
      return;
    }
    await this.#vote();
    await this.#claim();
    await this.#buyer?.pass();
  }

  async #vote(): Promise<void> {
    const autonomy = this.#policy.autonomy!;
    if (!autonomy.vote) return;
    const governor = this.#deployment.contracts.AgoraGovernor;
    if (!governor) return;
    const gov = governanceClient(this.#conn, governor);
    const logs = await this.#conn.publicClient.getLogs({
      address: governor,
      event: proposalCreated,
      fromBlock: BigInt(this.#deployment.blockNumber),
    });
    const me = this.#account.address;
    for (const log of logs) {
      const { proposalId, targets, calldatas } = log.args as {
        proposalId: bigint;
        targets: Address[];
        calldatas: Hex[];
      };
      const subject = `proposal ${proposalId}`;
      if ((await gov.state(proposalId)) !== 'Active' || this.#skipped.has(subject)) continue;
      const voted = await readTx<boolean>(this.#conn, {
        label: 'AgoraGovernor.hasVoted',
        address: governor,
        abi: AgoraGovernor.abi,
        functionName: 'hasVoted',
        args: [proposalId, me],
      });
      if (voted) continue;
      const actions = targets.map((t, i) => decodeAction(t, calldatas[i]!));
      const d = decideVote(autonomy, actions);
      if (!d.vote) {
        this.#skipped.add(subject);
        this.#decide({ kind: 'skip-vote', subject, reason: d.reason });
        continue;
      }
      const receipt = await sendTx(this.#conn, walletClientFor(this.#conn, this.#account), {
        label: 'AgoraGovernor.castVoteWithReason',
        address: governor,
        abi: AgoraGovernor.abi,
        functionName: 'castVoteWithReason',
        args: [proposalId, SUPPORT[d.support], d.reason],
      });
      this.#decide({
        kind: 'vote',
        subject,
        support: d.support,
        reason: d.reason,
        txHash: receipt.transactionHash,
      });
    }
  }

  async #claim(): Promise<void> {
    const rule = this.#policy.autonomy?.claim;
    const ledger = this.#deployment.contracts.TrainingLedger;
    if (!rule || !ledger) return;
    const min = parseAmount(rule.minAmount);
    for (const c of await claimableRewards(this.#conn, ledger, this.#home, this.#account.address)) {
      const subject = `rewards of job ${c.jobId}`;
      if (c.amount < min) {
        if (!this.#skipped.has(subject)) {
          this.#skipped.add(subject);
          this.#decide({
            kind: 'skip-claim',
            subject,
            reason: `${formatEther(c.amount)} AGORA is below the ${rule.minAmount} AGORA threshold`,
          });
        }
        continue;
      }
      const r = await claimReward(
        this.#conn,
        ledger,
        this.#home,
        walletClientFor(this.#conn, this.#account),
        BigInt(c.jobId),
      );
      this.#decide({
        kind: 'claim',
        subject,
        amount: formatEther(r.amount),
        reason: `at least ${rule.minAmount} AGORA`,
        txHash: r.txHash,
      });
    }
  }
}
