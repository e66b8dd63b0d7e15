/**
 * The protocol contracts a node works with, read from a deployment record (`<home>/deployments/`).
 */
import type { Address } from 'viem';
import type { Deployment } from '../chain/deployments.ts';
import { AgoraError } from '../errors.ts';
import type { JobContracts } from './job-sync.ts';
import type { Contracts } from './provider.ts';

export type NodeContracts = Contracts & JobContracts;

export function contractsOf(d: Deployment): NodeContracts {
  const get = (name: string): Address => {
    const a = d.contracts[name];
    if (!a)
      throw new AgoraError('DEPLOYMENT_INCOMPLETE', `the deployment has no ${name}`, {
        hint: 'redeploy with `agora chain deploy`',
      });
    return a;
  };
  return {
    token: get('AgoraToken'),
    market: get('ComputeMarket'),
    ledger: get('TrainingLedger'),
    registry: get('DataRegistry'),
    params: get('ProtocolParams'),
  };
}
