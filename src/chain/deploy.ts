/**
 * Deploys the Agora protocol contracts, wires governance, and returns their addresses.
 *
 * Order: AgoraTimelock (recorded as "TimelockController") → AgoraToken (devnet: minted to every devnet
 * account and to the treasury = the timelock) → AgoraGovernor → ProtocolParams (owner = timelock; initial
 * parameters, validators and sectors set in its constructor, so the deployer never holds parameter
 * control) → DataRegistry → ComputeMarket → TrainingLedger (bound into the market once) → PaymentChannels.
 * Finally the governor receives the timelock's proposer, canceller and executor roles and the deployer
 * renounces the timelock admin role: from then on only passed proposals change protocol parameters.
 *
 * Resumable: every step (a contract deployed, a role granted, a vote delegated) is handed to
 * `onStep` with the deployment so far as soon as it lands (the CLI writes it to
 * `<home>/deployments/<chainId>.json` with `complete: false`), and a run given that record as
 * `resume` skips what is done. Transaction steps also check the chain (role held, ledger bound,
 * votes delegated), so one that landed just before a crash is not sent twice.
 * Any EVM node: the devnet's per-account steps (votes delegated) are done for the devnet accounts
 * the node funded; the others are named with what to run (`anvil --accounts 20`, `agora wallet fund`).
 */
import {
  type Abi,
  type Account,
  type Address,
  encodeDeployData,
  getAddress,
  type Hex,
  parseEther,
} from 'viem';
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
import type { Artifact } from './deploy-contract.ts';
import type { Deployment } from './deployments.ts';
import { DEVNET_ACCOUNT_COUNT, DEVNET_CHAIN_ID, devnetAccount } from './devnet.ts';
import { sendTransaction, sendTx } from './tx.ts';

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
  /** An unfinished deployment of this chain (`complete: false`) to continue instead of starting over. */
  resume?: Deployment;
  /** Called with the deployment so far after every step that landed (persist it here). */
  onStep?: (partial: Deployment) => void;
  /** Warnings that need the user (e.g. devnet accounts the node did not fund). */
  onWarning?: (message: string) => void;
};

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
  const resume =
    opts.resume && opts.resume.complete === false && opts.resume.chainId === conn.chainId
      ? opts.resume
      : undefined;
  const d: Deployment = {
    chainId: conn.chainId,
    deployer: resume?.deployer ?? deployer.address,
    deployedAt: resume?.deployedAt ?? new Date().toISOString(),
    blockNumber: resume?.blockNumber ?? Number(await conn.publicClient.getBlockNumber()),
    contracts: { ...(resume?.contracts ?? {}) },
    complete: false,
    steps: [...(resume?.steps ?? [])],
  };
  if (resume && getAddress(resume.deployer) !== getAddress(deployer.address)) {
    throw new AgoraError(
      'DEPLOY_RESUME_DEPLOYER',
      `the unfinished deployment on chain ${conn.chainId} was started by ${resume.deployer}, not ${deployer.address}`,
      {
        hint: `continue it with the same account, or start a separate deployment with \`agora chain deploy --fresh\``,
      },
    );
  }
  if (resume)
    progress(`continuing the deployment started ${resume.deployedAt} (${d.steps?.length ?? 0} steps done)`);
  const done = (step: string) => d.steps?.includes(step) ?? false;
  const landed = (step: string) => {
    if (!done(step)) d.steps?.push(step);
    opts.onStep?.({ ...d, contracts: { ...d.contracts }, steps: [...(d.steps ?? [])] });
  };
  const deploy = async (artifact: Artifact, args: readonly unknown[], name = artifact.contractName) => {
    const step = `deploy:${name}`;
    const have = d.contracts[name];
    if (done(step) && have) {
      const code = await conn.publicClient.getCode({ address: have });
      if (code && code !== '0x') return getAddress(have);
    }
    progress(`deploying ${artifact.contractName}…`);
    const receipt = await sendTransaction(conn, wallet, {
      label: `deploying ${artifact.contractName}`,
      data: encodeDeployData({
        abi: artifact.abi,
        bytecode: artifact.bytecode,
        args,
      } as unknown as Parameters<typeof encodeDeployData>[0]),
      abi: artifact.abi as Abi,
    });
    if (!receipt.contractAddress) {
      throw new AgoraError(
        'DEPLOY_FAILED',
        `deploying ${artifact.contractName} created no contract (tx ${receipt.transactionHash})`,
      );
    }
    d.contracts[name] = getAddress(receipt.contractAddress);
    landed(step);
    return d.contracts[name];
  };
  /**
   * A transaction step: skipped when recorded, or — in a continued deployment, where it may have
   * landed just before the interruption — when `already` finds it done on chain.
   */
  const step = async (name: string, already: () => Promise<boolean>, send: () => Promise<unknown>) => {
    if (done(name)) return;
    if (!resume || !(await already())) await send();
    landed(name);
  };

  // Timelock first: it is the treasury and must exist before the token mints to it.
  const timelock = await deploy(
    AgoraTimelock,
    [cfg.timelockDelay, [], [], deployer.address],
    'TimelockController',
  );

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
  await step(
    'bindLedger',
    async () =>
      getAddress(
        (await conn.publicClient.readContract({
          address: market,
          abi: ComputeMarket.abi,
          functionName: 'ledger',
        })) as Address,
      ) === ledger,
    async () => {
      progress('binding TrainingLedger into ComputeMarket…');
      await sendTx(conn, wallet, {
        label: 'ComputeMarket.bindLedger',
        address: market,
        abi: ComputeMarket.abi,
        functionName: 'bindLedger',
        args: [ledger],
      });
    },
  );

  // PaymentChannels: deployed here
  // Challenge-period bounds are read live from ProtocolParams; the default period is clamped into them.
  const channelsDefault = BigInt(DEFAULT_CHALLENGE_BOUNDS.default);
  await deploy(PaymentChannels, [params, 0n, 0n, channelsDefault]);
  // ModelRevenue: sellers of a model's predictions pay its makers (docs/serving.md).
  await deploy(ModelRevenue, [token]);

  const role = async (name: 'PROPOSER_ROLE' | 'CANCELLER_ROLE' | 'EXECUTOR_ROLE' | 'DEFAULT_ADMIN_ROLE') =>
    (await conn.publicClient.readContract({
      address: timelock,
      abi: AgoraTimelock.abi,
      functionName: name,
    })) as Hex;
  const hasRole = async (r: Hex, who: Address) =>
    (await conn.publicClient.readContract({
      address: timelock,
      abi: AgoraTimelock.abi,
      functionName: 'hasRole',
      args: [r, who],
    })) as boolean;
  const timelockTx = (label: string, functionName: string, args: readonly unknown[]) =>
    sendTx(conn, wallet, { label, address: timelock, abi: AgoraTimelock.abi, functionName, args });
  if (!done('renounceAdmin')) progress('handing the timelock to the governor…');
  for (const name of ['PROPOSER_ROLE', 'CANCELLER_ROLE', 'EXECUTOR_ROLE'] as const) {
    await step(
      `grant:${name}`,
      async () => hasRole(await role(name), governor),
      async () => timelockTx(`timelock.grantRole(${name})`, 'grantRole', [await role(name), governor]),
    );
  }
  await step(
    'renounceAdmin',
    async () => !(await hasRole(await role('DEFAULT_ADMIN_ROLE'), deployer.address)),
    async () =>
      timelockTx('timelock.renounceRole(DEFAULT_ADMIN_ROLE)', 'renounceRole', [
        await role('DEFAULT_ADMIN_ROLE'),
        deployer.address,
      ]),
  );

  if (devnet && (opts.devnetDelegate ?? true)) {
    // who votes on the devnet: src/gov/devnet-power.ts (the deployer keeps no votes); only the devnet
    // accounts this node funded can send their delegation (anvil funds 10 by default)
    const accounts = Array.from({ length: DEVNET_ACCOUNT_COUNT }, (_, i) => devnetAccount(i));
    const funded = await Promise.all(
      accounts.map(async (a) => (await conn.publicClient.getBalance({ address: a.address })) > 0n),
    );
    const unfunded = accounts.flatMap((_, i) => (funded[i] ? [] : [i]));
    progress(`delegating devnet votes (${DEVNET_ACCOUNT_COUNT - unfunded.length} funded accounts)…`);
    await Promise.all(
      devnetDelegations(DEVNET_ACCOUNT_COUNT).map(async ({ account: i, delegate }) => {
        if (!funded[i]) return;
        const acct = accounts[i];
        const to = devnetAccount(delegate).address;
        await step(
          `delegate:${i}`,
          async () =>
            getAddress(
              (await conn.publicClient.readContract({
                address: token,
                abi: AgoraToken.abi,
                functionName: 'delegates',
                args: [acct.address],
              })) as Address,
            ) === getAddress(to),
          () =>
            sendTx(conn, walletClientFor(conn, acct), {
              label: `AgoraToken.delegate (devnet account ${i})`,
              address: token,
              abi: AgoraToken.abi,
              functionName: 'delegate',
              args: [to],
            }),
        );
      }),
    );
    if (unfunded.length > 0) {
      const validatorUnfunded = unfunded.includes(DEVNET_VALIDATOR_INDEX);
      opts.onWarning?.(
        `this node funded only ${DEVNET_ACCOUNT_COUNT - unfunded.length} of the ${DEVNET_ACCOUNT_COUNT} devnet accounts: ` +
          `accounts ${unfunded.join(', ')} hold AGORA but no ETH for gas, so their votes are not delegated` +
          (validatorUnfunded
            ? ` and the devnet validator (account ${DEVNET_VALIDATOR_INDEX}) cannot send`
            : '') +
          `. Start the node with all of them funded (\`anvil --accounts ${DEVNET_ACCOUNT_COUNT}\`), ` +
          'or fund them (`agora wallet fund <address>`) and run `agora chain deploy` again to finish.',
      );
    }
  }

  d.complete = true;
  opts.onStep?.({ ...d });
  return d;
}
