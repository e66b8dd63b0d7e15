/**
 * Connects to an EVM chain over JSON-RPC (any node: the embedded chain, anvil, geth, a testnet) or to
 * an in-process EIP-1193 provider. Every key signs locally; the node never holds our keys.
 */
import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem';
import { AgoraError } from '../errors.ts';
import type { Eip1193Like } from './rpc-server.ts';

export type ChainConnection = {
  chainId: number;
  chain: Chain;
  transport: Transport;
  publicClient: PublicClient;
  /** Human-readable description of where we are connected (URL or "in-process"). */
  endpoint: string;
};

export type ConnectOptions = { rpcUrl?: string; provider?: Eip1193Like };

/** Connects and reads the chain id; fails with a clear message when the node is unreachable. */
export async function connectChain(opts: ConnectOptions): Promise<ChainConnection> {
  const endpoint = opts.provider ? 'in-process' : (opts.rpcUrl ?? 'http://127.0.0.1:8545');
  const transport: Transport = opts.provider
    ? // No retries in-process: there are no transient faults, and viem would retry every revert
      // (wrapped as UnknownRpcError) 3 times with backoff, ~1 s per rejected call.
      custom(opts.provider, { retryCount: 0 })
    : http(endpoint, { retryCount: 1, timeout: 30_000, batch: false });
  const probe = createPublicClient({ transport });
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (e) {
    throw new AgoraError('CHAIN_UNREACHABLE', `cannot reach an EVM JSON-RPC node at ${endpoint}`, {
      hint: 'start the local chain with `agora chain start`, or pass --rpc URL of a running node',
      cause: e,
    });
  }
  const chain = defineChain({
    id: chainId,
    name: chainId === 31337 ? 'Agora devnet' : `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [opts.rpcUrl ?? 'http://127.0.0.1:8545'] } },
  });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient;
  return { chainId, chain, transport, publicClient, endpoint };
}

/** A wallet client that signs locally with `account` on the connected chain. */
export function walletClientFor(
  conn: ChainConnection,
  account: Account,
): WalletClient<Transport, Chain, Account> {
  return createWalletClient({ chain: conn.chain, transport: conn.transport, account });
}
