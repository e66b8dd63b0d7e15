/**
 * Deploys the Agora protocol contracts, wires governance, and returns their addresses.
 *
 * Order: AgoraTimelock (recorded as "TimelockController") → AgoraToken (devnet: minted to every devnet
 * account and to the treasury = the timelock) → AgoraGovernor → ProtocolParams (owner = timelock; initial
 * parameters, validators and sectors set in its constructor, so the deployer never holds parameter
 * control) → DataRegistry → ComputeMarket → TrainingLedger (bound into the market once) → PaymentChannels.
 * Finally the governor receives the timelock's proposer, canceller and executor roles and the deployer
 * renounces the timelock admin role: from then on only passed proposals change protocol parameters.
 */
import { type Account, type Address, getAddress, type Hex, parseEther } from 'viem';
import {
  AgoraGovernor,
  AgoraTimelock,
  AgoraToken,
  ComputeMarket,
  DataRegistry,
  ModelRevenue,
  PaymentChannels,
  ProtocolParams,
  TrainingLedger,
} from '../../artifacts/index.ts';
import { AgoraError } from '../errors.ts';
import { devnetDelegations } from '../gov/devnet-power.ts';
import { DEFAULT_CHALLENGE_BOUNDS } from '../pay/deploy-channels.ts';
import { type ChainConnection, walletClientFor } from './connect.ts';
import { deployContract } from './deploy-contract.ts';
import type { Deployment } from './deployments.ts';
import { DEVNET_ACCOUNT_COUNT, DEVNET_CHAIN_ID, devnetAccount } from './devnet.ts';

/** Governance timing and protocol parameters chosen at deployment. */
export type ProtocolConfig = {
  /** Seconds between proposing and voting (the token clock is the timestamp). */
  votingDelay: number;
  /** Seconds voting stays open. */
  votingPeriod: number;
  /** Seconds between queueing and executing in the timelock. */
  timelockDelay: bigint;
  /** Votes needed to propose (AGORA wei). */
  proposalThreshold: bigint;
  /** Quorum, percent of total supply at the snapshot. */
  quorumPercent: bigint;
  minStake: bigint;
  slashBps: number;
  protocolFeeBps: number;
  minChallengePeriod: bigint;
  maxChallengePeriod: bigint;
  /** Validators approved from the start (devnet default: account DEVNET_VALIDATOR_INDEX). */
  validators: Address[];
  /** Sectors datasets may be admitted to from the start. */
  sectors: string[];
};

/** Devnet settings: seconds-scale governance so tests and demos can time-travel through a proposal. */
export const DEVNET_PROTOCOL_CONFIG: ProtocolConfig = {
  votingDelay: 1,
  votingPeriod: 120,
  timelockDelay: 30n,
  proposalThreshold: 0n,
  quorumPercent: 4n,
  minStake: parseEther('100'),
  slashBps: 5_000,
  protocolFeeBps: 100,
  minChallengePeriod: 10n,
  maxChallengePeriod: 7n * 24n * 3600n,
  validators: [],
  sectors: ['vision', 'text', 'general'],
};

/**
 * On the devnet, unless `config.validators` is given, devnet account 19 is the approved validator, so the
 * local swarm can attest quality and report fraud out of the box.
 */
export const DEVNET_VALIDATOR_INDEX = 19;

/** Settings for real networks: days-scale governance. */
export const MAINNET_LIKE_PROTOCOL_CONFIG: ProtocolConfig = {
  ...DEVNET_PROTOCOL_CONFIG,
  votingDelay: 24 * 3600,
  votingPeriod: 7 * 24 * 3600,
  timelockDelay: 2n * 24n * 3600n,
  proposalThreshold: parseEther('10000'),
  minChallengePeriod: 3600n,
};

export type DeployOptions = {
  /** Receives progress lines ("deploying AgoraToken…"). */
  onProgress?: (message: string) => void;
  /** AGORA minted to each devnet account (devnet only). Default 1,000,000. */
  devnetMintPerAccount?: bigint;
  /** AGORA minted to the treasury (the timelock). Default 10,000,000 on the devnet, 0 elsewhere. */
  treasuryMint?: bigint;
  /** Total supply minted to the deployer on non-devnet chains. Default 1,000,000,000. */
  supply?: bigint;
  /** Overrides of the protocol configuration (devnet or mainnet-like defaults). */
  config?: Partial<ProtocolConfig>;
  /** Devnet only: delegate votes as `devnetDelegations` says (default true), so members can vote at once. */
  devnetDelegate?: boolean;
};

type Wallet = ReturnType<typeof walletClientFor>;

async function send(
  conn: ChainConnection,
  wallet: Wallet,
  what: string,
  req: Parameters<Wallet['writeContract']>[0],
) {
  const hash = await wallet.writeContract(req);
  const receipt = await conn.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new AgoraError('DEPLOY_FAILED', `${what} failed (tx ${hash})`);
}

export async function deployProtocol(
  conn: ChainConnection,
  deployer: Account,
  opts: DeployOptions = {},
): Promise<Deployment> {
  const progress = opts.onProgress ?? (() => {});
  const wallet = walletClientFor(conn, deployer);
  const devnet = conn.chainId === DEVNET_CHAIN_ID;
  const cfg: ProtocolConfig = {
    ...(devnet
      ? { ...DEVNET_PROTOCOL_CONFIG, validators: [devnetAccount(DEVNET_VALIDATOR_INDEX).address] }
      : MAINNET_LIKE_PROTOCOL_CONFIG),
    ...opts.config,
  };
  const deploy = async (artifact: Parameters<typeof deployContract>[2], args: readonly unknown[]) => {
    progress(`deploying ${artifact.contractName}…`);
    return getAddress(await deployContract(conn.publicClient, wallet, artifact, args));
  };

  // Timelock first: it is the treasury and must exist before the token mints to it.
  const timelock = await deploy(AgoraTimelock, [cfg.timelockDelay, [], [], deployer.address]);

  const recipients: Address[] = [];
  const amounts: bigint[] = [];
  if (devnet) {
    const per = opts.devnetMintPerAccount ?? parseEther('1000000');
    for (let i = 0; i < DEVNET_ACCOUNT_COUNT; i++) {
      recipients.push(devnetAccount(i).address);
      amounts.push(per);
    }
  } else {
    recipients.push(deployer.address);
    amounts.push(opts.supply ?? parseEther('1000000000'));
  }
  const treasuryMint = opts.treasuryMint ?? (devnet ? parseEther('10000000') : 0n);
  if (treasuryMint > 0n) {
    recipients.push(timelock);
    amounts.push(treasuryMint);
  }
  const token = await deploy(AgoraToken, [recipients, amounts]);
  const governor = await deploy(AgoraGovernor, [
    token,
    timelock,
    cfg.votingDelay,
    cfg.votingPeriod,
    cfg.proposalThreshold,
    cfg.quorumPercent,
  ]);
  const params = await deploy(ProtocolParams, [
    timelock,
    {
      minStake: cfg.minStake,
      slashBps: cfg.slashBps,
      protocolFeeBps: cfg.protocolFeeBps,
      minChallengePeriod: cfg.minChallengePeriod,
      maxChallengePeriod: cfg.maxChallengePeriod,
      treasury: timelock,
    },
    cfg.validators,
    cfg.sectors,
  ]);
  const registry = await deploy(DataRegistry, [params]);
  const market = await deploy(ComputeMarket, [token, params, registry]);
  const ledger = await deploy(TrainingLedger, [token, params, market]);
  progress('binding TrainingLedger into ComputeMarket…');
  await send(conn, wallet, 'ComputeMarket.bindLedger', {
    address: market,
    abi: ComputeMarket.abi,
    functionName: 'bindLedger',
    args: [ledger],
  });

  const contracts: Deployment['contracts'] = {
    AgoraToken: token,
    TimelockController: timelock,
    AgoraGovernor: governor,
    ProtocolParams: params,
    DataRegistry: registry,
    ComputeMarket: market,
    TrainingLedger: ledger,
  };

  // PaymentChannels: deployed here
  // Challenge-period bounds are read live from ProtocolParams; the default period is clamped into them.
  const channelsDefault = BigInt(DEFAULT_CHALLENGE_BOUNDS.default);
  contracts.PaymentChannels = await deploy(PaymentChannels, [params, 0n, 0n, channelsDefault]);
  // ModelRevenue: sellers of a model's predictions pay its makers (docs/serving.md).
  contracts.ModelRevenue = await deploy(ModelRevenue, [token]);

  progress('handing the timelock to the governor…');
  const role = async (name: 'PROPOSER_ROLE' | 'CANCELLER_ROLE' | 'EXECUTOR_ROLE' | 'DEFAULT_ADMIN_ROLE') =>
    (await conn.publicClient.readContract({
      address: timelock,
      abi: AgoraTimelock.abi,
      functionName: name,
    })) as Hex;
  for (const name of ['PROPOSER_ROLE', 'CANCELLER_ROLE', 'EXECUTOR_ROLE'] as const) {
    await send(conn, wallet, `timelock.grantRole(${name})`, {
      address: timelock,
      abi: AgoraTimelock.abi,
      functionName: 'grantRole',
      args: [await role(name), governor],
    });
  }
  await send(conn, wallet, 'timelock.renounceRole(DEFAULT_ADMIN_ROLE)', {
    address: timelock,
    abi: AgoraTimelock.abi,
    functionName: 'renounceRole',
    args: [await role('DEFAULT_ADMIN_ROLE'), deployer.address],
  });

  if (devnet && (opts.devnetDelegate ?? true)) {
    progress('delegating devnet votes…');
    // who votes on the devnet: src/gov/devnet-power.ts (the deployer keeps no votes)
    await Promise.all(
      devnetDelegations(DEVNET_ACCOUNT_COUNT).map(async ({ account: i, delegate }) => {
        const acct = devnetAccount(i);
        const w = walletClientFor(conn, acct);
        const hash = await w.writeContract({
          address: token,
          abi: AgoraToken.abi,
          functionName: 'delegate',
          args: [devnetAccount(delegate).address],
        });
        const r = await conn.publicClient.waitForTransactionReceipt({ hash });
        if (r.status !== 'success') throw new AgoraError('DEPLOY_FAILED', `devnet delegate ${i} failed`);
      }),
    );
  }

  const blockNumber = Number(await conn.publicClient.getBlockNumber());
  return {
    chainId: conn.chainId,
    deployer: deployer.address,
    deployedAt: new Date().toISOString(),
    blockNumber,
    contracts,
  };
}
