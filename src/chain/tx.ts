/**
 * Sending contract transactions and reads with errors a person can act on: every revert is decoded
 * against the contract's ABI (custom errors included) and rethrown as an AgoraError that names the
 * contract, the function, the error and its arguments, plus a hint when we know one.
 */
import {
  type Abi,
  type Account,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  type Hex,
  type Log,
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

/** Converts a viem error from a contract call into an AgoraError (other errors pass through). */
export function decodeContractError(e: unknown, label: string): unknown {
  if (!(e instanceof BaseError)) return e;
  const reverted = e.walk((x) => x instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    const name = reverted.data?.errorName ?? (reverted.reason ? 'Error' : 'unknown');
    const args = (reverted.data?.args ?? []).map(formatArg).join(', ');
    const what = reverted.data ? `${name}(${args})` : (reverted.reason ?? reverted.shortMessage);
    return new AgoraError('CONTRACT_REVERT', `${label} reverted: ${what}`, {
      hint: HINTS[name],
      cause: e,
    });
  }
  return new AgoraError('CONTRACT_CALL_FAILED', `${label} failed: ${e.shortMessage}`, { cause: e });
}

/** The custom error name of an AgoraError produced by decodeContractError, if any. */
export function revertName(e: unknown): string | undefined {
  if (!(e instanceof AgoraError) || e.code !== 'CONTRACT_REVERT') return undefined;
  return /reverted: (\w+)/.exec(e.message)?.[1];
}

/** Sends a transaction, waits for its receipt, and fails clearly on revert. */
export async function sendTx(
  conn: ChainConnection,
  signer: Signer,
  call: ContractCall,
): Promise<TransactionReceipt> {
  let hash: Hex;
  try {
    hash = await signer.writeContract({
      address: call.address,
      abi: withErrors(call.abi),
      functionName: call.functionName,
      args: (call.args ?? []) as unknown[],
    } as Parameters<Signer['writeContract']>[0]);
  } catch (e) {
    throw decodeContractError(e, call.label);
  }
  const receipt = await conn.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') {
    throw new AgoraError('CONTRACT_REVERT', `${call.label} reverted on chain (tx ${hash})`, {
      hint: 're-run the call as eth_call to see the reason; the chain state may have changed in between',
    });
  }
  return receipt;
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
    throw decodeContractError(e, call.label);
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
    throw decodeContractError(e, call.label);
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
