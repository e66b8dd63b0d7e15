/**
 * Where a chain's protocol contracts live: `<home>/deployments/<chainId>.json`, written by
 * `agora chain deploy` and read by every command that touches the chain.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, isAddress } from 'viem';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';
import { homePaths } from '../home.ts';

export const PROTOCOL_CONTRACTS = [
  'AgoraToken',
  'TimelockController',
  'AgoraGovernor',
  'ProtocolParams',
  'DataRegistry',
  'ComputeMarket',
  'TrainingLedger',
  'PaymentChannels',
  'ModelRevenue',
] as const;
export type ProtocolContractName = (typeof PROTOCOL_CONTRACTS)[number];

const addressSchema = z
  .string()
  .refine((s) => isAddress(s), 'not an address') as unknown as z.ZodType<Address>;

export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  deployer: addressSchema,
  deployedAt: z.string(),
  blockNumber: z.number().int().nonnegative(),
  contracts: z.record(z.string(), addressSchema),
  complete: z.boolean().optional(),
  steps: z.array(z.string()).optional(),
});
export type Deployment = {
  chainId: number;
  deployer: Address;
  deployedAt: string;
  /** The chain's head when the deployment started: every protocol event is in a later block (read logs from here). */
  blockNumber: number;
  contracts: Partial<Record<ProtocolContractName, Address>> & Record<string, Address>;
  /** False while `agora chain deploy` is under way or was interrupted (a rerun continues it). */
  complete?: boolean;
  /** The deployment steps that landed (contracts deployed, roles granted, votes delegated). */
  steps?: string[];
};

export function deploymentPath(home: string, chainId: number): string {
  return join(homePaths(home).deployments, `${chainId}.json`);
}

/** Parses a deployment document (a file's text or a fetched body); `where` names it in errors. */
export function parseDeployment(text: string, where: string): Deployment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new AgoraError('DEPLOYMENT_CORRUPT', `${where} is not valid JSON`, {
      hint: 'pass the deployments/<chainId>.json file `agora chain deploy` wrote',
      cause: e,
    });
  }
  const r = deploymentSchema.safeParse(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AgoraError(
      'DEPLOYMENT_CORRUPT',
      `${where} is not a deployment: ${issue?.path.join('.') || 'document'}: ${issue?.message}`,
      { hint: 'pass the deployments/<chainId>.json file `agora chain deploy` wrote' },
    );
  }
  return r.data as Deployment;
}

/** Writes atomically (temp file + rename), so a crash never leaves a half-written deployment. */
export function writeDeployment(home: string, d: Deployment): string {
  const path = deploymentPath(home, d.chainId);
  mkdirSync(homePaths(home).deployments, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(d, null, 2)}\n`);
  renameSync(tmp, path);
  return path;
}

/** Reads the deployment for `chainId`, or undefined when there is none. Throws on a corrupt file. */
export function readDeployment(home: string, chainId: number): Deployment | undefined {
  const path = deploymentPath(home, chainId);
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new AgoraError('DEPLOYMENT_CORRUPT', `${path} is not valid JSON`, {
      hint: 'redeploy with `agora chain deploy`, or restore the file',
      cause: e,
    });
  }
  const r = deploymentSchema.safeParse(parsed);
  if (!r.success) {
    throw new AgoraError('DEPLOYMENT_CORRUPT', `${path} is malformed: ${r.error.issues[0]?.message}`, {
      hint: 'redeploy with `agora chain deploy`',
    });
  }
  return r.data as Deployment;
}

/** The deployment, with the named contracts present; else an error saying which command to run. */
export function requireDeployment(
  home: string,
  chainId: number,
  needed: readonly ProtocolContractName[] = [],
  rpcUrl?: string,
): Deployment {
  const d = readDeployment(home, chainId);
  const rpcFlag = rpcUrl ? ` --rpc ${rpcUrl}` : '';
  if (!d) {
    throw new AgoraError(
      'NOT_DEPLOYED',
      `no Agora contracts are recorded for chain ${chainId} (looked for ${deploymentPath(home, chainId)})`,
      {
        hint: `if the protocol is deployed on this chain already (another home, another machine), import its deployment file: \`agora chain import-deployment FILE|URL${rpcFlag}\`; to deploy it here for the first time: \`agora chain deploy${rpcFlag}\``,
      },
    );
  }
  if (d.complete === false) {
    throw new AgoraError(
      'DEPLOYMENT_UNFINISHED',
      `the deployment on chain ${chainId} was interrupted after ${d.steps?.length ?? 0} steps (${deploymentPath(home, chainId)})`,
      { hint: `run \`agora chain deploy${rpcFlag}\` again: it continues where it stopped` },
    );
  }
  const missing = needed.filter((n) => !d.contracts[n]);
  if (missing.length > 0) {
    throw new AgoraError(
      'NOT_DEPLOYED',
      `the deployment for chain ${chainId} lacks ${missing.join(', ')} (it predates them)`,
      { hint: `redeploy with \`agora chain deploy${rpcFlag}\`` },
    );
  }
  return d;
}

/**
 * Like `requireDeployment`, and also checks that the recorded contracts have code on the connected
 * chain: a devnet restarted since `agora chain deploy` has forgotten them.
 */
export async function loadDeployment(
  publicClient: { getCode(args: { address: Address }): Promise<`0x${string}` | undefined> },
  home: string,
  chainId: number,
  needed: readonly ProtocolContractName[] = [],
  rpcUrl?: string,
): Promise<Deployment> {
  const d = requireDeployment(home, chainId, needed, rpcUrl);
  const probe = (needed[0] ?? 'AgoraToken') as ProtocolContractName;
  const address = d.contracts[probe];
  if (address) {
    const code = await publicClient.getCode({ address });
    if (!code || code === '0x') {
      throw new AgoraError(
        'DEPLOYMENT_STALE',
        `${deploymentPath(home, chainId)} records ${probe} at ${address}, but the chain has no code there (the chain was reset since it was deployed)`,
        { hint: `redeploy with \`agora chain deploy${rpcUrl ? ` --rpc ${rpcUrl}` : ''}\`` },
      );
    }
  }
  return d;
}
