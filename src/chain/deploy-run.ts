/**
 * One deployment per chain and home, whatever happened before: continues an interrupted
 * deployment recorded in the home, reuses (or refuses to duplicate) a finished one whose contracts
 * are on the chain, and deploys afresh when the chain has forgotten the recorded one (a devnet
 * restarted). Every step is written to `<home>/deployments/<chainId>.json` as it lands. What
 * `agora chain deploy` and `agora devnet --rpc` run.
 */
import type { Account } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ChainConnection } from './connect.ts';
import { type DeployOptions, deployProtocol } from './deploy.ts';
import { type Deployment, readDeployment, writeDeployment } from './deployments.ts';

export type DeployRun = { deployment: Deployment; path: string; resumed: boolean; reused: boolean };

export async function deployOrContinue(
  conn: ChainConnection,
  home: string,
  deployer: Account,
  opts: Omit<DeployOptions, 'resume' | 'onStep'> & {
    /** What to do with a finished deployment on the chain: reuse it, or refuse (default). */
    existing?: 'reuse' | 'refuse';
    /** Start a separate deployment whatever the home records. */
    fresh?: boolean;
  } = {},
): Promise<DeployRun> {
  const recorded = opts.fresh ? undefined : readDeployment(home, conn.chainId);
  let resume: Deployment | undefined;
  if (recorded) {
    const probe = recorded.contracts.AgoraToken ?? recorded.contracts.TimelockController;
    const code = probe ? await conn.publicClient.getCode({ address: probe }) : undefined;
    const live = Boolean(code && code !== '0x');
    if (recorded.complete !== false && live) {
      if (opts.existing === 'reuse') {
        return { deployment: recorded, path: writeDeployment(home, recorded), resumed: false, reused: true };
      }
      throw new AgoraError(
        'DEPLOYMENT_EXISTS',
        `the protocol is already deployed on chain ${conn.chainId} (AgoraToken ${recorded.contracts.AgoraToken}), recorded in this home`,
        {
          hint: 'nothing to do: every node of this home uses it. Pass --fresh to deploy a second, separate protocol',
        },
      );
    }
    if (recorded.complete === false && (live || !probe)) resume = recorded;
  }
  const { existing: _e, fresh: _f, ...deployOpts } = opts;
  const d = await deployProtocol(conn, deployer, {
    ...deployOpts,
    ...(resume ? { resume } : {}),
    // every step is recorded as it lands: an interrupted deploy is continued by the next run
    onStep: (partial) => writeDeployment(home, partial),
  });
  return { deployment: d, path: writeDeployment(home, d), resumed: resume !== undefined, reused: false };
}
