/**
 * What a chaos-soak trial checks once its job is over, from chain state and events and from the
 * nodes' own stores (read after the processes are gone, as a restart would read them):
 *
 *  - outcome: the job closed by the market's rules: Completed with every round committed, or
 *    Expired (closed after its completion deadline) paying the committed rounds;
 *  - money, to the wei: the market paid the ledger `escrow × committed / rounds` and refunded the
 *    rest; the fee went to the treasury; the reward root allocates what the ledger was funded; the
 *    claims add up to the reward total; every account's AGORA balance moved by exactly what those
 *    flows say (requester, treasury, market, ledger, each payee), and nothing else moved;
 *  - nobody paid twice: one `Claimed` per account and one ledger transfer to it;
 *  - no signature lost: every committed round's records (as the coordinator persisted them) hash to
 *    the root on chain and are signed by their workers, each worker's store holds that very record
 *    signature and never a second, different one for the round (no equivocation), and every commit
 *    and reward-root co-signature the chain counted is in its signer's store;
 *  - no honest party punished: no fraud report, equivocation proof or slash;
 *  - the validator checked every committed round (a validator that never reached the coordinator
 *    before the reward split, e.g. killed at the job's start and back after its end, took no part
 *    and must not be paid).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Address,
  decodeFunctionData,
  getAddress,
  type Hex,
  type PublicClient,
  parseAbiItem,
  recoverTypedDataAddress,
} from 'viem';
import { AgoraToken, ComputeMarket, ProtocolParams, TrainingLedger } from '../../artifacts/index.ts';
import { computeMarketClient } from '../../src/chain/compute-market.ts';
import type { ChainConnection } from '../../src/chain/connect.ts';
import { ROUND_RECORD_TYPES, roundRecordsTree } from '../../src/chain/round-record.ts';
import { trainingLedgerClient } from '../../src/chain/training-ledger.ts';
import { domains, REWARD_ROOT_TYPES, ROUND_COMMIT_TYPES } from '../../src/chain/typed-data.ts';
import { roundRecordsRoot } from '../../src/data/provenance.ts';
import { provenanceFromJson, recordFromJson, type SignedRecordJson } from '../../src/node/round-protocol.ts';
import { NodeStore } from '../../src/node/store.ts';

export type Check = { name: string; ok: boolean; detail?: string };

export type TrialFacts = {
  state: string;
  rounds: number;
  roundsCommitted: number;
  escrow: string;
  fee: string;
  paid: string;
  refund: string;
  funded: string;
  rewardTotal: string;
  claimed: string;
  claims: number;
  validatorChecked: number;
  /** per participant: committed rounds it has a record in, and what it claimed (wei) */
  payees: { account: string; recordRounds: number; claimed: string }[];
};

export type ChainAddresses = { market: Address; ledger: Address; token: Address; params: Address };

/** The accounts whose AGORA balances the checks compare before the job and after it. */
export type BalanceSnapshot = Map<string, bigint>;

export async function tokenBalances(
  conn: ChainConnection,
  c: ChainAddresses,
  accounts: readonly Address[],
): Promise<BalanceSnapshot> {
  const treasury = await treasuryOf(conn, c);
  const all = [...new Set([...accounts, c.market, c.ledger, treasury].map((a) => getAddress(a)))];
  const out: BalanceSnapshot = new Map();
  for (const a of all) {
    out.set(
      a,
      (await conn.publicClient.readContract({
        address: c.token,
        abi: AgoraToken.abi,
        functionName: 'balanceOf',
        args: [a],
      })) as bigint,
    );
  }
  return out;
}

async function treasuryOf(conn: ChainConnection, c: ChainAddresses): Promise<Address> {
  return getAddress(
    (await conn.publicClient.readContract({
      address: c.params,
      abi: ProtocolParams.abi,
      functionName: 'treasury',
    })) as string,
  );
}

type Log = { args: Record<string, unknown>; transactionHash: Hex; blockNumber: bigint };

async function eventsOf(
  client: PublicClient,
  address: Address,
  abi: readonly unknown[],
  eventName: string,
  args: Record<string, unknown>,
): Promise<Log[]> {
  return (await client.getContractEvents({
    address,
    abi: abi as never,
    eventName: eventName as never,
    args: args as never,
    fromBlock: 0n,
  })) as unknown as Log[];
}

export type CheckInput = {
  conn: ChainConnection;
  contracts: ChainAddresses;
  jobId: bigint;
  requester: Address;
  validator: Address;
  /** node store files: the requester's (coordinator), the validator's, each provider's by address */
  requesterStore: string;
  validatorStore: string;
  providerStores: Map<string, string>;
  /** AGORA balances just before the job was created */
  before: BalanceSnapshot;
};

export async function checkTrial(i: CheckInput): Promise<{ checks: Check[]; facts: TrialFacts }> {
  const { conn, contracts: c, jobId } = i;
  const client = conn.publicClient as PublicClient;
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail?: string) =>
    checks.push({ name, ok, ...(ok || detail === undefined ? {} : { detail }) });

  const market = computeMarketClient(conn, c.market);
  const ledger = trainingLedgerClient(conn, c.ledger);
  const job = await market.getJob(jobId);
  const l = await ledger.getJobLedger(jobId);
  const participants = (await market.participants(jobId)).map((a) => getAddress(a));

  // ---- outcome
  const closedEv = (await eventsOf(client, c.market, ComputeMarket.abi, 'JobClosed', { jobId }))[0];
  const complete = l.roundsCommitted === job.rounds;
  check('the ledger closed the job', l.closed);
  check(
    'the job ended by the rules (Completed with every round, or Expired after its deadline)',
    (job.state === 'Completed' && complete) ||
      (job.state === 'Expired' && !complete && job.endedAt > job.completionDeadline),
    `state ${job.state}, ${l.roundsCommitted}/${job.rounds} rounds, ended ${job.endedAt}, deadline ${job.completionDeadline}`,
  );

  // ---- money
  const paid = (closedEv?.args.paid as bigint | undefined) ?? 0n;
  const refund = (closedEv?.args.refund as bigint | undefined) ?? 0n;
  const expectPaid = (job.escrow * BigInt(l.roundsCommitted)) / BigInt(job.rounds);
  check(
    'the market paid escrow × committed / rounds to the ledger and refunded the rest',
    closedEv !== undefined && paid === expectPaid && paid + refund === job.escrow,
    `paid ${paid} (expected ${expectPaid}), refund ${refund}, escrow ${job.escrow}`,
  );
  check('the ledger was funded with what the market paid', l.funded === paid, `${l.funded} ≠ ${paid}`);
  const rootEv = (
    await eventsOf(client, c.ledger, TrainingLedger.abi, 'RewardRootPosted', { epoch: jobId })
  )[0];
  if (l.roundsCommitted > 0) {
    check('a reward root was posted', rootEv !== undefined && l.rewardRoot !== `0x${'0'.repeat(64)}`);
    check(
      'the reward root allocates the whole funded escrow',
      l.rewardTotal === l.funded,
      `total ${l.rewardTotal}, funded ${l.funded}`,
    );
  }
  const claimedEvs = await eventsOf(client, c.ledger, TrainingLedger.abi, 'Claimed', { epoch: jobId });
  const claims = new Map<string, bigint>();
  const twice: string[] = [];
  for (const e of claimedEvs) {
    const a = getAddress(e.args.account as string);
    if (claims.has(a)) twice.push(a);
    claims.set(a, (claims.get(a) ?? 0n) + (e.args.amount as bigint));
  }
  const claimSum = [...claims.values()].reduce((s, x) => s + x, 0n);
  check('nobody claimed twice', twice.length === 0, `claimed twice: ${twice.join(', ')}`);
  check(
    'the claims add up to the reward total (everyone claimed)',
    claimSum === l.rewardTotal && l.claimed === l.rewardTotal,
    `claims ${claimSum}, ledger.claimed ${l.claimed}, total ${l.rewardTotal}`,
  );
  const ledgerTransfers = (await client.getLogs({
    address: c.token,
    event: parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)'),
    args: { from: c.ledger },
    fromBlock: 0n,
  })) as unknown as Log[];
  const paidTo = new Map<string, number>();
  for (const t of ledgerTransfers) {
    const to = getAddress(t.args.to as string);
    paidTo.set(to, (paidTo.get(to) ?? 0) + 1);
  }
  const paidTwice = [...paidTo].filter(([, n]) => n > 1).map(([a]) => a);
  check(
    'nobody received two reward transfers',
    paidTwice.length === 0,
    `paid twice: ${paidTwice.join(', ')}`,
  );

  // balances: every account moved by exactly the flows above
  const treasury = await treasuryOf(conn, c);
  const after = await tokenBalances(conn, c, [...i.before.keys()] as Address[]);
  const swept = l.swept ? l.funded - l.rewardTotal : 0n;
  const expected = new Map<string, bigint>();
  const add = (a: Address, d: bigint) => {
    const k = getAddress(a);
    expected.set(k, (expected.get(k) ?? 0n) + d);
  };
  add(i.requester, -(job.escrow + job.fee) + refund);
  add(treasury, job.fee + swept);
  add(c.market, 0n);
  add(c.ledger, paid - claimSum - swept);
  for (const [a, amount] of claims) add(a as Address, amount);
  const wrong: string[] = [];
  for (const [a, before] of i.before) {
    const delta = (after.get(a) ?? 0n) - before;
    const want = expected.get(a) ?? 0n;
    if (delta !== want) wrong.push(`${a}: moved ${delta}, expected ${want}`);
  }
  for (const a of expected.keys())
    if (!i.before.has(a)) wrong.push(`${a}: not in the balance snapshot (paid ${expected.get(a)})`);
  check('every balance moved by exactly the job’s flows (to the wei)', wrong.length === 0, wrong.join('; '));

  // ---- no honest party punished
  const reports = await eventsOf(client, c.market, ComputeMarket.abi, 'FraudReported', { jobId });
  const slashes = await eventsOf(client, c.market, ComputeMarket.abi, 'Slashed', { jobId });
  const equivocations = await eventsOf(client, c.market, ComputeMarket.abi, 'EquivocationProven', { jobId });
  check(
    'no fraud report, equivocation proof or slash (every party is honest)',
    reports.length + slashes.length + equivocations.length === 0,
    `${reports.length} reports, ${equivocations.length} equivocation proofs, ${slashes.length} slashes`,
  );

  // ---- signatures
  const marketDomain = domains.computeMarket(conn.chainId, c.market);
  const ledgerDomain = domains.trainingLedger(conn.chainId, c.ledger);
  const stores = new Map<string, NodeStore>();
  const open = (path: string) => {
    if (!existsSync(path)) return undefined;
    let s = stores.get(path);
    if (!s) {
      s = new NodeStore(path);
      stores.set(path, s);
    }
    return s;
  };
  const storeOf = (a: Address) => {
    const p = i.providerStores.get(getAddress(a));
    return p === undefined ? undefined : open(p);
  };
  let validatorChecked = 0;
  const signedRounds = new Map<string, number>();
  try {
    const coord = open(i.requesterStore);
    const commits = await eventsOf(client, c.ledger, TrainingLedger.abi, 'RoundCommitted', { jobId });
    const problems: string[] = [];
    for (let r = 0; r < l.roundsCommitted; r++) {
      const onChain = await ledger.getRound(jobId, BigInt(r));
      const row = coord?.getRound(jobId, r);
      if (row?.state !== 'committed') {
        problems.push(`round ${r}: the coordinator's store has it as ${row?.state ?? 'missing'}`);
        continue;
      }
      const signed = row.data.records as SignedRecordJson[];
      const provRoot = roundRecordsRoot(
        jobId,
        r,
        signed.map((s) => provenanceFromJson(s.provenance)),
      );
      const recRoot = roundRecordsTree(signed.map((s) => recordFromJson(s.record))).root;
      if (provRoot !== onChain.recordsRoot || recRoot !== onChain.recordsRoot)
        problems.push(`round ${r}: the stored records do not hash to the committed root`);
      const workers = new Set<string>();
      for (const s of signed) {
        const rec = recordFromJson(s.record);
        const worker = getAddress(rec.worker);
        if (workers.has(worker)) problems.push(`round ${r}: two records of ${worker}`);
        workers.add(worker);
        signedRounds.set(worker, (signedRounds.get(worker) ?? 0) + 1);
        if (!participants.includes(worker)) problems.push(`round ${r}: ${worker} is no participant`);
        const by = await recoverTypedDataAddress({
          domain: marketDomain,
          types: ROUND_RECORD_TYPES,
          primaryType: 'RoundRecord',
          message: rec,
          signature: s.signature as Hex,
        });
        if (getAddress(by) !== worker) problems.push(`round ${r}: ${worker}'s record is signed by ${by}`);
        const own = storeOf(worker);
        if (!own) {
          problems.push(`round ${r}: no store for ${worker}`);
          continue;
        }
        const mine = own.listSignatures(jobId, r, 'round-record');
        if (!mine.some((x) => x.signature.toLowerCase() === s.signature.toLowerCase()))
          problems.push(`round ${r}: ${worker}'s store lacks the record signature the round committed`);
      }
      // the commit's co-signatures, as sent on chain
      const ev = commits.find((e) => Number(e.args.round as bigint) === r);
      if (!ev) {
        problems.push(`round ${r}: no RoundCommitted event`);
        continue;
      }
      const tx = await client.getTransaction({ hash: ev.transactionHash });
      const call = decodeFunctionData({ abi: TrainingLedger.abi, data: tx.input });
      const sigs = (call.args as readonly unknown[])[4] as Hex[];
      for (const sig of sigs) {
        const by = getAddress(
          await recoverTypedDataAddress({
            domain: ledgerDomain,
            types: ROUND_COMMIT_TYPES,
            primaryType: 'RoundCommit',
            message: {
              jobId,
              round: BigInt(r),
              recordsRoot: onChain.recordsRoot,
              modelHash: onChain.modelHash,
            },
            signature: sig,
          }),
        );
        const own = storeOf(by);
        if (
          !own
            ?.listSignatures(jobId, r, 'round-commit')
            .some((x) => x.signature.toLowerCase() === sig.toLowerCase())
        )
          problems.push(`round ${r}: ${by}'s commit co-signature is not in its store`);
      }
    }
    // equivocation: no provider store holds two different record signatures for one round
    for (const [a, path] of i.providerStores) {
      const s = open(path);
      if (!s) continue;
      for (let r = 0; r < job.rounds; r++) {
        const digests = new Set(
          s.listSignatures(jobId, r, 'round-record').map((x) => x.signature.toLowerCase()),
        );
        if (digests.size > 1) problems.push(`round ${r}: ${a} signed ${digests.size} different records`);
      }
    }
    if (rootEv) {
      const tx = await client.getTransaction({ hash: rootEv.transactionHash });
      if (tx.input && tx.input !== '0x') {
        const call = decodeFunctionData({ abi: TrainingLedger.abi, data: tx.input });
        if (call.functionName === 'postRewardRoot') {
          const sigs = (call.args as readonly unknown[])[3] as Hex[];
          for (const sig of sigs) {
            const by = getAddress(
              await recoverTypedDataAddress({
                domain: ledgerDomain,
                types: REWARD_ROOT_TYPES,
                primaryType: 'RewardRoot',
                message: { jobId, root: l.rewardRoot, total: l.rewardTotal },
                signature: sig,
              }),
            );
            const own = storeOf(by);
            if (
              !own
                ?.listSignatures(jobId, -1, 'reward-root')
                .some((x) => x.signature.toLowerCase() === sig.toLowerCase())
            )
              problems.push(`reward root: ${by}'s co-signature is not in its store`);
          }
        }
      }
    }
    // every claim paid was persisted by its claimant before it was sent (any status: a claimant
    // stopped right after its claim landed has not marked it confirmed yet, and need not)
    for (const [a, path] of [...i.providerStores, [getAddress(i.validator), i.validatorStore] as const]) {
      const s = open(path);
      const paidA = claims.get(getAddress(a as Address));
      const rows = s?.listClaims().filter((x) => x.jobId === jobId.toString()) ?? [];
      if (paidA !== undefined && !rows.some((x) => BigInt(x.amount) === paidA))
        problems.push(`${a}: its store has no claim of ${paidA}`);
    }
    check('no signature lost, none doubled (stores ↔ chain)', problems.length === 0, problems.join('; '));

    const v = open(i.validatorStore);
    for (let r = 0; r < l.roundsCommitted; r++)
      if (v?.getRound(jobId, r)?.state === 'checked') validatorChecked++;
    // a validator that never reached the coordinator before the split (killed at the job's start,
    // back after its end) took no part: the split does not wait for it and pays it nothing
    const tookPart = (coord?.getJson<string[]>(`validators-seen:${jobId}`) ?? []).includes(
      i.validator.toLowerCase(),
    );
    check(
      'the validator checked every committed round (if it took part in the job)',
      validatorChecked === l.roundsCommitted || (!tookPart && !claims.has(getAddress(i.validator))),
      `${validatorChecked}/${l.roundsCommitted}${tookPart ? '' : ', took no part but was paid'}`,
    );
  } finally {
    for (const s of stores.values()) s.close();
  }

  return {
    checks,
    facts: {
      state: job.state,
      rounds: job.rounds,
      roundsCommitted: l.roundsCommitted,
      escrow: job.escrow.toString(),
      fee: job.fee.toString(),
      paid: paid.toString(),
      refund: refund.toString(),
      funded: l.funded.toString(),
      rewardTotal: l.rewardTotal.toString(),
      claimed: claimSum.toString(),
      claims: claims.size,
      validatorChecked,
      payees: [...participants, getAddress(i.validator)].map((a) => ({
        account: a,
        recordRounds: signedRounds.get(a) ?? 0,
        claimed: (claims.get(a) ?? 0n).toString(),
      })),
    },
  };
}

/** The store file of node `name` in `home`. */
export const storePath = (home: string, name: string): string => join(home, 'nodes', name, 'node.db');
