/**
 * Sending contract transactions and reads with errors a person can act on: every revert is decoded
 * against the contract's ABI (custom errors included) and rethrown as an AgoraError that names the
 * contract, the function, the error and its arguments, plus a hint when we know one; every other
 * fault (no funds, nonces, fees, gas, wrong chain, unreachable node) is mapped by `rpc-errors.ts`.
 * Transactions are gas-safe (`gas.ts`: estimate + margin, out-of-gas retried), nonces are managed
 * per account (`nonces.ts`), and dropped transactions are rebroadcast.
 */
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  encodeFunctionData,
  type Hex,
  keccak256,
  type Log,
  type PublicClient,
  parseEventLogs,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from 'viem';
import {
  AgoraGovernor,
  AgoraTimelock,
  AgoraToken,
  ComputeMarket,
  DataRegistry,
  ProtocolParams,
  TrainingLedger,
} from '../../artifacts/index.ts';
import { AgoraError } from '../errors.ts';
import type { ChainConnection } from './connect.ts';
import { gasLimitFor, ranOutOfGas } from './gas.ts';
import { nonceKey, withNextNonce } from './nonces.ts';
import { decodeRevert } from './revert.ts';
import {
  classifyRpcError,
  faultToAgoraError,
  nodeDetail,
  retryableBeforeSend,
  rpcErrorToAgoraError,
  type TxErrorContext,
} from './rpc-errors.ts';

/** A wallet client that signs locally (see `walletClientFor`). */
export type Signer = WalletClient<Transport, Chain, Account>;

export type ContractCall = {
  /** Human label used in errors, e.g. "DataRegistry.registerDataset". */
  label: string;
  address: `0x${string}`;
  abi: Abi | readonly unknown[];
  functionName: string;
  args?: readonly unknown[];
};

/**
 * Every custom error of the protocol contracts: calls decode with the callee's ABI plus these, so an error
 * bubbling up from a nested call (e.g. ComputeMarket's BadTiming inside TrainingLedger.closeJob) is named.
 */
const PROTOCOL_ERRORS: readonly unknown[] = (() => {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const a of [
    AgoraToken,
    AgoraGovernor,
    AgoraTimelock,
    ProtocolParams,
    DataRegistry,
    ComputeMarket,
    TrainingLedger,
  ]) {
    for (const item of a.abi as readonly {
      type: string;
      name?: string;
      inputs?: readonly { type: string }[];
    }[]) {
      if (item.type !== 'error') continue;
      const sig = `${item.name}(${(item.inputs ?? []).map((i) => i.type).join(',')})`;
      if (seen.has(sig)) continue;
      seen.add(sig);
      out.push(item);
    }
  }
  return out;
})();

function withErrors(abi: Abi | readonly unknown[]): Abi {
  return [...abi, ...PROTOCOL_ERRORS] as Abi;
}

/** What to do about each custom error (by name), shown as the AgoraError hint. */
const HINTS: Record<string, string> = {
  AttestationExpired: 'sign a new attestation with a later deadline',
  InvalidAccountNonce:
    'the signature used a stale nonce (AgoraToken delegateBySig): sign again with the current `nonces(signer)`',
  WrongSigner: 'the attestation must be signed by the key of `contributor`',
  DuplicateRoot: 'this dataset (same Merkle root) is already registered; look it up with datasetIdOf(root)',
  NotValidator: 'only validators approved by governance can do this',
  NotGovernance: 'only the timelock (a passed governance proposal) can do this',
  Unauthorized: 'this call is restricted (requester, ledger, validator or governance)',
  OwnableUnauthorizedAccount:
    'only the timelock (a passed governance proposal) can change protocol parameters',
  SectorNotAllowed:
    'the sector is not open on this network: see the open ones with `agora gov params`, or propose it with `agora gov propose --admit-sector NAME`',
  InsufficientStake: 'add stake with addStake, or wait for locked stake to be released',
  ERC20InsufficientAllowance: 'approve the contract to spend your AGORA first',
  ERC20InsufficientBalance: 'the account does not hold enough AGORA',
  NotEnoughSigners: 'collect EIP-712 signatures from at least 2/3 of the job participants',
  NotParticipant: 'the signer or provider has no seat in this job',
  WrongRound: 'rounds are committed in order; read roundsCommitted(jobId) for the next one',
  Insolvent: 'the reward total exceeds the escrow available for this job',
  AlreadyClaimed: 'this account already claimed in this epoch',
  InvalidProof: 'the Merkle proof does not match the posted reward root (wrong account/amount/epoch?)',
  BadTiming: 'a deadline or challenge window has not been reached yet, or has already passed',
  WrongJobState: 'the job is not in the state this operation needs (read getJob)',
  ReentrancyGuardReentrantCall: 'reentrant call blocked',
};

function formatArg(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return v;
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

/**
 * Converts a viem error from a contract call into an AgoraError: a revert is decoded against the
 * contract's ABI (custom errors named, with arguments and a hint); every other fault (no funds, a
 * stale nonce, out of gas, the wrong chain, an unreachable node) is classified by `rpc-errors.ts`.
 * AgoraErrors pass through.
 */
export function decodeContractError(
  e: unknown,
  label: string,
  ctx: Omit<TxErrorContext, 'label'> = {},
): unknown {
  if (e instanceof AgoraError) return e;
  if (!(e instanceof BaseError)) return rpcErrorToAgoraError(e, { ...ctx, label });
  const reverted = e.walk((x) => x instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    const name = reverted.data?.errorName ?? (reverted.reason ? 'Error' : 'unknown');
    const args = (reverted.data?.args ?? []).map(formatArg).join(', ');
    const what = reverted.data ? `${name}(${args})` : (reverted.reason ?? nodeDetail(e));
    return new AgoraError('CONTRACT_REVERT', `${label} reverted: ${what}`, {
      hint: HINTS[name],
      cause: e,
    });
  }
  return rpcErrorToAgoraError(e, { ...ctx, label });
}

/** The custom error name of an AgoraError produced by decodeContractError, if any. */
export function revertName(e: unknown): string | undefined {
  if (!(e instanceof AgoraError) || e.code !== 'CONTRACT_REVERT') return undefined;
  return /reverted: (\w+)/.exec(e.message)?.[1];
}

export type SendOptions = {
  /** Gas for a known worse path than the one estimated (see `gas.ts`). */
  gasExtra?: bigint;
  /** How long to wait for the receipt before failing with CHAIN_TX_PENDING (default 10 min). */
  receiptTimeoutMs?: number;
  /** Receives what the transaction layer does on its own (a retry, a rebroadcast). */
  onEvent?: (message: string) => void;
};

/**
 * Sends a contract transaction and waits for its receipt (`sendTransaction` underneath): the gas
 * limit is the estimate plus a margin, the nonce comes from the account's lock, and every failure
 * is an AgoraError that says what to do.
 */
export async function sendTx(
  conn: ChainConnection,
  signer: Signer,
  call: ContractCall,
  opts: SendOptions = {},
): Promise<TransactionReceipt> {
  const abi = withErrors(call.abi);
  const args = (call.args ?? []) as unknown[];
  const data = encodeFunctionData({ abi, functionName: call.functionName, args } as Parameters<
    typeof encodeFunctionData
  >[0]);
  return sendTransaction(conn, signer, {
    label: call.label,
    to: call.address,
    data,
    abi,
    estimate: () =>
      conn.publicClient.estimateContractGas({
        address: call.address,
        abi,
        functionName: call.functionName,
        args,
        account: signer.account.address,
      } as Parameters<PublicClient['estimateContractGas']>[0]),
    ...opts,
  });
}

export type TransactionSpec = SendOptions & {
  label: string;
  /** The callee; none for a contract creation. */
  to?: Address;
  data: Hex;
  /** ABI whose custom errors name a revert (the callee's, or the deployed contract's). */
  abi?: Abi;
  /** Gas estimate (default `eth_estimateGas` of the transaction); a revert here is the call's error. */
  estimate?: () => Promise<bigint>;
};

/** Out-of-gas reverts retried with a larger limit (a reverted transaction changed nothing). */
const OUT_OF_GAS_RETRIES = 2;
/** Sends refused before they reached the pool (stale nonce, fee below base fee) tried again. */
const REFUSED_RETRIES = 3;

/**
 * Sends any transaction from `signer` and waits for its receipt, safely:
 *  - gas: the estimate against the latest state plus `gasLimitFor`'s margin (and `gasExtra`);
 *  - nonce: per account across this process's concurrent sends (`withNextNonce`);
 *  - retried only when that is safe: a send the node refused (stale nonce, underpriced, fee below
 *    the base fee) is prepared again; a transaction that ran out of gas reverted and changed
 *    nothing, so it is estimated again with a larger limit; a transaction the node no longer knows
 *    (dropped) is rebroadcast as the same signed bytes (same nonce: it cannot land twice);
 *  - any other revert is reported with its reason (replayed as a call), never retried.
 */
export async function sendTransaction(
  conn: ChainConnection,
  signer: Signer,
  spec: TransactionSpec,
): Promise<TransactionReceipt> {
  const account = signer.account;
  const ctx: TxErrorContext = {
    label: spec.label,
    from: account.address,
    chainId: conn.chainId,
    endpoint: conn.endpoint,
  };
  const key = nonceKey(conn, account.address);
  const estimate =
    spec.estimate ??
    (() => conn.publicClient.estimateGas({ account: account.address, to: spec.to, data: spec.data }));
  let extra = spec.gasExtra ?? 0n;
  let refused = 0;
  let outOfGas = 0;
  for (;;) {
    let gasEstimate: bigint;
    try {
      gasEstimate = await estimate();
    } catch (e) {
      throw decodeWith(e, spec, ctx);
    }
    const cap = await blockGasLimit(conn);
    const gas = gasLimitFor(gasEstimate, { extra, cap });
    let sent: Sent;
    try {
      sent = await withNextNonce(
        key,
        () => conn.publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' }),
        (nonce) => broadcast(conn, signer, { to: spec.to, data: spec.data, gas, nonce }),
      );
    } catch (e) {
      const fault = classifyRpcError(e);
      if (retryableBeforeSend(fault.kind) && refused < REFUSED_RETRIES) {
        refused++;
        spec.onEvent?.(`${spec.label}: ${fault.kind} (${fault.detail}); preparing it again`);
        await sleep(200 * refused);
        continue;
      }
      // a node that mines on demand refuses a transaction that runs out of gas: nothing happened
      if ((fault.kind === 'out-of-gas' || fault.kind === 'intrinsic-gas') && outOfGas < OUT_OF_GAS_RETRIES) {
        outOfGas++;
        extra += gas;
        spec.onEvent?.(`${spec.label}: refused for gas with ${gas}; sent again with more`);
        continue;
      }
      if (fault.kind === 'reverted') throw decodeWith(e, spec, ctx);
      throw faultToAgoraError(fault, ctx, e);
    }
    const receipt = await awaitReceipt(conn, sent, ctx, spec);
    if (receipt.status === 'success') return receipt;
    if (ranOutOfGas(receipt.gasUsed, gas)) {
      if (outOfGas < OUT_OF_GAS_RETRIES) {
        outOfGas++;
        extra += gas;
        spec.onEvent?.(
          `${spec.label}: ran out of gas with ${gas} (tx ${sent.hash}); reverted, so sent again with more`,
        );
        continue;
      }
      throw faultToAgoraError({ kind: 'out-of-gas', detail: `used all ${gas} gas in tx ${sent.hash}` }, ctx);
    }
    throw await minedRevert(conn, signer, spec, receipt, ctx);
  }
}

type Sent = { hash: Hex; raw?: Hex; nonce: number };

/** Signs locally and hands the raw transaction to the node (a JSON-RPC account lets the node sign). */
async function broadcast(
  conn: ChainConnection,
  signer: Signer,
  tx: { to?: Address; data: Hex; gas: bigint; nonce: number },
): Promise<Sent> {
  const account = signer.account;
  if (account.type !== 'local' || !account.signTransaction) {
    const hash = await signer.sendTransaction({
      account,
      chain: conn.chain,
      to: tx.to ?? null,
      data: tx.data,
      gas: tx.gas,
      nonce: tx.nonce,
    } as Parameters<Signer['sendTransaction']>[0]);
    return { hash, nonce: tx.nonce };
  }
  const request = await signer.prepareTransactionRequest({
    account,
    chain: conn.chain,
    to: tx.to ?? null,
    data: tx.data,
    gas: tx.gas,
    nonce: tx.nonce,
  } as Parameters<Signer['prepareTransactionRequest']>[0]);
  const raw = await account.signTransaction(request as Parameters<typeof account.signTransaction>[0]);
  const hash = keccak256(raw);
  try {
    await conn.publicClient.sendRawTransaction({ serializedTransaction: raw });
  } catch (e) {
    const kind = classifyRpcError(e).kind;
    // the node has it already (a rebroadcast): sent
    if (kind === 'already-known') return { hash, raw, nonce: tx.nonce };
    // the node may or may not have taken it: ask, and send the same bytes again if not
    if (kind === 'unreachable' || kind === 'timeout') {
      await sleep(500);
      const known = await conn.publicClient.getTransaction({ hash }).catch(() => undefined);
      if (known) return { hash, raw, nonce: tx.nonce };
      await conn.publicClient.sendRawTransaction({ serializedTransaction: raw });
      return { hash, raw, nonce: tx.nonce };
    }
    throw e;
  }
  return { hash, raw, nonce: tx.nonce };
}

/** Checks for a dropped transaction this often while waiting for a receipt. */
const DROP_CHECK_MS = 20_000;

/**
 * Waits for the receipt. A transaction the node has forgotten (dropped from its pool) is
 * rebroadcast as the same signed bytes; one whose nonce another transaction took is reported.
 */
async function awaitReceipt(
  conn: ChainConnection,
  sent: Sent,
  ctx: TxErrorContext,
  spec: TransactionSpec,
): Promise<TransactionReceipt> {
  const until = Date.now() + (spec.receiptTimeoutMs ?? 600_000);
  let lastCheck = Date.now();
  const poll = Math.max(50, Math.min(1000, conn.publicClient.pollingInterval ?? 250));
  for (;;) {
    const r = await conn.publicClient.getTransactionReceipt({ hash: sent.hash }).catch((e: unknown) => {
      const kind = classifyRpcError(e).kind;
      if (kind === 'unreachable' || kind === 'timeout') return undefined; // keep waiting
      if (e instanceof BaseError && e.name === 'TransactionReceiptNotFoundError') return undefined;
      return undefined;
    });
    if (r) return r;
    if (Date.now() > until) {
      throw new AgoraError('CHAIN_TX_PENDING', `${ctx.label}: tx ${sent.hash} is not mined yet`, {
        hint: 'the chain is slow or the fee too low; look the transaction up later, it may still land',
      });
    }
    if (Date.now() - lastCheck > DROP_CHECK_MS) {
      lastCheck = Date.now();
      const known = await conn.publicClient.getTransaction({ hash: sent.hash }).catch(() => undefined);
      if (!known && ctx.from) {
        const mined = await conn.publicClient
          .getTransactionCount({ address: ctx.from as Address, blockTag: 'latest' })
          .catch(() => undefined);
        if (mined !== undefined && mined > sent.nonce) {
          // one more look: it may have been mined between the two reads
          const again = await conn.publicClient
            .getTransactionReceipt({ hash: sent.hash })
            .catch(() => undefined);
          if (again) return again;
          throw new AgoraError(
            'CHAIN_TX_REPLACED',
            `${ctx.label}: tx ${sent.hash} was replaced by another transaction with nonce ${sent.nonce}`,
            { hint: 'another process sent from the same account; check the chain state and try again' },
          );
        }
        if (sent.raw) {
          spec.onEvent?.(`${ctx.label}: tx ${sent.hash} was dropped by the node; sending it again`);
          await conn.publicClient.sendRawTransaction({ serializedTransaction: sent.raw }).catch(() => {});
        }
      }
    }
    await sleep(poll);
  }
}

/** Why a mined transaction reverted: the same call replayed against the block before it. */
async function minedRevert(
  conn: ChainConnection,
  signer: Signer,
  spec: TransactionSpec,
  receipt: TransactionReceipt,
  ctx: TxErrorContext,
): Promise<AgoraError> {
  const onChain = `${spec.label} reverted on chain (tx ${receipt.transactionHash}, block ${receipt.blockNumber})`;
  try {
    await conn.publicClient.call({
      account: signer.account.address,
      to: spec.to,
      data: spec.data,
      blockNumber: receipt.blockNumber > 0n ? receipt.blockNumber - 1n : receipt.blockNumber,
    });
  } catch (e) {
    const d = decodeWith(e, spec, ctx);
    if (d instanceof AgoraError && d.code === 'CONTRACT_REVERT') {
      return new AgoraError('CONTRACT_REVERT', `${onChain}: ${d.message.replace(/^.*? reverted: /, '')}`, {
        hint: d.hint ?? 'the chain state changed between the estimate and the block; read it and try again',
        cause: e,
      });
    }
  }
  return new AgoraError('CONTRACT_REVERT', onChain, {
    hint: 'the state changed between the estimate and the block (another transaction came first); read it and try again',
  });
}

function decodeWith(e: unknown, spec: TransactionSpec, ctx: TxErrorContext): unknown {
  if (spec.abi && !(e instanceof AgoraError)) {
    const r = decodeRevert(e, spec.abi);
    if (r && !(e instanceof BaseError && e.walk((x) => x instanceof ContractFunctionRevertedError))) {
      const what = `${r.errorName}(${r.args.map(formatArg).join(', ')})`;
      return new AgoraError('CONTRACT_REVERT', `${spec.label} reverted: ${what}`, {
        hint: HINTS[r.errorName],
        cause: e,
      });
    }
  }
  return decodeContractError(e, spec.label, ctx);
}

const gasLimits = new WeakMap<ChainConnection, { at: number; limit: bigint }>();

/** The latest block's gas limit (cached for a minute; 0 = unknown). */
async function blockGasLimit(conn: ChainConnection): Promise<bigint> {
  const c = gasLimits.get(conn);
  if (c && Date.now() - c.at < 60_000) return c.limit;
  const limit = await conn.publicClient
    .getBlock()
    .then((b) => b.gasLimit)
    .catch(() => 0n);
  gasLimits.set(conn, { at: Date.now(), limit });
  return limit;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Reads a view function, decoding reverts. */
export async function readTx<T>(conn: ChainConnection, call: ContractCall): Promise<T> {
  try {
    return (await conn.publicClient.readContract({
      address: call.address,
      abi: withErrors(call.abi),
      functionName: call.functionName,
      args: (call.args ?? []) as unknown[],
    })) as T;
  } catch (e) {
    throw decodeContractError(e, call.label, { chainId: conn.chainId, endpoint: conn.endpoint });
  }
}

/** Estimates gas for a call (used by benchmarks), decoding reverts. */
export async function estimateTx(
  conn: ChainConnection,
  from: `0x${string}`,
  call: ContractCall,
): Promise<bigint> {
  try {
    return await conn.publicClient.estimateContractGas({
      address: call.address,
      abi: withErrors(call.abi),
      functionName: call.functionName,
      args: (call.args ?? []) as unknown[],
      account: from,
    });
  } catch (e) {
    throw decodeContractError(e, call.label, { from, chainId: conn.chainId, endpoint: conn.endpoint });
  }
}

/** The args of the first `eventName` log emitted by `address` in the receipt. */
export function eventArgs<T>(
  receipt: TransactionReceipt,
  abi: Abi | readonly unknown[],
  eventName: string,
): T {
  const logs = parseEventLogs({ abi: abi as Abi, logs: receipt.logs as Log[], eventName }) as unknown as {
    args: T;
  }[];
  if (logs.length === 0) {
    throw new AgoraError('EVENT_MISSING', `expected a ${eventName} event in tx ${receipt.transactionHash}`);
  }
  return logs[0].args;
}
