/**
 * `agora devnet --gov-demo`: one proposal through its whole life on the devnet, by several members.
 * Account 1 proposes raising minStake to 250 AGORA; accounts 1 and 2 vote for, 3 abstains, 4 votes
 * against (one account alone is below the 4% quorum); the devnet's clock skips the voting period and
 * the timelock (evm_increaseTime, announced); account 5 queues and executes; the new value is read back.
 */
import { formatEther, type Hex } from 'viem';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { devnetAccount } from '../chain/devnet.ts';
import { proposalDescription } from './description.ts';
import type { VoteSupport } from './governance.ts';
import * as member from './member.ts';
import { readGovernedState } from './param-state.ts';
import { formatDuration } from './params.ts';
import { chainNow, govChain, proposalFacts } from './proposals.ts';

export type GovDemoResult = {
  proposalId: string;
  title: string;
  votes: { account: string; support: VoteSupport; weight: string }[];
  param: 'minStake';
  before: string;
  after: string;
  executedTx: Hex;
};

export async function runGovDemo(o: {
  conn: ChainConnection;
  deployment: Deployment;
  /** Moves the devnet's clock forward (evm_increaseTime + evm_mine). */
  skip: (seconds: bigint) => Promise<void>;
  onProgress?: (m: string) => void;
}): Promise<GovDemoResult> {
  const g = govChain(o.conn, o.deployment);
  const say = o.onProgress ?? (() => {});
  const signer = (i: number) => walletClientFor(o.conn, devnetAccount(i));
  const before = (await readGovernedState(g)).values.minStake as bigint;
  const title = 'Raise the minimum stake to 250 AGORA';
  const { proposal } = await member.propose(
    g,
    signer(1),
    [{ kind: 'set', param: 'minStake', value: 250n * 10n ** 18n }],
    proposalDescription(title, 'A provider with more at stake has more to lose by cheating.'),
  );
  say(`gov demo: account 1 proposed "${title}" (proposal ${proposal.number})`);
  const votes: GovDemoResult['votes'] = [];
  for (const [i, support] of [
    [1, 'for'],
    [2, 'for'],
    [3, 'abstain'],
    [4, 'against'],
  ] as const) {
    const r = await member.vote(g, signer(i), proposal.id.toString(), support, {
      wait: true,
      onProgress: say,
    });
    votes.push({ account: devnetAccount(i).address, support, weight: formatEther(r.weight) });
    say(`gov demo: account ${i} voted ${support} with ${formatEther(r.weight)} AGORA of votes`);
  }
  const facts = await proposalFacts(g, proposal, await chainNow(o.conn));
  const left = facts.deadline + 1n - (await chainNow(o.conn));
  say(`gov demo: skipping the rest of the voting period (${formatDuration(left)}) on the devnet clock`);
  await o.skip(left);
  await member.queue(g, signer(5), proposal.id.toString());
  say(`gov demo: account 5 queued it; skipping the ${formatDuration(facts.minDelay)} timelock`);
  await o.skip(facts.minDelay);
  const { receipt } = await member.execute(g, signer(5), proposal.id.toString());
  const after = (await readGovernedState(g)).values.minStake as bigint;
  say(`gov demo: executed; minStake ${formatEther(before)} → ${formatEther(after)} AGORA`);
  return {
    proposalId: proposal.id.toString(),
    title,
    votes,
    param: 'minStake',
    before: formatEther(before),
    after: formatEther(after),
    executedTx: receipt.transactionHash,
  };
}
