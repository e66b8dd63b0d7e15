import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where wallets, deployments and node state live: `--home`, else `$AGORA_HOME`, else `~/.agora`. */
export function resolveHome(home?: string): string {
  if (home) return resolve(home);
  if (process.env.AGORA_HOME) return resolve(process.env.AGORA_HOME);
  return join(homedir(), '.agora');
}

export const DEFAULT_RPC_URL = 'http://127.0.0.1:8545';

export const homePaths = (home: string) => ({
  keystores: join(home, 'keystores'),
  deployments: join(home, 'deployments'),
  nodes: join(home, 'nodes'),
  data: join(home, 'data'),
});
