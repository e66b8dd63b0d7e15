/**
 * Persisted money state of payment channels (`node:sqlite`), for both sides:
 * - as SENDER: the cumulative amount committed per channel (persisted BEFORE the voucher is signed and
 *   handed out, so a crash can never make us sign a lower or repeated amount);
 * - as RECIPIENT: the highest valid voucher received per channel (persisted BEFORE the paid-for work is
 *   served) and how much of it was settled on-chain.
 * Every check that guards money (signature, domain, monotonicity, deposit, channel state) happens here,
 * inside one write transaction, so a rejected voucher changes nothing.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type Address, getAddress, type Hex } from 'viem';
import { AgoraError } from '../errors.ts';
import { immediateTransaction } from '../storage/sqlite-transaction.ts';
import { recoverVoucherSigner, type SignedVoucher } from './voucher.ts';

/** Identifies a channel globally: ids are unique only within one contract on one chain. */
export type ChannelKey = { chainId: number; contract: Address; channelId: Hex };

/** What we know of a channel's on-chain state (refreshed from the chain by the payer/payee). */
export type StoredChannel = ChannelKey & {
  sender: Address;
  recipient: Address;
  token: Address;
  deposit: bigint;
  challengePeriod: number;
  /** 0 while open; otherwise the unix time the challenge period ends. */
  closesAt: number;
  finalized: boolean;
  /** When this record was last refreshed (ms since epoch); set by the store on read. */
  updatedAt?: number;
};

export type SentState = { cumulative: bigint; signature?: Hex };
export type ReceivedState = { cumulative: bigint; signature: Hex; settled: bigint };

export type AcceptOptions = {
  /** Our own address: the voucher's channel must pay us. */
  recipient?: Address;
  /** The voucher must raise the cumulative amount by at least this much (the price). Default 1. */
  minIncrement?: bigint;
};

export type AcceptResult = { previous: bigint; cumulative: bigint; increment: bigint };

type Row = Record<string, unknown>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS channels (
  chain_id INTEGER NOT NULL, contract TEXT NOT NULL, channel_id TEXT NOT NULL,
  sender TEXT NOT NULL, recipient TEXT NOT NULL, token TEXT NOT NULL,
  deposit TEXT NOT NULL, challenge_period INTEGER NOT NULL, closes_at INTEGER NOT NULL, finalized INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (chain_id, contract, channel_id)
);
CREATE TABLE IF NOT EXISTS sent (
  chain_id INTEGER NOT NULL, contract TEXT NOT NULL, channel_id TEXT NOT NULL,
  cumulative TEXT NOT NULL, signature TEXT, updated_at INTEGER NOT NULL,
  PRIMARY KEY (chain_id, contract, channel_id)
);
CREATE TABLE IF NOT EXISTS earnings (
  tag TEXT PRIMARY KEY, amount TEXT NOT NULL, updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS received (
  chain_id INTEGER NOT NULL, contract TEXT NOT NULL, channel_id TEXT NOT NULL,
  cumulative TEXT NOT NULL, signature TEXT NOT NULL, settled TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (chain_id, contract, channel_id)
);
`;

const WHERE_KEY = 'chain_id = ? AND contract = ? AND channel_id = ?';

function keyArgs(k: ChannelKey): [number, string, string] {
  return [k.chainId, getAddress(k.contract), k.channelId.toLowerCase()];
}

function describe(k: ChannelKey): string {
  return `channel ${k.channelId} (chain ${k.chainId}, contract ${getAddress(k.contract)})`;
}

export function voucherKey(v: SignedVoucher): ChannelKey {
  return { chainId: v.chainId, contract: v.verifyingContract, channelId: v.channelId };
}

export type VoucherStoreOptions = {
  /**
   * When a commit is durable (the store is in WAL mode either way):
   * - `full` (default): every commit is fsynced before it returns; it survives a power loss.
   * - `normal`: a commit is in the WAL file (the OS page cache) when it returns, fsynced at checkpoints:
   *   it survives the process being killed (kill -9, a crash) but the last commits can be lost, never
   *   corrupted, if the machine loses power or the OS crashes. For a server taking thousands of
   *   vouchers per second (`agora serve`; `--fsync` restores `full`).
   */
  sync?: 'full' | 'normal';
};

/** A voucher store on one sqlite file (`:memory:` for tests). Safe to share between processes. */
export class VoucherStore {
  readonly path: string;
  readonly sync: 'full' | 'normal';
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string, opts: VoucherStoreOptions = {}) {
    this.path = path;
    this.sync = opts.sync ?? 'full';
    try {
      this.#db = new DatabaseSync(path);
      this.#db.exec(
        `PRAGMA journal_mode = WAL; PRAGMA synchronous = ${this.sync === 'normal' ? 'NORMAL' : 'FULL'}; PRAGMA busy_timeout = 5000;`,
      );
      this.#db.exec(SCHEMA);
    } catch (e) {
      throw new AgoraError(
        'PAY_STORE_OPEN',
        `cannot open the voucher store at ${path}: ${(e as Error).message}`,
        {
          hint: 'check that the directory exists and is writable, and that the file is an Agora voucher store',
          cause: e,
        },
      );
    }
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  /** A prepared statement, prepared once per store (the paid-serving path runs several per voucher). */
  #prepare(sql: string): StatementSync {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** Runs `fn` in a write transaction (BEGIN IMMEDIATE: concurrent writers wait, then see our result). */
  #tx<T>(fn: () => T): T {
    return immediateTransaction(this.#db, fn);
  }

  // ---- channels -------------------------------------------------------------------------------

  /** Records (or refreshes) a channel's on-chain state. Parties and token of a known channel never change. */
  recordChannel(c: StoredChannel): void {
    this.#tx(() => {
      const old = this.getChannel(c);
      if (
        old &&
        (old.sender !== getAddress(c.sender) ||
          old.recipient !== getAddress(c.recipient) ||
          old.token !== getAddress(c.token))
      ) {
        throw new AgoraError(
          'PAY_CHANNEL_MISMATCH',
          `${describe(c)} is recorded with other parties or token`,
          {
            hint: 'the store belongs to another chain state (e.g. a restarted devnet): use a fresh store file',
          },
        );
      }
      // A refresh never un-closes or un-finalizes a channel, nor lowers its deposit.
      const deposit = old && old.deposit > c.deposit ? old.deposit : c.deposit;
      const closesAt = old && old.closesAt !== 0 ? old.closesAt : c.closesAt;
      const finalized = (old?.finalized ?? false) || c.finalized;
      this.#prepare(
        `INSERT INTO channels (chain_id, contract, channel_id, sender, recipient, token, deposit, challenge_period, closes_at, finalized, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (chain_id, contract, channel_id) DO UPDATE SET
             deposit = excluded.deposit, closes_at = excluded.closes_at, finalized = excluded.finalized, updated_at = excluded.updated_at`,
      ).run(
        ...keyArgs(c),
        getAddress(c.sender),
        getAddress(c.recipient),
        getAddress(c.token),
        deposit.toString(),
        c.challengePeriod,
        closesAt,
        finalized ? 1 : 0,
        Date.now(),
      );
    });
  }

  getChannel(k: ChannelKey): StoredChannel | undefined {
    const r = this.#prepare(`SELECT * FROM channels WHERE ${WHERE_KEY}`).get(...keyArgs(k)) as
      | Row
      | undefined;
    return r ? rowToChannel(r) : undefined;
  }

  /** Every recorded channel (optionally only those where `address` is the sender or the recipient). */
  listChannels(filter: { sender?: Address; recipient?: Address } = {}): StoredChannel[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.sender) {
      where.push('sender = ?');
      args.push(getAddress(filter.sender));
    }
    if (filter.recipient) {
      where.push('recipient = ?');
      args.push(getAddress(filter.recipient));
    }
    const sql = `SELECT * FROM channels${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at`;
    return (this.#prepare(sql).all(...args) as Row[]).map(rowToChannel);
  }

  #requireUsable(k: ChannelKey, action: string): StoredChannel {
    return this.#usable(k, this.getChannel(k), action);
  }

  #usable(k: ChannelKey, c: StoredChannel | undefined, action: string): StoredChannel {
    if (!c) {
      throw new AgoraError('PAY_UNKNOWN_CHANNEL', `${action}: ${describe(k)} is unknown`, {
        hint: 'the channel must be opened on this chain and contract, and read from the chain first (wrong channel, chain or contract?)',
      });
    }
    if (c.finalized) {
      throw new AgoraError('PAY_CHANNEL_FINALIZED', `${action}: ${describe(k)} is finalized`, {
        hint: 'open a new channel',
      });
    }
    if (c.closesAt !== 0) {
      throw new AgoraError(
        'PAY_CHANNEL_CLOSING',
        `${action}: ${describe(k)} is closing (challenge period ends at ${c.closesAt})`,
        {
          hint: 'no new payments on a closing channel: open a new one',
        },
      );
    }
    return c;
  }

  // ---- sender side ----------------------------------------------------------------------------

  /**
   * Commits `increment` more on the channel and returns the new cumulative amount to sign. Persisted
   * before returning: sign and hand out the voucher only after this returns.
   */
  reserve(k: ChannelKey, increment: bigint, sender?: Address): bigint {
    if (increment <= 0n) {
      throw new AgoraError('PAY_BAD_AMOUNT', `payment increment ${increment} must be positive`, {
        hint: 'pay a positive price',
      });
    }
    return this.#tx(() => {
      const c = this.#requireUsable(k, 'pay');
      if (sender && c.sender !== getAddress(sender)) {
        throw new AgoraError(
          'PAY_NOT_SENDER',
          `pay: ${describe(k)} is sent by ${c.sender}, not by ${getAddress(sender)}`,
          {
            hint: 'pay from the account that opened the channel',
          },
        );
      }
      const current = this.sent(k)?.cumulative ?? 0n;
      const next = current + increment;
      if (next > c.deposit) {
        throw new AgoraError(
          'PAY_OVER_DEPOSIT',
          `pay: ${describe(k)} would owe ${next}, over its deposit ${c.deposit} (${c.deposit - current} left)`,
          { hint: 'top up the channel (then refresh it) or open a new one' },
        );
      }
      this.#prepare(
        `INSERT INTO sent (chain_id, contract, channel_id, cumulative, signature, updated_at) VALUES (?, ?, ?, ?, NULL, ?)
           ON CONFLICT (chain_id, contract, channel_id) DO UPDATE SET cumulative = excluded.cumulative, signature = NULL, updated_at = excluded.updated_at`,
      ).run(...keyArgs(k), next.toString(), Date.now());
      return next;
    });
  }

  /** Stores the signature of the voucher for `cumulative` (ignored if a higher amount was reserved since). */
  recordSignature(k: ChannelKey, cumulative: bigint, signature: Hex): void {
    this.#prepare(`UPDATE sent SET signature = ?, updated_at = ? WHERE ${WHERE_KEY} AND cumulative = ?`).run(
      signature,
      Date.now(),
      ...keyArgs(k),
      cumulative.toString(),
    );
  }

  /** The highest cumulative amount committed on the channel (and its signature, once signed). */
  sent(k: ChannelKey): SentState | undefined {
    const r = this.#prepare(`SELECT cumulative, signature FROM sent WHERE ${WHERE_KEY}`).get(...keyArgs(k)) as
      | Row
      | undefined;
    if (!r) return undefined;
    return {
      cumulative: BigInt(r.cumulative as string),
      signature: (r.signature as Hex | null) ?? undefined,
    };
  }

  // ---- recipient side -------------------------------------------------------------------------

  /**
   * Verifies a received voucher and persists it as the channel's highest. Throws (and stores nothing) on:
   * unknown channel / wrong chain or contract, wrong signer, non-increasing or underpaying amount,
   * amount over the deposit, closing or finalized channel. Serve the paid-for work only after this returns.
   */
  async acceptVoucher(v: SignedVoucher, opts: AcceptOptions = {}): Promise<AcceptResult> {
    const k = voucherKey(v);
    const known = this.#requireUsable(k, 'accept voucher');
    if (opts.recipient && known.recipient !== getAddress(opts.recipient)) {
      throw new AgoraError(
        'PAY_NOT_RECIPIENT',
        `accept voucher: ${describe(k)} pays ${known.recipient}, not us (${getAddress(opts.recipient)})`,
        {
          hint: 'the payer must open a channel to this agent',
        },
      );
    }
    const signer = await recoverVoucherSigner(v);
    if (signer !== known.sender) {
      throw new AgoraError(
        'PAY_BAD_SIGNATURE',
        `accept voucher: ${describe(k)} voucher is signed by ${signer}, not by the sender ${known.sender}`,
        {
          hint: 'the sender must sign Voucher(channelId,cumulativeAmount) for this chain and contract',
        },
      );
    }
    const minIncrement = opts.minIncrement ?? 1n;
    return this.#tx(() => this.#checkAndStore(v, k, minIncrement));
  }

  /**
   * Persists a batch of vouchers whose signatures the caller has ALREADY verified against each
   * channel's recorded sender, in ONE write transaction (one fsync for the batch). Each voucher is
   * checked like `acceptVoucher` (recipient, channel state, increasing, price, deposit) in order, so
   * two vouchers of one channel in a batch are checked against each other. Returns, per voucher, its
   * result or the AgoraError that refused it (a refused voucher stores nothing).
   */
  acceptVerifiedBatch(
    items: readonly { v: SignedVoucher; minIncrement: bigint; recipient: Address; tag?: string }[],
  ): (AcceptResult | AgoraError)[] {
    return this.#tx(() => {
      // Within the batch, what this transaction already wrote (a channel may appear more than once).
      const written = new Map<string, bigint>();
      const earned = new Map<string, bigint>();
      const out = items.map(({ v, minIncrement, recipient, tag }) => {
        const k = voucherKey(v);
        try {
          const args = keyArgs(k);
          const row = this.#prepare(
            `SELECT c.*, r.cumulative AS received FROM channels c LEFT JOIN received r
               ON r.chain_id = c.chain_id AND r.contract = c.contract AND r.channel_id = c.channel_id
             WHERE c.chain_id = ? AND c.contract = ? AND c.channel_id = ?`,
          ).get(...args) as Row | undefined;
          const c = this.#usable(k, row ? rowToChannel(row) : undefined, 'accept voucher');
          if (c.recipient !== getAddress(recipient)) {
            throw new AgoraError(
              'PAY_NOT_RECIPIENT',
              `accept voucher: ${describe(k)} pays ${c.recipient}, not us (${getAddress(recipient)})`,
              { hint: 'the payer must open a channel to this agent' },
            );
          }
          const wkey = args.join(':');
          const previous = written.get(wkey) ?? (row?.received == null ? 0n : BigInt(row.received as string));
          const r = this.#checkAndWrite(v, k, c, previous, minIncrement);
          written.set(wkey, r.cumulative);
          if (tag !== undefined) earned.set(tag, (earned.get(tag) ?? 0n) + r.increment);
          return r;
        } catch (e) {
          if (e instanceof AgoraError) return e;
          throw e;
        }
      });
      for (const [tag, amount] of earned) this.#addEarning(tag, amount);
      return out;
    });
  }

  /**
   * What the payee earned per product (`tag`, e.g. a model hash): increments recorded in the same
   * transaction as the voucher that paid them (`acceptVerifiedBatch` with a tag), or by `addEarning`.
   */
  earned(tag: string): bigint {
    const r = this.#prepare('SELECT amount FROM earnings WHERE tag = ?').get(tag) as Row | undefined;
    return r ? BigInt(r.amount as string) : 0n;
  }

  /** Records `amount` more earned for `tag` (e.g. a payment settled outside a channel). */
  addEarning(tag: string, amount: bigint): void {
    this.#tx(() => this.#addEarning(tag, amount));
  }

  #addEarning(tag: string, amount: bigint): void {
    const next = this.earned(tag) + amount;
    this.#prepare(
      'INSERT INTO earnings (tag, amount, updated_at) VALUES (?, ?, ?) ON CONFLICT (tag) DO UPDATE SET amount = excluded.amount, updated_at = excluded.updated_at',
    ).run(tag, next.toString(), Date.now());
  }

  /** Inside a write transaction: the amount checks of a voucher with a verified signature, then the write. */
  #checkAndStore(v: SignedVoucher, k: ChannelKey, minIncrement: bigint): AcceptResult {
    const c = this.#requireUsable(k, 'accept voucher'); // re-read: state may have changed while verifying
    return this.#checkAndWrite(v, k, c, this.received(k)?.cumulative ?? 0n, minIncrement);
  }

  /** The amount checks of a voucher against the channel `c` and the stored `previous`, then the write. */
  #checkAndWrite(
    v: SignedVoucher,
    k: ChannelKey,
    c: StoredChannel,
    previous: bigint,
    minIncrement: bigint,
  ): AcceptResult {
    if (v.cumulativeAmount <= previous) {
      throw new AgoraError(
        'PAY_NOT_INCREASING',
        `accept voucher: ${describe(k)} voucher amount ${v.cumulativeAmount} is not above ${previous}`,
        {
          hint: 'each voucher must state a higher cumulative total than the last one',
        },
      );
    }
    const increment = v.cumulativeAmount - previous;
    if (increment < minIncrement) {
      throw new AgoraError(
        'PAY_UNDERPAID',
        `accept voucher: ${describe(k)} voucher adds ${increment}, the price is ${minIncrement}`,
        {
          hint: `send a voucher for cumulative ${previous + minIncrement} or more`,
        },
      );
    }
    if (v.cumulativeAmount > c.deposit) {
      throw new AgoraError(
        'PAY_OVER_DEPOSIT',
        `accept voucher: ${describe(k)} voucher amount ${v.cumulativeAmount} exceeds the deposit ${c.deposit}`,
        {
          hint: 'the sender must top up the channel first',
        },
      );
    }
    this.#prepare(
      `INSERT INTO received (chain_id, contract, channel_id, cumulative, signature, settled, updated_at) VALUES (?, ?, ?, ?, ?, '0', ?)
         ON CONFLICT (chain_id, contract, channel_id) DO UPDATE SET cumulative = excluded.cumulative, signature = excluded.signature, updated_at = excluded.updated_at`,
    ).run(...keyArgs(k), v.cumulativeAmount.toString(), v.signature, Date.now());
    return { previous, cumulative: v.cumulativeAmount, increment };
  }

  /** The highest voucher received on the channel and how much of it is settled. */
  received(k: ChannelKey): ReceivedState | undefined {
    const r = this.#prepare(`SELECT cumulative, signature, settled FROM received WHERE ${WHERE_KEY}`).get(
      ...keyArgs(k),
    ) as Row | undefined;
    if (!r) return undefined;
    return {
      cumulative: BigInt(r.cumulative as string),
      signature: r.signature as Hex,
      settled: BigInt(r.settled as string),
    };
  }

  /** The highest received voucher as a SignedVoucher (what to settle), or undefined. */
  highestVoucher(k: ChannelKey): SignedVoucher | undefined {
    const r = this.received(k);
    if (!r) return undefined;
    return {
      chainId: k.chainId,
      verifyingContract: getAddress(k.contract),
      channelId: k.channelId.toLowerCase() as Hex,
      cumulativeAmount: r.cumulative,
      signature: r.signature,
    };
  }

  /** Records that `paidOnChain` (the contract's `paid`) is settled; never lowers the settled amount. */
  markSettled(k: ChannelKey, paidOnChain: bigint): void {
    this.#tx(() => {
      const r = this.received(k);
      if (!r || paidOnChain <= r.settled) return;
      this.#prepare(`UPDATE received SET settled = ?, updated_at = ? WHERE ${WHERE_KEY}`).run(
        paidOnChain.toString(),
        Date.now(),
        ...keyArgs(k),
      );
    });
  }
}

function rowToChannel(r: Row): StoredChannel {
  return {
    chainId: Number(r.chain_id),
    contract: r.contract as Address,
    channelId: r.channel_id as Hex,
    sender: r.sender as Address,
    recipient: r.recipient as Address,
    token: r.token as Address,
    deposit: BigInt(r.deposit as string),
    challengePeriod: Number(r.challenge_period),
    closesAt: Number(r.closes_at),
    finalized: Number(r.finalized) === 1,
    updatedAt: Number(r.updated_at),
  };
}
