/**
 * Deploys a PaymentChannels instance. Challenge-period bounds come either from ProtocolParams (live,
 * governance-controlled: pass `params`) or are fixed at construction (`bounds`). The default period is
 * clamped into the bounds in force.
 */
import { type Account, type Address, zeroAddress } from 'viem';
import { PaymentChannels } from '../../artifacts/index.ts';
import { type ChainConnection, walletClientFor } from '../chain/connect.ts';
import { deployContract } from '../chain/deploy-contract.ts';
import { AgoraError } from '../errors.ts';

/** Challenge-period bounds in seconds. */
export type ChallengeBounds = { min: number; max: number; default: number };

/** 10 minutes .. 30 days, default 1 day: long enough for a recipient that checks in daily to settle. */
export const DEFAULT_CHALLENGE_BOUNDS: ChallengeBounds = { min: 600, max: 30 * 86_400, default: 86_400 };

export type DeployChannelsOptions = {
  /** ProtocolParams address: bounds are read there at every open (governance-controlled). */
  params?: Address;
  /** Fixed bounds (used when `params` is absent); `default` is used in both cases. */
  bounds?: ChallengeBounds;
};

export async function deployPaymentChannels(
  conn: ChainConnection,
  deployer: Account,
  opts: DeployChannelsOptions = {},
): Promise<Address> {
  const bounds = opts.bounds ?? DEFAULT_CHALLENGE_BOUNDS;
  const { min, max, default: def } = bounds;
  const defOk = Number.isInteger(def) && def > 0 && def < 2 ** 32;
  const fixedOk = Number.isInteger(min) && min > 0 && max >= min && max < 2 ** 32 && def >= min && def <= max;
  if (!defOk || (!opts.params && !fixedOk)) {
    throw new AgoraError('CHANNEL_BAD_BOUNDS', `invalid challenge-period bounds ${JSON.stringify(bounds)}`, {
      hint: 'need integers with 0 < min <= default <= max < 2^32 (seconds)',
    });
  }
  return deployContract(conn.publicClient, walletClientFor(conn, deployer), PaymentChannels, [
    opts.params ?? zeroAddress,
    BigInt(min),
    BigInt(max),
    BigInt(def),
  ]);
}
