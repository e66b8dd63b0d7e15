/**
 * What went wrong with a transaction or a call, read from the error a node (EDR, anvil, geth, a
 * hosted RPC) and viem hand back, and turned into an AgoraError that says what to do. Pure: it only
 * reads the error chain (messages, `details`, codes, class names), so it is tested without a chain.
 *
 * Nodes word the same fault differently (EDR: "Sender doesn't have enough funds to send tx", anvil:
 * "Insufficient funds for gas * price + value", geth: "insufficient funds for gas * price + value"),
 * and viem often wraps them as "Missing or invalid parameters" (JSON-RPC −32000). The user must never
 * see that wrapper: every fault is classified here, and the node's own words are kept as the detail.
 */
import { AgoraError } from '../errors.ts';

export type TxFaultKind =
  | 'no-funds'
  | 'nonce-too-low'
  | 'nonce-too-high'
  | 'already-known'
  | 'underpriced'
  | 'fee-too-low'
  | 'out-of-gas'
  | 'intrinsic-gas'
  | 'gas-limit-too-high'
  | 'wrong-chain'
  | 'reverted'
  | 'unreachable'
  | 'timeout'
  | 'unknown';

export type TxFault = {
  kind: TxFaultKind;
  /** The node's own words (the innermost useful message), for the error text and logs. */
  detail: string;
};

export type TxErrorContext = {
  /** What was being done, e.g. "ComputeMarket.joinJob". */
  label: string;
  /** The sending account, when there is one. */
  from?: string;
  chainId?: number;
  /** The node's URL or "in-process", for unreachable-node errors. */
  endpoint?: string;
};

/** Error codes, one per fault kind. */
export const TX_FAULT_CODES: Record<TxFaultKind, string> = {
  'no-funds': 'CHAIN_NO_FUNDS',
  'nonce-too-low': 'CHAIN_NONCE_TOO_LOW',
  'nonce-too-high': 'CHAIN_NONCE_TOO_HIGH',
  'already-known': 'CHAIN_TX_ALREADY_KNOWN',
  underpriced: 'CHAIN_TX_UNDERPRICED',
  'fee-too-low': 'CHAIN_FEE_TOO_LOW',
  'out-of-gas': 'CHAIN_OUT_OF_GAS',
  'intrinsic-gas': 'CHAIN_OUT_OF_GAS',
  'gas-limit-too-high': 'CHAIN_GAS_LIMIT',
  'wrong-chain': 'CHAIN_WRONG_CHAIN',
  reverted: 'CONTRACT_REVERT',
  unreachable: 'CHAIN_UNREACHABLE',
  timeout: 'CHAIN_TIMEOUT',
  unknown: 'CHAIN_TX_FAILED',
};

/** Messages viem puts around a node's error; never the useful part. */
const WRAPPERS = [
  /^missing or invalid parameters\.?$/i,
  /^an unknown rpc error occurred\.?$/i,
  /^rpc request failed\.?$/i,
  /^transaction creation failed\.?$/i,
  /^invalid parameters were provided to the rpc method\.?$/i,
  /^internal json-rpc error\.?$/i,
];

type Node = { name?: unknown; message?: unknown; shortMessage?: unknown; details?: unknown; code?: unknown };

/** Every object in the error's cause chain (and `error` fields of raw JSON-RPC replies). */
function chainOf(e: unknown): Node[] {
  const out: Node[] = [];
  const seen = new Set<unknown>();
  let cur: unknown = e;
  while (cur && typeof cur === 'object' && !seen.has(cur) && out.length < 32) {
    seen.add(cur);
    out.push(cur as Node);
    const c = cur as { cause?: unknown; error?: unknown };
    cur = c.cause ?? (c.error && typeof c.error === 'object' ? c.error : undefined);
  }
  if (out.length === 0 && typeof e === 'string') out.push({ message: e });
  return out;
}

function texts(n: Node): string[] {
  const t: string[] = [];
  for (const v of [n.details, n.shortMessage, n.message]) {
    if (typeof v === 'string' && v.trim()) t.push(v.trim());
  }
  return t;
}

/** The node's own words: the deepest message in the chain that is not a generic wrapper. */
export function nodeDetail(e: unknown): string {
  const chain = chainOf(e);
  for (let i = chain.length - 1; i >= 0; i--) {
    for (const t of texts(chain[i])) {
      const first = t.split('\n')[0].trim();
      if (first && !WRAPPERS.some((w) => w.test(first))) return first.slice(0, 300);
    }
  }
  return chain[0] ? (texts(chain[0])[0]?.split('\n')[0] ?? 'unknown error') : String(e);
}

const RULES: readonly { kind: TxFaultKind; test: RegExp }[] = [
  {
    kind: 'wrong-chain',
    test: /invalid chain ?id|chain ?id mismatch|does not match the target chain|wrong chain/,
  },
  {
    kind: 'no-funds',
    test: /insufficient funds|doesn't have enough funds|not enough funds|exceeds the balance of the account|insufficient balance for transfer/,
  },
  { kind: 'already-known', test: /already known|already imported|known transaction/ },
  {
    kind: 'underpriced',
    test: /replacement transaction underpriced|replacement fee too low|underpriced|transaction with the same nonce/,
  },
  {
    kind: 'nonce-too-low',
    test: /nonce too low|nonce has already been used|is lower than the current nonce|nonce.*already (used|mined)|old nonce/,
  },
  { kind: 'nonce-too-high', test: /nonce too high|is higher than the next one expected/ },
  {
    kind: 'fee-too-low',
    test: /max fee per gas less than block base fee|fee cap (is )?(less|lower) than|maxfeepergas.*(lower|less) than|fee cap too low/,
  },
  {
    kind: 'intrinsic-gas',
    test: /intrinsic gas too low|requires at least \d+ gas but got|gas too low|provided for the transaction is too low/,
  },
  {
    kind: 'out-of-gas',
    test: /out of gas|ran out of gas|not enough gas for reentrancy sentry|gas required exceeds allowance|gas limit reached|exceeds gas limit/,
  },
  { kind: 'gas-limit-too-high', test: /exceeds block gas limit|gas limit too high|intrinsic gas too high/ },
  { kind: 'reverted', test: /execution reverted|reverted with|vm exception|function .* reverted|revert/ },
  {
    kind: 'unreachable',
    test: /econnrefused|econnreset|enotfound|fetch failed|socket hang up|network error|http request failed|cannot reach/,
  },
  { kind: 'timeout', test: /timed? ?out|took too long/ },
];

/** viem error class names that settle the kind on their own. */
const BY_NAME: Record<string, TxFaultKind> = {
  InsufficientFundsError: 'no-funds',
  NonceTooLowError: 'nonce-too-low',
  NonceTooHighError: 'nonce-too-high',
  FeeCapTooLowError: 'fee-too-low',
  IntrinsicGasTooLowError: 'intrinsic-gas',
  IntrinsicGasTooHighError: 'gas-limit-too-high',
  ChainMismatchError: 'wrong-chain',
  ContractFunctionRevertedError: 'reverted',
  HttpRequestError: 'unreachable',
  WebSocketRequestError: 'unreachable',
  TimeoutError: 'timeout',
};

/** Classifies a node/viem error. The innermost recognisable fault wins over the wrappers' guesses. */
export function classifyRpcError(e: unknown): TxFault {
  const chain = chainOf(e);
  const detail = nodeDetail(e);
  // the node's own words first (innermost), then viem's classes, then any message in the chain
  for (let i = chain.length - 1; i >= 0; i--) {
    for (const t of texts(chain[i])) {
      const low = t.toLowerCase();
      if (WRAPPERS.some((w) => w.test(low.split('\n')[0]))) continue;
      for (const r of RULES) if (r.test.test(low)) return { kind: r.kind, detail };
    }
  }
  for (const n of chain) {
    const name = typeof n.name === 'string' ? n.name : (n as object).constructor?.name;
    if (name && BY_NAME[name]) return { kind: BY_NAME[name], detail };
  }
  for (const n of chain) if (n.code === 3) return { kind: 'reverted', detail };
  return { kind: 'unknown', detail };
}

/**
 * Whether sending the same call again is safe and may succeed, for a fault raised before the
 * transaction was accepted by the node (so nothing happened on chain): a stale nonce or a fee
 * below the base fee is fixed by preparing it again; nothing else is retried blindly.
 */
export function retryableBeforeSend(kind: TxFaultKind): boolean {
  return (
    kind === 'nonce-too-low' || kind === 'underpriced' || kind === 'fee-too-low' || kind === 'already-known'
  );
}

function who(ctx: TxErrorContext): string {
  return ctx.from ?? 'the sending account';
}
function onChain(ctx: TxErrorContext): string {
  return ctx.chainId !== undefined ? ` on chain ${ctx.chainId}` : '';
}

/** An AgoraError for a classified fault, saying what went wrong and what to do. */
export function faultToAgoraError(fault: TxFault, ctx: TxErrorContext, cause?: unknown): AgoraError {
  const code = TX_FAULT_CODES[fault.kind];
  const opts = (hint: string) => ({ hint, cause });
  const d = fault.detail;
  switch (fault.kind) {
    case 'no-funds':
      return new AgoraError(
        code,
        `${who(ctx)} has no ETH for gas${onChain(ctx)} (${ctx.label}: ${d})`,
        opts(
          ctx.chainId === 31337
            ? `on the devnet run \`agora wallet fund ${ctx.from ?? '<address>'}\`; elsewhere send ETH to ${who(ctx)}`
            : `send ETH to ${who(ctx)} for gas, then try again`,
        ),
      );
    case 'nonce-too-low':
      return new AgoraError(
        code,
        `${ctx.label}: the transaction's nonce was already used by ${who(ctx)} (${d})`,
        opts(
          'another process may be sending from the same account; try again (the nonce is read from the chain anew), or send from one process at a time',
        ),
      );
    case 'nonce-too-high':
      return new AgoraError(
        code,
        `${ctx.label}: the transaction's nonce is ahead of ${who(ctx)}'s next one (${d})`,
        opts('an earlier transaction from this account was dropped; try again'),
      );
    case 'already-known':
      return new AgoraError(
        code,
        `${ctx.label}: the node already has this transaction (${d})`,
        opts('wait for it to be mined (`agora chain status`), then check the result'),
      );
    case 'underpriced':
      return new AgoraError(
        code,
        `${ctx.label}: a pending transaction from ${who(ctx)} with the same nonce pays more than this one (${d})`,
        opts(
          'another transaction from this account is waiting to be mined: wait for it, or send from one process at a time',
        ),
      );
    case 'fee-too-low':
      return new AgoraError(
        code,
        `${ctx.label}: the fee offered is below the chain's base fee (${d})`,
        opts('the base fee rose while the transaction was prepared; try again'),
      );
    case 'out-of-gas':
    case 'intrinsic-gas':
      return new AgoraError(
        code,
        `${ctx.label} ran out of gas (${d})`,
        opts(
          'the gas limit was too low for the state the transaction met when mined; try again (Agora estimates anew with a margin)',
        ),
      );
    case 'gas-limit-too-high':
      return new AgoraError(
        code,
        `${ctx.label}: the gas limit is above what the chain allows (${d})`,
        opts('the call is too large for one block on this chain'),
      );
    case 'wrong-chain':
      return new AgoraError(
        code,
        `${ctx.label}: the transaction was signed for another chain than the node's${onChain(ctx)} (${d})`,
        opts('check --rpc: it must point at the chain the deployment file and wallet are for'),
      );
    case 'reverted':
      return new AgoraError(
        code,
        `${ctx.label} reverted: ${d}`,
        opts('the chain state does not allow this call now; read the state and try again'),
      );
    case 'unreachable':
      return new AgoraError(
        code,
        `${ctx.label}: cannot reach the chain node${ctx.endpoint ? ` at ${ctx.endpoint}` : ''} (${d})`,
        opts('check that the node is running and --rpc points at it (`agora chain status`)'),
      );
    case 'timeout':
      return new AgoraError(
        code,
        `${ctx.label}: the chain node did not answer in time${ctx.endpoint ? ` (${ctx.endpoint})` : ''}: ${d}`,
        opts('the node is overloaded or far away; try again'),
      );
    default:
      return new AgoraError(
        code,
        `${ctx.label} failed: ${d}`,
        opts('see the node log; the transaction was not sent or did not succeed'),
      );
  }
}

/** Classifies `e` and returns the AgoraError for it (AgoraErrors pass through unchanged). */
export function rpcErrorToAgoraError(e: unknown, ctx: TxErrorContext): AgoraError {
  if (e instanceof AgoraError) return e;
  return faultToAgoraError(classifyRpcError(e), ctx, e);
}
