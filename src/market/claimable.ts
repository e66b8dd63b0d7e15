/**
 * Reward claims a home knows about: the node stores under `<home>/nodes/<role>/node.db` record each
 * claim (amount + Merkle proof) before it is sent. `claimableRewards` lists the ones the chain still
 * owes an account; `claimReward` sends one (persisted first, status updated after).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, getAddress, type Hex } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import { trainingLedgerClient } from '../chain/training-ledger.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { homePaths } from '../home.ts';
import { NodeStore } from '../node/store.ts';

export type KnownClaim = {
  jobId: string;
  epoch: number;
  account: Address;
  amount: bigint;
  proof: Hex[];
  /** The node store it was found in. */
  store: string;
};

/** Every claim recorded for `account` in the home's node stores (one per job). */
export function knownClaims(home: string, account: Address): KnownClaim[] {
  const nodes = homePaths(home).nodes;
  if (!existsSync(nodes)) return [];
  const out = new Map<string, KnownClaim>();
  for (const role of readdirSync(nodes).sort()) {
    const path = join(nodes, role, 'node.db');
    if (!existsSync(path)) continue;
    const store = new NodeStore(path);
    try {
      for (const c of store.listClaims()) {
        if (c.account.toLowerCase() !== account.toLowerCase()) continue;
        out.set(c.jobId, {
          jobId: c.jobId,
          epoch: c.epoch,
          account: getAddress(c.account),
          amount: BigInt(c.amount),
          proof: c.proof as Hex[],
          store: path,
        });
      }
    } finally {
      store.close();
    }
  }
  return [...out.values()];
}

/** The known claims the ledger has a root for and has not paid yet. */
export async function claimableRewards(
  conn: ChainConnection,
  ledgerAddress: Address,
  home: string,
  account: Address,
): Promise<KnownClaim[]> {
  const ledger = trainingLedgerClient(conn, ledgerAddress);
  const out: KnownClaim[] = [];
  for (const c of knownClaims(home, account)) {
    const l = await ledger.getJobLedger(BigInt(c.jobId));
    if (/^0x0+$/.test(l.rewardRoot)) continue;
    if (await ledger.isClaimed(BigInt(c.epoch), account)) continue;
    out.push(c);
  }
  return out;
}

/** Claims `account`'s reward of job `jobId` from the proof the home recorded. */
export async function claimReward(
  conn: ChainConnection,
  ledgerAddress: Address,
  home: string,
  signer: Signer,
  jobId: bigint,
): Promise<{ jobId: string; amount: bigint; txHash: Hex }> {
  const account = signer.account.address;
  const c = knownClaims(home, account).find((x) => x.jobId === jobId.toString());
  if (!c) {
    throw new AgoraError('CLAIM_UNKNOWN', `this home has no reward proof for ${account} in job ${jobId}`, {
      hint: 'claims are recorded by the node that worked on the job: use its --home and wallet',
    });
  }
  const ledger = trainingLedgerClient(conn, ledgerAddress);
  if (await ledger.isClaimed(BigInt(c.epoch), account)) {
    throw new AgoraError('CLAIM_DONE', `${account} already claimed its reward of job ${jobId}`);
  }
  const receipt = await ledger.claim(signer, BigInt(c.epoch), account, c.amount, c.proof);
  const store = new NodeStore(c.store);
  try {
    store.setClaimStatus(c.jobId, c.epoch, account, 'confirmed', receipt.transactionHash);
  } finally {
    store.close();
  }
  return { jobId: c.jobId, amount: c.amount, txHash: receipt.transactionHash };
}
