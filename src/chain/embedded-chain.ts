/**
 * The embedded chain: Hardhat 3's EDR running in this process, with the devnet accounts funded,
 * optionally served as JSON-RPC on 127.0.0.1 so other processes (nodes, CLI) share it.
 */
import { AgoraError } from '../errors.ts';
import { journaled, replayJournal } from './chain-journal.ts';
import { DEVNET_CHAIN_ID, DEVNET_MNEMONIC } from './devnet.ts';
import { type Eip1193Like, type JsonRpcServer, serveJsonRpc } from './rpc-server.ts';

export type EmbeddedChain = {
  chainId: number;
  /** EIP-1193 provider of the in-process chain (use with viem's `custom` transport). */
  provider: Eip1193Like;
  /** JSON-RPC URL when served over HTTP, else undefined. */
  url?: string;
  /** Calls replayed from the state file at start (0 without one). */
  replayed: number;
  stop(): Promise<void>;
};

export type EmbeddedChainOptions = {
  /** Serve over HTTP on this host (default 127.0.0.1) when `port` is given; port 0 picks a free one. */
  host?: string;
  port?: number;
  /** Chain id (default the devnet's 31337). Other ids let tests play "a non-devnet chain". */
  chainId?: number;
  /** Ether balance of each devnet account (default 10,000 ETH). */
  accountsBalanceWei?: bigint;
  /**
   * Persist the chain in this journal file and reload it on start (`chain-journal.ts`: EDR cannot
   * dump its state, so every change is journaled and replayed).
   */
  stateFile?: string;
};

/** Starts EDR in-process. With `port`, also serves it over HTTP. */
export async function startEmbeddedChain(opts: EmbeddedChainOptions = {}): Promise<EmbeddedChain> {
  const { createHardhatRuntimeEnvironment } = await import('hardhat/hre');
  const hre = await createHardhatRuntimeEnvironment({
    networks: {
      default: {
        type: 'edr-simulated',
        chainId: opts.chainId ?? DEVNET_CHAIN_ID,
        accounts: {
          mnemonic: DEVNET_MNEMONIC,
          count: 20,
          accountsBalance: (opts.accountsBalanceWei ?? 10_000n * 10n ** 18n).toString(),
        },
        mining: { auto: true, interval: 0 },
      },
    },
  });
  const connection = await hre.network.connect();
  let provider = connection.provider as unknown as Eip1193Like;
  let replayed = 0;
  if (opts.stateFile) {
    replayed = await replayJournal(provider, opts.stateFile);
    provider = journaled(provider, opts.stateFile);
  }
  let server: JsonRpcServer | undefined;
  if (opts.port !== undefined) {
    try {
      server = await serveJsonRpc(provider, { host: opts.host ?? '127.0.0.1', port: opts.port });
    } catch (e) {
      await connection.close();
      const code = (e as { code?: string }).code;
      if (code === 'EADDRINUSE') {
        throw new AgoraError(
          'CHAIN_PORT_IN_USE',
          `port ${opts.port} on ${opts.host ?? '127.0.0.1'} is already in use`,
          {
            hint: 'another chain may be running there (try `--rpc` against it), or pick another --port',
            cause: e,
          },
        );
      }
      throw e;
    }
  }
  return {
    chainId: opts.chainId ?? DEVNET_CHAIN_ID,
    provider,
    replayed,
    url: server?.url,
    async stop() {
      await server?.stop();
      await connection.close();
    },
  };
}
