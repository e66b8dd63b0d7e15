/**
 * Sharing one deployment among many homes: `agora chain import-deployment FILE|URL` reads a
 * deployment file another home wrote (`<home>/deployments/<chainId>.json`, or the same document
 * served over HTTP), checks it against the connected chain (same chain id, finished, code at every
 * contract) and records it in this home, so every node of a swarm uses the same protocol instead of
 * each deploying its own.
 */
import { readFileSync } from 'node:fs';
import { getAddress } from 'viem';
import { AgoraError } from '../errors.ts';
import type { ChainConnection } from './connect.ts';
import { type Deployment, parseDeployment, readDeployment, writeDeployment } from './deployments.ts';

/** Reads a deployment document from a file path or an http(s) URL. */
export async function loadDeploymentSource(source: string, timeoutMs = 15_000): Promise<Deployment> {
  if (/^https?:\/\//i.test(source)) {
    let body: string;
    try {
      const r = await fetch(source, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      body = await r.text();
    } catch (e) {
      throw new AgoraError(
        'DEPLOYMENT_FETCH',
        `cannot fetch a deployment from ${source}: ${(e as Error).message}`,
        {
          hint: 'check the URL, or copy the file and pass its path',
          cause: e,
        },
      );
    }
    return parseDeployment(body, source);
  }
  let text: string;
  try {
    text = readFileSync(source, 'utf8');
  } catch (e) {
    throw new AgoraError('DEPLOYMENT_FILE', `cannot read ${source}: ${(e as Error).message}`, {
      hint: 'pass the deployments/<chainId>.json file of the home that deployed the protocol, or its URL',
      cause: e,
    });
  }
  return parseDeployment(text, source);
}

export type ImportResult = { deployment: Deployment; path: string; replaced: boolean };

/**
 * Checks `d` against the connected chain and records it in `home`. A different deployment already
 * recorded there is kept unless `force` (it may be the one this home's nodes use).
 */
export async function importDeployment(
  conn: ChainConnection,
  home: string,
  d: Deployment,
  opts: { force?: boolean } = {},
): Promise<ImportResult> {
  if (d.chainId !== conn.chainId) {
    throw new AgoraError(
      'DEPLOYMENT_WRONG_CHAIN',
      `the deployment is for chain ${d.chainId}, but ${conn.endpoint} is chain ${conn.chainId}`,
      { hint: 'pass --rpc of a node of the chain the deployment is for' },
    );
  }
  if (d.complete === false) {
    throw new AgoraError(
      'DEPLOYMENT_UNFINISHED',
      `the deployment to import is unfinished (${d.steps?.length ?? 0} steps)`,
      {
        hint: 'finish it first: `agora chain deploy` in the home that started it',
      },
    );
  }
  for (const [name, address] of Object.entries(d.contracts)) {
    const code = await conn.publicClient.getCode({ address });
    if (!code || code === '0x') {
      throw new AgoraError(
        'DEPLOYMENT_STALE',
        `the deployment records ${name} at ${address}, but chain ${conn.chainId} at ${conn.endpoint} has no code there`,
        { hint: 'the file is for another node of this chain id, or the chain was reset since' },
      );
    }
  }
  const existing = readDeployment(home, conn.chainId);
  const same =
    existing?.contracts.AgoraToken !== undefined &&
    d.contracts.AgoraToken !== undefined &&
    getAddress(existing.contracts.AgoraToken) === getAddress(d.contracts.AgoraToken);
  if (existing && existing.complete !== false && !same && !opts.force) {
    const code = existing.contracts.AgoraToken
      ? await conn.publicClient.getCode({ address: existing.contracts.AgoraToken })
      : undefined;
    if (code && code !== '0x') {
      throw new AgoraError(
        'DEPLOYMENT_EXISTS',
        `this home already records another deployment on chain ${conn.chainId} (AgoraToken ${existing.contracts.AgoraToken})`,
        { hint: 'pass --force to replace it (nodes of this home then use the imported protocol)' },
      );
    }
  }
  const path = writeDeployment(home, d);
  return { deployment: d, path, replaced: existing !== undefined && !same };
}
