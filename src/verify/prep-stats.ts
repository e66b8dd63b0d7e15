/**
 * A provider's swarm statistics before round 0 (tabular standardization: per-column counts, sums
 * and squares), as providers commit to them and validators check them (pure; docs/validation-and-
 * rewards.md, "Swarm statistics").
 *
 * The provider's records (its registered dataset, indices 0..N−1) are cut into C contiguous chunks
 * (`prepChunks`). Its statistics are float64 sums per chunk (`partials`, each summed in record
 * order), and its all-reduce input is `local = f32(Σ_c partials[c])` (summed in chunk order, then
 * rounded once). It signs (EIP-191) the hash of one payload: the C partials, `local`, and the
 * all-reduce result `reduced` it used. Every provider's preprocessing state is
 * `fromReduced(reduced)`, which the committed model of round 0 carries (`info.prep`).
 *
 * A validator checks, all bit-exact (plain float64 JavaScript, the same on every machine):
 *   - `local` is the chunk-order sum of the partials;
 *   - for the chunks it samples (chosen locally at random, after the provider signed), the partial
 *     is the statistics of the chunk's records, fetched with their Merkle proofs against the
 *     dataset root registered on chain;
 *   - the committed preprocessing state is the one `reduced` gives.
 * A provider that lies about its statistics must misstate at least one chunk's partial (or the sum,
 * or the result): a sampled lying chunk, a wrong sum or a wrong result is a signed contradiction,
 * `commitment-mismatch` evidence. Checking s of C chunks fetches about s/C of the provider's
 * records and catches a single lying chunk with probability s/C per validator (the trade-off in the
 * docs); `sampleChunks(C, C)` is the full recomputation.
 */
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  keccak256,
  type LocalAccount,
  recoverMessageAddress,
  stringToHex,
} from 'viem';
import { AgoraError } from '../errors.ts';
import { canonicalJson } from '../task/spec.ts';
import type { PrepState } from '../task/task.ts';
import { sameBits } from './link-check.ts';

/** Records per chunk at most (a chunk is fetched as one window-samples frame). */
export const PREP_CHUNK_MAX_RECORDS = 65_536;
/** Chunks of a dataset: 16, or more when a chunk would exceed `PREP_CHUNK_MAX_RECORDS`. */
export const PREP_CHUNKS = 16;
/** Chunks a validator checks per provider by default (≈ 1/8 of its records). */
export const PREP_CHUNKS_CHECKED = 2;

/** The chunks of a dataset of `records` records: contiguous [from, to) ranges, in order. */
export function prepChunks(records: number): { from: number; to: number }[] {
  if (!Number.isInteger(records) || records < 0)
    throw new AgoraError('PREP_BAD_STATS', `a dataset of ${records} records`);
  const C = Math.min(
    Math.max(PREP_CHUNKS, Math.ceil(records / PREP_CHUNK_MAX_RECORDS)),
    Math.max(1, records),
  );
  return Array.from({ length: C }, (_, c) => ({
    from: Math.floor((c * records) / C),
    to: Math.floor(((c + 1) * records) / C),
  }));
}

/** The all-reduce input from the chunk partials: their float64 sum in chunk order, rounded once to f32. */
export function localFromPartials(partials: readonly Float64Array[], length: number): Float32Array {
  const acc = new Float64Array(length);
  for (const p of partials) {
    if (p.length !== length) throw new AgoraError('PREP_BAD_STATS', 'chunk statistics of different lengths');
    for (let i = 0; i < length; i++) acc[i] += p[i];
  }
  return Float32Array.from(acc);
}

/** What a provider signs and serves. */
export type PrepStats = {
  /** One float64 statistics vector per chunk (`prepChunks` of its dataset), length L each. */
  partials: Float64Array[];
  /** Its all-reduce input (f32, L). */
  local: Float32Array;
  /** The all-reduce result it used (f32, L). */
  reduced: Float32Array;
};

const MAGIC = 0x53505741; // "AWPS" little-endian
const VERSION = 1;
/** Largest statistics vector accepted (values). */
const MAX_LENGTH = 1 << 16;

/** "AWPS" ‖ u32 version ‖ u32 C ‖ u32 L ‖ C·L f64 partials ‖ L f32 local ‖ L f32 reduced (little-endian). */
export function encodePrepStats(s: PrepStats): Uint8Array {
  const C = s.partials.length;
  const L = s.local.length;
  if (s.reduced.length !== L || s.partials.some((p) => p.length !== L))
    throw new AgoraError('PREP_BAD_STATS', 'statistics vectors of different lengths');
  const out = new Uint8Array(16 + 8 * C * L + 8 * L);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, VERSION, true);
  dv.setUint32(8, C, true);
  dv.setUint32(12, L, true);
  let o = 16;
  for (const p of s.partials) {
    for (const x of p) {
      dv.setFloat64(o, x, true);
      o += 8;
    }
  }
  for (const v of [s.local, s.reduced]) {
    for (const x of v) {
      dv.setFloat32(o, x, true);
      o += 4;
    }
  }
  return out;
}

export function decodePrepStats(bytes: Uint8Array): PrepStats {
  const bad = (why: string) =>
    new AgoraError('PREP_BAD_STATS', `malformed swarm statistics: ${why}`, {
      hint: 'the provider serves corrupt statistics',
    });
  if (bytes.byteLength < 16) throw bad('truncated header');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw bad('wrong magic');
  if (dv.getUint32(4, true) !== VERSION) throw bad('unknown version');
  const C = dv.getUint32(8, true);
  const L = dv.getUint32(12, true);
  if (C < 1 || C > MAX_LENGTH || L > MAX_LENGTH) throw bad(`${C} chunks of ${L} values`);
  if (bytes.byteLength !== 16 + 8 * C * L + 8 * L) throw bad(`${bytes.byteLength} bytes for ${C} × ${L}`);
  let o = 16;
  const partials = Array.from({ length: C }, () => {
    const p = new Float64Array(L);
    for (let k = 0; k < L; k++) {
      p[k] = dv.getFloat64(o, true);
      o += 8;
    }
    return p;
  });
  const f32 = () => {
    const v = new Float32Array(L);
    for (let k = 0; k < L; k++) {
      v[k] = dv.getFloat32(o, true);
      o += 4;
    }
    return v;
  };
  const local = f32();
  return { partials, local, reduced: f32() };
}

/** What a provider signs (EIP-191, raw): keccak256(abi.encode(tag, jobId, worker, keccak256(payload))). */
export function prepStatsDigest(jobId: bigint, worker: Address, payloadHash: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }],
      [keccak256(stringToHex('agora-prep-stats-v1')), jobId, getAddress(worker), payloadHash],
    ),
  );
}

export function signPrepStats(account: LocalAccount, jobId: bigint, payloadHash: Hex): Promise<Hex> {
  return account.signMessage({ message: { raw: prepStatsDigest(jobId, account.address, payloadHash) } });
}

export async function prepStatsSigner(
  jobId: bigint,
  worker: Address,
  payloadHash: Hex,
  signature: Hex,
): Promise<Address> {
  return getAddress(
    await recoverMessageAddress({ message: { raw: prepStatsDigest(jobId, worker, payloadHash) }, signature }),
  );
}

/** `count` distinct chunk indices of `chunks`, from `random` (a validator's own randomness in [0, 1)). */
export function sampleChunks(chunks: number, count: number, random: () => number = Math.random): number[] {
  const all = Array.from({ length: chunks }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, Math.min(count, chunks)).sort((a, b) => a - b);
}

function sameF64(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * What is wrong with a provider's signed statistics (empty: nothing), given the statistics the
 * validator recomputed from the records of the chunks it sampled, the number of records of the
 * provider's registered dataset, the statistics length of the job, the committed preprocessing
 * state of round 0 and the task's `fromReduced`.
 */
export function prepStatsProblems(i: {
  stats: PrepStats;
  records: number;
  length: number;
  recomputed: ReadonlyMap<number, Float64Array>;
  committedPrep: PrepState | undefined;
  fromReduced: (reduced: Float32Array) => PrepState;
}): string[] {
  const { stats } = i;
  const problems: string[] = [];
  const C = prepChunks(i.records).length;
  if (stats.partials.length !== C || stats.local.length !== i.length) {
    return [`statistics of ${stats.partials.length} chunks × ${stats.local.length}, not ${C} × ${i.length}`];
  }
  if (!sameBits(localFromPartials(stats.partials, i.length), stats.local))
    problems.push('the all-reduce input is not the sum of the chunk statistics');
  for (const [c, v] of i.recomputed) {
    if (!sameF64(v, stats.partials[c])) problems.push(`chunk ${c}'s statistics are not those of its records`);
  }
  const claimed = canonicalJson(i.fromReduced(stats.reduced));
  if (!i.committedPrep || canonicalJson(i.committedPrep) !== claimed)
    problems.push('the committed preprocessing is not the one the claimed all-reduce result gives');
  return problems;
}
