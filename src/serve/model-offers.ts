/**
 * What a buyer can choose from: model offers (a model, its seller, price and predict URL) gathered from
 * `ModelSource`s, and the names a person uses for them. Today's source fetches the signed announcements
 * of known `agora serve` endpoints (`<home>/models/endpoints.json`, the list `agora models` keeps);
 * a gossip or on-chain source plugs in beside it by implementing `ModelSource`. Names: a URL, a saved
 * name for a server (`<home>/models/names.json`, `agora models URL --name NAME`), a job id, a model id
 * or hash prefix, a task (`mnist` → `mnist-mlp`), or a contact name of the seller.
 * `matchOffers` is pure; the sources do the I/O.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Address, getAddress } from 'viem';
import { AgoraError } from '../errors.ts';
import { type AnnouncedModel, type SignedAnnouncement, verifyAnnouncement } from './announcement.ts';

/** One model for sale: what the announcement says, where to send the query, and who said so. */
export type ModelOffer = {
  endpoint: string;
  predictUrl: string;
  seller: Address;
  chainId: number;
  paymentChannels: Address | null;
  model: AnnouncedModel;
  /** Which source found it (e.g. `endpoint`, later `gossip`, `chain`). */
  source: string;
};

/** A place offers come from. */
export type ModelSource = {
  readonly name: string;
  /** The offers it knows now; a source that fails reports it through `onError` and returns what it has. */
  offers(onError?: (where: string, e: unknown) => void): Promise<ModelOffer[]>;
};

export function endpointsFile(home: string): string {
  return join(home, 'models', 'endpoints.json');
}

export function namesFile(home: string): string {
  return join(home, 'models', 'names.json');
}

export function normalizeEndpoint(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

function readJson<T>(file: string, fallback: T): T {
  if (!existsSync(file)) return fallback;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new AgoraError('MODELS_FILE_INVALID', `${file} is not valid JSON`, {
      hint: 'fix or remove the file; `agora models URL` writes it again',
      cause: e,
    });
  }
}

function writeJson(file: string, v: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(v, null, 2)}\n`);
  renameSync(tmp, file);
}

/** The endpoints `agora models` remembers. */
export function knownEndpoints(home: string): string[] {
  return readJson<string[]>(endpointsFile(home), []);
}

export function rememberEndpoints(home: string, urls: readonly string[]): string[] {
  const all = [...new Set([...knownEndpoints(home), ...urls.map(normalizeEndpoint)])];
  writeJson(endpointsFile(home), all);
  return all;
}

/** Saved names for servers (and for one model on a server: a predict URL). */
export function modelNames(home: string): Record<string, string> {
  return readJson<Record<string, string>>(namesFile(home), {});
}

/**
 * The server URL saved under `name` (`agora models URL --name NAME`), if any. An own entry only: a
 * name such as `__proto__` or `constructor` is not a saved server (the lookup returned the object's
 * prototype, and the query crashed on it).
 */
export function savedModelUrl(home: string, name: string): string | undefined {
  const names = modelNames(home);
  const n = name.trim().toLowerCase();
  return Object.hasOwn(names, n) && typeof names[n] === 'string' ? names[n] : undefined;
}

const NAME_RE = /^[a-z][a-z0-9._-]{0,63}$/;

export function saveModelName(home: string, name: string, url: string): void {
  const n = name.trim().toLowerCase();
  if (!NAME_RE.test(n)) {
    throw new AgoraError('MODELS_BAD_NAME', `"${name}" cannot name a model server`, {
      hint: 'use lower-case letters, digits, ".", "_" or "-", starting with a letter (e.g. clinic)',
    });
  }
  if (!/^https?:\/\//.test(url)) {
    throw new AgoraError('MODELS_BAD_URL', `${url} is not an http(s) URL`, {
      hint: 'e.g. agora models http://127.0.0.1:8402 --name clinic',
    });
  }
  writeJson(namesFile(home), { ...modelNames(home), [n]: normalizeEndpoint(url) });
}

/** Fetches and checks one server's signed announcement. */
export async function fetchAnnouncement(endpoint: string, timeoutMs = 5_000): Promise<SignedAnnouncement> {
  let res: Response;
  try {
    res = await fetch(`${normalizeEndpoint(endpoint)}/v1/announcement`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new AgoraError('MODELS_UNREACHABLE', `cannot reach ${endpoint}: ${(e as Error).message}`, {
      hint: 'is `agora serve` running there?',
      cause: e,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AgoraError(
      'MODELS_NO_ANNOUNCEMENT',
      `${endpoint} answered ${res.status} for its announcement`,
      {
        hint: 'a free server announces nothing: query its predict URL directly',
      },
    );
  }
  return verifyAnnouncement(await res.json());
}

export function offersOf(a: SignedAnnouncement, source: string, endpoint = a.endpoint): ModelOffer[] {
  const base = normalizeEndpoint(endpoint);
  return a.models.map((m) => ({
    endpoint: base,
    predictUrl: `${base}/v1/models/${encodeURIComponent(m.id)}/predict`,
    seller: getAddress(a.seller),
    chainId: a.chainId,
    paymentChannels: a.paymentChannels ? getAddress(a.paymentChannels) : null,
    model: m,
    source,
  }));
}

/** Offers from the announcements of fixed endpoints (the seller's signature checked). */
export function endpointSource(endpoints: () => readonly string[], timeoutMs = 5_000): ModelSource {
  return {
    name: 'endpoint',
    async offers(onError) {
      const all = await Promise.all(
        endpoints().map(async (url) => {
          try {
            // The endpoint we asked, not the one the announcement names: a server behind a proxy
            // announces its own idea of its URL, and we know how we reached it.
            return offersOf(await fetchAnnouncement(url, timeoutMs), 'endpoint', url);
          } catch (e) {
            onError?.(url, e);
            return [];
          }
        }),
      );
      return all.flat();
    },
  };
}

/** Offers of every source, the same predict URL once. */
export async function gatherOffers(
  sources: readonly ModelSource[],
  onError?: (where: string, e: unknown) => void,
): Promise<ModelOffer[]> {
  const seen = new Set<string>();
  const out: ModelOffer[] = [];
  for (const list of await Promise.all(sources.map((s) => s.offers(onError)))) {
    for (const o of list) {
      if (seen.has(o.predictUrl)) continue;
      seen.add(o.predictUrl);
      out.push(o);
    }
  }
  return out;
}

export function isUrl(s: string): boolean {
  return /^https?:\/\/\S+$/i.test(s.trim());
}

/**
 * The offers a name refers to (pure). `sellers` maps a contact name to its address. A name matches
 * a job id (`7`, `job-7`), a model id, a model hash prefix (`0x…`, 8+ hex digits), a task or its first
 * part (`mnist` → `mnist-mlp`), or a seller's contact name.
 */
export function matchOffers(
  offers: readonly ModelOffer[],
  name: string,
  sellers: Readonly<Record<string, Address>> = {},
): ModelOffer[] {
  const n = name.trim().toLowerCase();
  const job = /^(?:job[-\s#]?)?(\d+)$/.exec(n)?.[1];
  // an own entry only: `constructor` is not a contact (the lookup gave Object, and getAddress threw)
  const seller = Object.hasOwn(sellers, n) ? sellers[n] : undefined;
  return offers.filter((o) => {
    const m = o.model;
    if (job !== undefined) return m.jobId === job || m.id === job;
    if (m.id.toLowerCase() === n) return true;
    if (/^0x[0-9a-f]{8,64}$/.test(n)) return m.modelHash.toLowerCase().startsWith(n);
    const task = m.task.toLowerCase();
    if (task === n || task.split('-')[0] === n) return true;
    return seller !== undefined && getAddress(seller) === o.seller;
  });
}
