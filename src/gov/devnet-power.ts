/**
 * Who holds voting power on the devnet (data, one place; `deployProtocol` delegates by it and
 * docs/governance.md explains it). Every devnet account receives the same AGORA; votes need delegation
 * (ERC20Votes), and the deployment delegates:
 *
 * - account 0, the deployer: holds AGORA but delegates to nobody. Having deployed the contracts and
 *   handed the timelock to the governor, it has no say unless it delegates like any member
 *   (`agora gov delegate`).
 * - accounts 1…N−1: each delegates to itself, so each is one independent voter with its own balance.
 * - the treasury (the timelock) holds AGORA and never votes.
 *
 * With the devnet's 4% quorum of the total supply (1.2M of 30M AGORA) and 1M votes per account, no
 * single account reaches quorum: a proposal passes only when at least two members vote for (or abstain).
 */

/** One delegation the devnet deployment makes: account index → delegate index. */
export type DevnetDelegation = { account: number; delegate: number };

/** The devnet's delegations for `accountCount` funded accounts (the deployer, index 0, keeps none). */
export function devnetDelegations(accountCount: number): DevnetDelegation[] {
  return Array.from({ length: Math.max(0, accountCount - 1) }, (_, i) => ({
    account: i + 1,
    delegate: i + 1,
  }));
}

/** How many equal voters a quorum needs (pure): ⌈quorum / votes per voter⌉. */
export function votersForQuorum(totalSupply: bigint, quorumPercent: bigint, votesPerVoter: bigint): number {
  const quorum = (totalSupply * quorumPercent) / 100n;
  return Number((quorum + votesPerVoter - 1n) / votesPerVoter);
}
