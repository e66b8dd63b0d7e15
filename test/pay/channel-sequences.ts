/**
 * The random operation sequences of the PaymentChannels invariant test (test/pay/invariants.test.ts)
 * and its long run (`npm run bench:invariants`, bench/invariants.ts): random sequences of channel
 * operations (valid and invalid) against the real contract, checked op by op against a model.
 * Invariants: every op succeeds exactly when the model says it should; a channel never pays more
 * than its deposit; tokens are conserved (participants + contract constant); the contract holds
 * exactly the unpaid deposits of unfinalized channels. A broken one throws `InvariantError`.
 */
import { type Address, erc20Abi, type Hex, type LocalAccount, maxUint256 } from 'viem';
import { walletClientFor } from '../../src/chain/connect.ts';
import { AgoraError } from '../../src/errors.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { signCloseConsent, signVoucher } from '../../src/pay/voucher.ts';
import { InvariantError, prng } from '../contracts/protocol-sequences.ts';
import { balanceOf, increaseTime, latestTimestamp, type PayFixture, TEST_BOUNDS } from './fixture.ts';

export { InvariantError };

/** The shared mulberry32 with the helpers the channel ops use. */
function rng(seed: number) {
  const next = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] };
}

function invariant(ok: boolean, what: string): void {
  if (!ok) throw new InvariantError(`invariant broken: ${what}`);
}

export type ModelChannel = {
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
/** Participants: accounts 1..N of the fixture (start it with `startPayFixture(N + 1)`). */
export const N = 4;
const OPS_PER_SEQUENCE = 10;
const MARGIN = 30; // seconds around a deadline where the next block's timestamp is ambiguous: skip such ops

export type ChannelSequences = {
  runSequence(seed: number): Promise<void>;
  /** Every channel opened so far, as the model sees it. */
  channels: ModelChannel[];
  /** Operations per sequence. */
  opsPerSequence: number;
};

/** The participants (accounts 1..N of `f`) approve the contract; returns the sequence runner. */
export async function channelSequences(f: PayFixture): Promise<ChannelSequences> {
  const channels: ModelChannel[] = [];
  const people: LocalAccount[] = f.accounts.slice(1, N + 1);
  const clients = people.map((a) => new ChannelClient(f.conn, f.channels, a));

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
  const total = bs.reduce((x, y) => x + y, 0n);

  async function expectOutcome(p: Promise<unknown>, ok: boolean, what: string): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (ok || !(e instanceof AgoraError) || !e.code.startsWith('CHANNEL_')) {
        throw new InvariantError(
          `${what}: expected ${ok ? 'success' : 'a CHANNEL_ rejection'}, got ${(e as Error).message}`,
        );
      }
      return;
    }
    if (!ok) throw new InvariantError(`${what}: expected a rejection, but it succeeded`);
  }

  async function checkInvariants(touched?: ModelChannel): Promise<void> {
    const balances = await Promise.all(
      [...people.map((a) => a.address), f.channels].map((a) => balanceOf(f.conn, f.token, a)),
    );
    invariant(
      balances.reduce((x, y) => x + y, 0n) === total,
      'tokens are conserved (participants + contract)',
    );
    const held = channels.filter((c) => !c.finalized).reduce((s, c) => s + c.deposit - c.paid, 0n);
    invariant(balances[N] === held, `the contract holds ${balances[N]}, unpaid deposits are ${held}`);
    if (touched) {
      const c = await clients[0].getChannel(touched.id);
      invariant(c.paid <= c.deposit, `channel ${touched.id} paid ${c.paid} > deposit ${c.deposit}`);
      invariant(
        c.deposit === touched.deposit &&
          c.paid === touched.paid &&
          (c.closesAt !== 0) === (touched.closesAt !== 0) &&
          c.finalized === touched.finalized,
        `channel ${touched.id} on chain differs from the model`,
      );
    }
  }

  async function runSequence(seed: number): Promise<void> {
    const r = rng(seed);
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
        await expectOutcome(
          clients[c.recipient].cooperativeClose(c.id, a, senderSig),
          ok,
          'cooperativeClose',
        );
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
  return { runSequence, channels, opsPerSequence: OPS_PER_SEQUENCE };
}
