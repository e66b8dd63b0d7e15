/**
 * Randomized invariant test: random sequences of channel operations (valid and invalid) against the
 * real contract, checked op by op against a model. Invariants: every op succeeds exactly when the model
 * says it should; a channel never pays more than its deposit; tokens are conserved (participants +
 * contract constant); the contract holds exactly the unpaid deposits of unfinalized channels.
 */
import { type Address, erc20Abi, type Hex, type LocalAccount, maxUint256 } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { walletClientFor } from '../../src/chain/connect.ts';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { signCloseConsent, signVoucher } from '../../src/pay/voucher.ts';
import {
  balanceOf,
  increaseTime,
  latestTimestamp,
  type PayFixture,
  startPayFixture,
  TEST_BOUNDS,
} from './fixture.ts';

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] };
}

type ModelChannel = {
  id: Hex;
  sender: number;
  recipient: number;
  deposit: bigint;
  paid: bigint;
  period: number;
  closesAt: number;
  finalized: boolean;
};

const UNIT = 10n ** 15n;
const N = 4; // participants: accounts 1..4
const SEQUENCES_PER_BATCH = 50;
const BATCHES = 4;
const OPS_PER_SEQUENCE = 10;
const MARGIN = 30; // seconds around a deadline where the next block's timestamp is ambiguous: skip such ops

let f: PayFixture;
let people: LocalAccount[];
let clients: ChannelClient[];
let total: bigint;
const channels: ModelChannel[] = [];

async function expectOutcome(p: Promise<unknown>, ok: boolean, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (ok || !(e instanceof AgoraError) || !e.code.startsWith('CHANNEL_')) {
      throw new Error(
        `${what}: expected ${ok ? 'success' : 'a CHANNEL_ rejection'}, got ${(e as Error).message}`,
      );
    }
    return;
  }
  if (!ok) throw new Error(`${what}: expected a rejection, but it succeeded`);
}

async function checkInvariants(touched?: ModelChannel): Promise<void> {
  const balances = await Promise.all(
    [...people.map((a) => a.address), f.channels].map((a) => balanceOf(f.conn, f.token, a)),
  );
  expect(balances.reduce((x, y) => x + y, 0n)).toBe(total);
  const held = channels.filter((c) => !c.finalized).reduce((s, c) => s + c.deposit - c.paid, 0n);
  expect(balances[N]).toBe(held);
  if (touched) {
    const c = await clients[0].getChannel(touched.id);
    expect(c.paid).toBeLessThanOrEqual(c.deposit);
    expect({ deposit: c.deposit, paid: c.paid, closesAt: c.closesAt !== 0, finalized: c.finalized }).toEqual({
      deposit: touched.deposit,
      paid: touched.paid,
      closesAt: touched.closesAt !== 0,
      finalized: touched.finalized,
    });
  }
}

async function runSequence(seed: number): Promise<void> {
  const r = prng(seed);
  const mine: ModelChannel[] = [];
  const open = async () => {
    const s = r.int(0, N - 1);
    let t = r.int(0, N - 1);
    if (t === s) t = (t + 1) % N;
    const amount = BigInt(r.int(1, 1000)) * UNIT;
    const badPeriod = r.next() < 0.1;
    const period = badPeriod ? r.pick([TEST_BOUNDS.min - 1, TEST_BOUNDS.max + 1]) : r.int(600, 7200);
    const p = clients[s].open({
      recipient: people[t].address,
      token: f.token,
      amount,
      challengePeriod: period,
      approve: false,
    });
    if (badPeriod) return expectOutcome(p, false, 'open(bad period)');
    const { channelId } = await p;
    const c: ModelChannel = {
      id: channelId,
      sender: s,
      recipient: t,
      deposit: amount,
      paid: 0n,
      period,
      closesAt: 0,
      finalized: false,
    };
    channels.push(c);
    mine.push(c);
    await checkInvariants(c);
  };
  await open();
  for (let i = 0; i < OPS_PER_SEQUENCE; i++) {
    const op = r.int(0, 9);
    if (op === 0 || mine.length === 0) {
      await open();
      continue;
    }
    const c = r.pick(mine);
    const now = await latestTimestamp(f.conn);
    const closing = c.closesAt !== 0;
    if (closing && Math.abs(now - c.closesAt) < MARGIN) {
      await increaseTime(f.chain, MARGIN * 2);
      continue;
    }
    const inChallenge = closing && now < c.closesAt;
    const live = !c.finalized;
    if (op <= 4) {
      // settle: mostly valid, sometimes lower, equal, over the deposit, wrong signer or wrong caller
      const kind = r.int(0, 9);
      let amount = c.paid + BigInt(r.int(1, 200)) * UNIT;
      if (kind === 0) amount = c.paid > 0n ? c.paid - BigInt(r.int(0, 5)) * UNIT : 0n;
      if (kind === 1) amount = c.deposit + BigInt(r.int(1, 10));
      if (amount > c.deposit && kind !== 1) amount = c.deposit;
      const signer = kind === 2 ? r.pick(people.filter((_, j) => j !== c.sender)) : people[c.sender];
      const caller = kind === 3 ? (c.recipient + 1) % N : c.recipient;
      const v = await signVoucher(signer, clients[0].domain, {
        channelId: c.id,
        cumulativeAmount: amount < 0n ? 0n : amount,
      });
      const ok =
        live &&
        (!closing || inChallenge) &&
        caller === c.recipient &&
        signer === people[c.sender] &&
        v.cumulativeAmount > c.paid &&
        v.cumulativeAmount <= c.deposit;
      await expectOutcome(
        clients[caller].settle(v),
        ok,
        `settle ${v.cumulativeAmount} on ${c.id} (kind ${kind})`,
      );
      if (ok) c.paid = v.cumulativeAmount;
    } else if (op === 5) {
      const amount = BigInt(r.int(1, 300)) * UNIT;
      const caller = r.next() < 0.8 ? c.sender : c.recipient;
      const ok = live && !closing && caller === c.sender;
      await expectOutcome(clients[caller].topUp(c.id, amount, { approve: false }), ok, 'topUp');
      if (ok) c.deposit += amount;
    } else if (op === 6) {
      const caller = r.next() < 0.85 ? c.sender : c.recipient;
      const ok = live && !closing && caller === c.sender;
      await expectOutcome(clients[caller].startClose(c.id), ok, 'startClose');
      if (ok) c.closesAt = (await latestTimestamp(f.conn)) + c.period;
    } else if (op === 7) {
      const ok = live && closing && !inChallenge;
      await expectOutcome(clients[c.sender].withdraw(c.id), ok, 'withdraw');
      if (ok) c.finalized = true;
    } else if (op === 8) {
      const span = c.deposit - c.paid;
      const amount = c.paid + (span * BigInt(r.int(0, 120))) / 100n - (r.next() < 0.1 ? 1n : 0n);
      const badSig = r.next() < 0.1;
      const a = amount < 0n ? 0n : amount;
      const senderSig = await signCloseConsent(people[badSig ? c.recipient : c.sender], clients[0].domain, {
        channelId: c.id,
        cumulativeAmount: a,
      });
      const ok = live && a >= c.paid && a <= c.deposit && !badSig;
      await expectOutcome(clients[c.recipient].cooperativeClose(c.id, a, senderSig), ok, 'cooperativeClose');
      if (ok) {
        c.paid = a;
        c.finalized = true;
      }
    } else {
      await increaseTime(f.chain, r.pick([60, 700, 3000, 8000]));
      continue;
    }
    await checkInvariants(c);
  }
}

beforeAll(async () => {
  f = await startPayFixture(N + 1);
  people = f.accounts.slice(1, N + 1);
  clients = people.map((a) => new ChannelClient(f.conn, f.channels, a));
  for (const a of people) {
    const hash = await walletClientFor(f.conn, a).writeContract({
      address: f.token,
      abi: erc20Abi,
      functionName: 'approve',
      args: [f.channels, maxUint256],
    });
    await f.conn.publicClient.waitForTransactionReceipt({ hash });
  }
  const bs = await Promise.all(
    [...people.map((a) => a.address), f.channels as Address].map((a) => balanceOf(f.conn, f.token, a)),
  );
  total = bs.reduce((x, y) => x + y, 0n);
});
afterAll(async () => f?.stop());

describe('PaymentChannels randomized invariants', () => {
  for (let b = 0; b < BATCHES; b++) {
    it(`batch ${b}: ${SEQUENCES_PER_BATCH} random sequences of ${OPS_PER_SEQUENCE} ops`, async () => {
      for (let s = 0; s < SEQUENCES_PER_BATCH; s++) await runSequence(1000 * b + s + 1);
      expect(channels.length).toBeGreaterThan(0);
    });
  }

  it('exercised every outcome', () => {
    expect(channels.some((c) => c.finalized && c.closesAt !== 0)).toBe(true); // withdrawn
    expect(channels.some((c) => c.finalized && c.closesAt === 0)).toBe(true); // cooperatively closed
    expect(channels.some((c) => c.paid > 0n && !c.finalized)).toBe(true);
    expect(channels.some((c) => c.paid === c.deposit)).toBe(true);
  });
});
