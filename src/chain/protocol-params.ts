/**
 * Protocol parameters: reading them from ProtocolParams, and building the governance actions that change
 * them. The TimelockController owns ProtocolParams, so these actions only take effect through a passed
 * proposal (see `governance.ts`); a direct call reverts with OwnableUnauthorizedAccount.
 */
import type { Address } from 'viem';
import { DataRegistry, ProtocolParams } from '../../artifacts/index.ts';
import { action, type ProposalAction } from '../gov/governance.ts';
import type { ChainConnection } from './connect.ts';
import { readTx } from './tx.ts';

export type ProtocolParamValues = {
  governance: Address;
  minStake: bigint;
  slashBps: number;
  protocolFeeBps: number;
  minChallengePeriod: bigint;
  maxChallengePeriod: bigint;
  treasury: Address;
};

export async function readProtocolParams(
  conn: ChainConnection,
  address: Address,
): Promise<ProtocolParamValues> {
  const r = <T>(functionName: string) =>
    readTx<T>(conn, {
      label: `ProtocolParams.${functionName}`,
      address,
      abi: ProtocolParams.abi,
      functionName,
    });
  const [governance, minStake, slashBps, protocolFeeBps, minChallengePeriod, maxChallengePeriod, treasury] =
    await Promise.all([
      r<Address>('owner'),
      r<bigint>('minStake'),
      r<number>('slashBps'),
      r<number>('protocolFeeBps'),
      r<bigint>('minChallengePeriod'),
      r<bigint>('maxChallengePeriod'),
      r<Address>('treasury'),
    ]);
  return {
    governance,
    minStake,
    slashBps,
    protocolFeeBps,
    minChallengePeriod,
    maxChallengePeriod,
    treasury,
  };
}

export async function isValidator(
  conn: ChainConnection,
  address: Address,
  account: Address,
): Promise<boolean> {
  return readTx(conn, {
    label: 'ProtocolParams.isValidator',
    address,
    abi: ProtocolParams.abi,
    functionName: 'isValidator',
    args: [account],
  });
}

export async function isSectorAllowed(
  conn: ChainConnection,
  address: Address,
  sector: string,
): Promise<boolean> {
  return readTx(conn, {
    label: 'ProtocolParams.isSectorAllowed',
    address,
    abi: ProtocolParams.abi,
    functionName: 'isSectorAllowed',
    args: [sector],
  });
}

/** Governance actions (for `governance.propose`) that change protocol parameters. */
export const paramActions = {
  setMinStake: (params: Address, value: bigint): ProposalAction =>
    action(params, ProtocolParams.abi, 'setMinStake', [value]),
  setSlashBps: (params: Address, bps: number): ProposalAction =>
    action(params, ProtocolParams.abi, 'setSlashBps', [bps]),
  setProtocolFeeBps: (params: Address, bps: number): ProposalAction =>
    action(params, ProtocolParams.abi, 'setProtocolFeeBps', [bps]),
  setChallengePeriodBounds: (params: Address, min: bigint, max: bigint): ProposalAction =>
    action(params, ProtocolParams.abi, 'setChallengePeriodBounds', [min, max]),
  setTreasury: (params: Address, treasury: Address): ProposalAction =>
    action(params, ProtocolParams.abi, 'setTreasury', [treasury]),
  setValidator: (params: Address, validator: Address, approved: boolean): ProposalAction =>
    action(params, ProtocolParams.abi, 'setValidator', [validator, approved]),
  setSector: (params: Address, sector: string, allowed: boolean): ProposalAction =>
    action(params, ProtocolParams.abi, 'setSector', [sector, allowed]),
  /** Admits a dataset to an allowed sector (DataRegistry, governance-only). */
  admitToSector: (registry: Address, datasetId: bigint, sector: string): ProposalAction =>
    action(registry, DataRegistry.abi, 'admitToSector', [datasetId, sector]),
  removeFromSector: (registry: Address, datasetId: bigint, sector: string): ProposalAction =>
    action(registry, DataRegistry.abi, 'removeFromSector', [datasetId, sector]),
};
