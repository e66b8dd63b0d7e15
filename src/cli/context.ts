/**
 * What every command gets: resolved global options, output, and lazy access to the chain and signer.
 */
import type { Account } from 'viem';
import { type ChainConnection, connectChain } from '../chain/connect.ts';
import { type Deployment, loadDeployment, type ProtocolContractName } from '../chain/deployments.ts';
import { assertDevnetChain, devnetAccount } from '../chain/devnet.ts';
import { AgoraError } from '../errors.ts';
import { DEFAULT_RPC_URL, resolveHome } from '../home.ts';
import { findWallet, unlockWallet } from '../wallet/wallet-store.ts';
import { createOutput, type Output } from './output.ts';
import { getPassword } from './password.ts';

export type GlobalOptions = {
  home?: string;
  rpc?: string;
  json?: boolean;
  wallet?: string;
  devnetAccount?: string;
};

export type CliContext = {
  home: string;
  rpcUrl: string;
  out: Output;
  opts: GlobalOptions;
  connect(): Promise<ChainConnection>;
  /** The deployment of the connected chain with the named contracts, or a "run agora chain deploy" error. */
  deployment(conn: ChainConnection, needed?: readonly ProtocolContractName[]): Promise<Deployment>;
  /**
   * The signing account: `--devnet-account N` (devnet only) or the wallet (`--wallet`, else the only
   * one in the home), unlocked with AGORA_PASSWORD or a prompt.
   */
  signer(conn: ChainConnection): Promise<Account>;
};

export function createContext(opts: GlobalOptions): CliContext {
  const home = resolveHome(opts.home);
  const rpcUrl = opts.rpc ?? process.env.AGORA_RPC ?? DEFAULT_RPC_URL;
  const out = createOutput(Boolean(opts.json));
  let conn: Promise<ChainConnection> | undefined;
  return {
    home,
    rpcUrl,
    out,
    opts,
    connect() {
      conn ??= connectChain({ rpcUrl });
      return conn;
    },
    deployment(c, needed = []) {
      return loadDeployment(c.publicClient, home, c.chainId, needed, opts.rpc);
    },
    async signer(c) {
      if (opts.devnetAccount !== undefined) {
        assertDevnetChain(c.chainId, `--devnet-account ${opts.devnetAccount}`);
        const index = Number(opts.devnetAccount);
        if (!Number.isInteger(index)) {
          throw new AgoraError(
            'BAD_OPTION',
            `--devnet-account takes an index 0..19, not "${opts.devnetAccount}"`,
          );
        }
        return devnetAccount(index);
      }
      const info = findWallet(home, opts.wallet);
      return unlockWallet(info, await getPassword({ purpose: `Password for ${info.address}` }));
    },
  };
}
