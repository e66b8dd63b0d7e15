/**
 * Typed viem adapter for the PaymentChannels contract: open, topUp, settle, startClose, withdraw,
 * cooperativeClose and reads. Transactions go through the chain layer's gas-safe `sendTx` (estimate
 * + margin, per-account nonces, refused sends and out-of-gas retried, dropped ones rebroadcast), so
 * a node fault (no funds for gas, a stale nonce, an unreachable node) is an AgoraError that says what
 * to do; reverts are decoded from the contract's custom errors into `CHANNEL_<ERROR>` AgoraErrors.
 */
import {
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  erc20Abi,
  getAddress,
  type Hex,
  parseAbi,
  parseEventLogs,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem';
import { PaymentChannels } from '../../artifacts/index.ts';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import { decodeRevert } from '../chain/revert.ts';
import { sendTx } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { ChannelsDomain, SignedVoucher } from './voucher.ts';

/** The contract ABI plus the OpenZeppelin ERC-20 errors a token may bubble up, so both decode. */
const abi = [
  ...PaymentChannels.abi,
  ...parseAbi([
    'error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)',
    'error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)',
  ]),
] as const;

/** A channel as stored on-chain. `closesAt` is 0 while open (unix seconds otherwise). */
export type ChannelState = {
  channelId: Hex;
  exists: boolean;
  sender: Address;
  recipient: Address;
  token: Address;
  deposit: bigint;
  paid: bigint;
  challengePeriod: number;
  closesAt: number;
  finalized: boolean;
};

export type TxResult = { hash: Hex; gasUsed: bigint; receipt: TransactionReceipt };

export type OpenParams = {
  recipient: Address;
  token: Address;
  amount: bigint;
  /** Seconds; omitted = the contract's default. */
  challengePeriod?: number;
  /** Approve the contract for `amount` first when the allowance is short (default true). */
  approve?: boolean;
};

type Wallet = WalletClient<Transport, Chain, Account>;

/** The last approve-and-spend of each (chain, account, token, contract) in this process. */
const spending = new Map<string, Promise<unknown>>();

const ERROR_TEXT: Record<string, (args: readonly unknown[]) => { message: string; hint: string }> = {
  ChannelNotFound: (a) => ({
    message: `no payment channel ${a[0]} exists`,
    hint: 'check the channel id and the PaymentChannels address',
  }),
  ChannelAlreadyFinalized: (a) => ({
    message: `payment channel ${a[0]} is already finalized (withdrawn or cooperatively closed)`,
    hint: 'open a new channel',
  }),
  Unauthorized: (a) => ({
    message: `account ${a[0]} may not do this on the channel`,
    hint: 'settle is for the recipient; topUp, startClose and withdraw are for the sender',
  }),
  InvalidRecipient: (a) => ({
    message: `invalid channel recipient ${a[0]}`,
    hint: 'use a non-zero address other than yourself',
  }),
  InvalidToken: (a) => ({
    message: `token ${a[0]} is not a contract`,
    hint: 'pass an ERC-20 contract address',
  }),
  ZeroDeposit: () => ({ message: 'the deposit is zero', hint: 'deposit a positive amount' }),
  DepositTooLarge: (a) => ({ message: `the deposit ${a[0]} exceeds 2^128-1`, hint: 'deposit less' }),
  ChallengePeriodOutOfBounds: (a) => ({
    message: `challenge period ${a[0]} s is outside the allowed [${a[1]}, ${a[2]}] s`,
    hint: 'choose a period within the bounds (or omit it for the default)',
  }),
  InvalidBounds: (a) => ({
    message: `invalid challenge-period bounds ${a[0]}..${a[1]} (default ${a[2]})`,
    hint: 'min > 0, min <= default <= max < 2^32',
  }),
  MalformedSignature: () => ({
    message: 'the signature is malformed',
    hint: 'send a 65-byte EIP-712 signature with low s',
  }),
  WrongSigner: (a) => ({
    message: `the signature was made by ${a[0]}, not by ${a[1]}`,
    hint: 'the voucher must be signed by the channel sender for this channel, chain and contract',
  }),
  AmountNotIncreasing: (a) => ({
    message: `voucher amount ${a[0]} does not exceed what was already paid (${a[1]})`,
    hint: 'settle only a higher cumulative voucher',
  }),
  AmountBelowPaid: (a) => ({
    message: `close amount ${a[0]} is below what was already paid (${a[1]})`,
    hint: 'close at >= the paid amount',
  }),
  AmountExceedsDeposit: (a) => ({
    message: `amount ${a[0]} exceeds the channel deposit ${a[1]}`,
    hint: 'the sender must top up before paying more',
  }),
  CloseAlreadyStarted: (a) => ({
    message: `closing of channel ${a[0]} already started (closes at ${a[1]})`,
    hint: 'withdraw after the challenge period',
  }),
  CloseNotStarted: (a) => ({
    message: `channel ${a[0]} is not closing`,
    hint: 'call startClose first, then withdraw after the challenge period',
  }),
  ChallengePeriodNotOver: (a) => ({
    message: `the challenge period of channel ${a[0]} runs until ${a[1]} (unix s)`,
    hint: 'wait until then, or close cooperatively with the recipient',
  }),
  ChallengePeriodOver: (a) => ({
    message: `the challenge period of channel ${a[0]} ended at ${a[1]}: vouchers can no longer be settled`,
    hint: 'settle before the challenge period ends',
  }),
  ReentrancyGuardReentrantCall: () => ({
    message: 'reentrant call rejected',
    hint: 'the token tried to call back into PaymentChannels',
  }),
  SafeERC20FailedOperation: (a) => ({
    message: `token ${a[0]} transfer failed`,
    hint: 'check the token balance and allowance',
  }),
  ERC20InsufficientBalance: (a) => ({
    message: `insufficient token balance: ${a[0]} has ${a[1]}, needs ${a[2]}`,
    hint: 'fund the account',
  }),
  ERC20InsufficientAllowance: (a) => ({
    message: `insufficient allowance for ${a[0]}: ${a[1]} < ${a[2]}`,
    hint: 'approve PaymentChannels first (open approves by default)',
  }),
};

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The AgoraError `CHANNEL_<ERROR_NAME>` for a decoded PaymentChannels (or token) revert. */
function channelRevert(name: string, args: readonly unknown[], action: string, cause: unknown): AgoraError {
  const text = ERROR_TEXT[name]?.(args) ?? {
    message: `reverted with ${name}`,
    hint: 'see contracts/PaymentChannels.sol',
  };
  return new AgoraError(`CHANNEL_${snake(name)}`, `${action}: ${text.message}`, { hint: text.hint, cause });
}

/**
 * Turns an error of a channel call into an AgoraError: a revert with a custom error of the contract
 * (or the token) is `CHANNEL_<ERROR_NAME>`; any other revert `CHANNEL_REVERTED`; an AgoraError of the
 * chain layer (no funds for gas, nonce, unreachable node, …) is kept as it is; anything else is
 * rethrown as is.
 */
export function decodeChannelError(e: unknown, action: string): never {
  const cause = e instanceof AgoraError && e.code === 'CONTRACT_REVERT' ? (e.cause ?? e) : e;
  if (cause instanceof BaseError) {
    const reverted = cause.walk((x) => x instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      if (name) throw channelRevert(name, reverted.data?.args ?? [], action, e);
      throw new AgoraError('CHANNEL_REVERTED', `${action}: reverted (${reverted.reason ?? 'no reason'})`, {
        cause: e,
      });
    }
  }
  const decoded = decodeRevert(cause, abi);
  if (decoded) throw channelRevert(decoded.errorName, decoded.args, action, e);
  if (e instanceof AgoraError && e.code === 'CONTRACT_REVERT') {
    throw new AgoraError('CHANNEL_REVERTED', `${action}: ${e.message}`, {
      hint: e.hint ?? 'read the channel and try again',
      cause: e,
    });
  }
  throw e;
}

/** A client for one PaymentChannels deployment, acting as `account` (omit for read-only use). */
export class ChannelClient {
  readonly conn: ChainConnection;
  readonly address: Address;
  readonly account?: Account;
  readonly #wallet?: Wallet;

  constructor(conn: ChainConnection, address: Address, account?: Account) {
    this.conn = conn;
    this.address = getAddress(address);
    this.account = account;
    if (account) this.#wallet = walletClientFor(conn, account);
  }

  /** The EIP-712 domain vouchers for this contract are signed under. */
  get domain(): ChannelsDomain {
    return { chainId: this.conn.chainId, verifyingContract: this.address };
  }

  /** Same client acting as another account. */
  as(account: Account): ChannelClient {
    return new ChannelClient(this.conn, this.address, account);
  }

  #requireWallet(action: string): Wallet {
    if (!this.#wallet) {
      throw new AgoraError('CHANNEL_NO_ACCOUNT', `${action} needs an account to sign the transaction`, {
        hint: 'create the ChannelClient with an account',
      });
    }
    return this.#wallet;
  }

  async #write(action: string, functionName: string, args: readonly unknown[]): Promise<TxResult> {
    const wallet = this.#requireWallet(action);
    let receipt: TransactionReceipt;
    try {
      receipt = await sendTx(this.conn, wallet, {
        label: `PaymentChannels.${functionName}`,
        address: this.address,
        abi,
        functionName,
        args,
      });
    } catch (e) {
      decodeChannelError(e, action);
    }
    return { hash: receipt.transactionHash, gasUsed: receipt.gasUsed, receipt };
  }

  /** Approves the contract to pull `amount` of `token` when the allowance is smaller; returns the tx or undefined. */
  async ensureAllowance(token: Address, amount: bigint): Promise<TxResult | undefined> {
    const wallet = this.#requireWallet('approve');
    const owner = wallet.account.address;
    let allowance: bigint;
    try {
      allowance = await this.conn.publicClient.readContract({
        address: token,
        abi: erc20Abi,
        functionName: 'allowance',
        args: [owner, this.address],
      });
    } catch (e) {
      const code = await this.conn.publicClient.getCode({ address: token });
      if (!code || code === '0x') {
        throw new AgoraError('CHANNEL_INVALID_TOKEN', `token ${token} is not a contract`, {
          hint: 'pass an ERC-20 contract address',
          cause: e,
        });
      }
      decodeChannelError(e, `read allowance of ${token}`);
    }
    if (allowance >= amount) return undefined;
    let receipt: TransactionReceipt;
    try {
      receipt = await sendTx(this.conn, wallet, {
        label: `approve ${token} for PaymentChannels`,
        address: token,
        abi: erc20Abi,
        functionName: 'approve',
        args: [this.address, amount],
      });
    } catch (e) {
      decodeChannelError(e, `approve ${token}`);
    }
    return { hash: receipt.transactionHash, gasUsed: receipt.gasUsed, receipt };
  }

  /**
   * Runs `fn` (an approval and the transaction that spends it) alone among this process's sends
   * from this account of this token: concurrent opens would otherwise each approve their own amount
   * (an approval replaces the last) and all but one spend more than is approved.
   */
  #withAllowance<T>(token: Address, fn: () => Promise<T>): Promise<T> {
    const key = `${this.conn.chainId}:${this.account?.address.toLowerCase()}:${token.toLowerCase()}:${this.address}`;
    const run = (spending.get(key) ?? Promise.resolve()).catch(() => {}).then(fn);
    const tail = run.catch(() => {});
    spending.set(key, tail);
    void tail.then(() => {
      if (spending.get(key) === tail) spending.delete(key);
    });
    return run;
  }

  /** Opens a channel (approving first unless `approve: false`); returns its id. */
  async open(p: OpenParams): Promise<TxResult & { channelId: Hex }> {
    const args =
      p.challengePeriod === undefined
        ? [p.recipient, p.token, p.amount]
        : [p.recipient, p.token, p.amount, BigInt(p.challengePeriod)];
    const r =
      p.approve === false
        ? await this.#write('open channel', 'open', args)
        : await this.#withAllowance(p.token, async () => {
            await this.ensureAllowance(p.token, p.amount);
            return this.#write('open channel', 'open', args);
          });
    const [ev] = parseEventLogs({ abi, eventName: 'ChannelOpened', logs: r.receipt.logs });
    if (!ev) throw new AgoraError('CHANNEL_NO_EVENT', `open channel: no ChannelOpened event in tx ${r.hash}`);
    return { ...r, channelId: ev.args.channelId };
  }

  /** Adds `amount` to the deposit (sender only; approves first unless `approve: false`). */
  async topUp(channelId: Hex, amount: bigint, opts: { approve?: boolean } = {}): Promise<TxResult> {
    if (opts.approve !== false) {
      const c = await this.getChannel(channelId);
      if (c.exists)
        return this.#withAllowance(c.token, async () => {
          await this.ensureAllowance(c.token, amount);
          return this.#write('top up channel', 'topUp', [channelId, amount]);
        });
    }
    return this.#write('top up channel', 'topUp', [channelId, amount]);
  }

  /** Settles a voucher (recipient only); checks it was signed for this chain and contract first. */
  async settle(v: SignedVoucher): Promise<TxResult> {
    if (v.chainId !== this.conn.chainId || getAddress(v.verifyingContract) !== this.address) {
      throw new AgoraError(
        'CHANNEL_WRONG_DOMAIN',
        `settle: the voucher is for chain ${v.chainId} contract ${v.verifyingContract}, not chain ${this.conn.chainId} contract ${this.address}`,
        { hint: 'settle it on the chain and PaymentChannels contract it was signed for' },
      );
    }
    return this.#write('settle voucher', 'settle', [v.channelId, v.cumulativeAmount, v.signature]);
  }

  /** Starts the challenge period (sender only). */
  startClose(channelId: Hex): Promise<TxResult> {
    return this.#write('start closing channel', 'startClose', [channelId]);
  }

  /** Returns the unpaid deposit to the sender after the challenge period (sender only). */
  withdraw(channelId: Hex): Promise<TxResult> {
    return this.#write('withdraw channel', 'withdraw', [channelId]);
  }

  /** Closes at once at `cumulativeAmount` with the other party's CloseConsent signature (or both, for a third party). */
  cooperativeClose(
    channelId: Hex,
    cumulativeAmount: bigint,
    senderSig: Hex = '0x',
    recipientSig: Hex = '0x',
  ): Promise<TxResult> {
    return this.#write('cooperatively close channel', 'cooperativeClose', [
      channelId,
      cumulativeAmount,
      senderSig,
      recipientSig,
    ]);
  }

  /** Reads a channel; `exists` is false for unknown ids. */
  async getChannel(channelId: Hex): Promise<ChannelState> {
    const c = await this.conn.publicClient.readContract({
      address: this.address,
      abi,
      functionName: 'getChannel',
      args: [channelId],
    });
    return {
      channelId,
      exists: c.sender !== zeroAddress,
      sender: c.sender,
      recipient: c.recipient,
      token: c.token,
      deposit: c.deposit,
      paid: c.paid,
      challengePeriod: Number(c.challengePeriod),
      closesAt: Number(c.closesAt),
      finalized: c.finalized,
    };
  }

  /** Reads the challenge-period bounds in force and the default period (seconds). */
  async bounds(): Promise<{ min: number; max: number; default: number }> {
    const c = { address: this.address, abi } as const;
    const [[min, max], def] = await Promise.all([
      this.conn.publicClient.readContract({ ...c, functionName: 'challengePeriodBounds' }),
      this.conn.publicClient.readContract({ ...c, functionName: 'defaultChallengePeriod' }),
    ]);
    return { min: Number(min), max: Number(max), default: Number(def) };
  }
}
