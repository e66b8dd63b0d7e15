/**
 * The LDA head of a job's last round, as providers compute it and validators check it (pure;
 * docs/drift-correction.md, "The LDA head in the node"). After the last round's outer step every
 * provider holds the same θ*. Over the samples of its own last round (the H·B samples of its signed
 * trace, which validators can fetch with their Merkle proofs) it computes its class statistics under
 * θ*'s body, and the group all-reduces them (fp32, mean); then its within-class scatter around the
 * reduced class means, prefixed with its sample count, all-reduced the same way. The solved head
 * (`ldaHeadFromReduced`) replaces θ*'s last layer, and that model is the round's commit.
 *
 * What the provider signs (`ldaStatsDigest`) is the hash of one payload: its two all-reduce inputs and
 * the two results it used. A validator recomputes both inputs bit-exactly from the samples and the
 * committed model (features and sums are plain float64 JavaScript, the same on every machine), and
 * checks that the committed head is the one the two results give. So a provider cannot poison the
 * head with statistics of samples it did not train on, nor claim results other than the committed
 * ones, without signing the proof against itself.
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
import {
  ldaClassMeans,
  ldaClassStats,
  ldaClassStatsLength,
  ldaHead,
  ldaScatter,
  mlpFeatures,
  packedLength,
} from '../train/diloco/drift/lda-head.ts';
import { sameBits } from './link-check.ts';

/** Feature width d (the head's inputs) and classes C of an MLP. */
export type LdaShape = { features: number; classes: number };

export function ldaShapeOf(sizes: readonly number[]): LdaShape {
  if (sizes.length < 3)
    throw new AgoraError('DRIFT_BAD_CONFIG', 'An LDA head needs an MLP with a hidden layer.');
  return { features: sizes[sizes.length - 2], classes: sizes[sizes.length - 1] };
}

/** Length of the scatter all-reduce vector: [n | packed upper triangle of the d×d scatter]. */
export function ldaScatterVectorLength(d: number): number {
  return 1 + packedLength(d);
}

/** A provider's first all-reduce input: features of its samples under θ and their class statistics. */
export function ldaFirstVector(
  theta: Float32Array,
  sizes: readonly number[],
  inputs: Float32Array,
  labels: ArrayLike<number>,
): { features: Float32Array; classStats: Float32Array } {
  const { features: d, classes } = ldaShapeOf(sizes);
  const features = mlpFeatures(theta, sizes, inputs);
  return { features, classStats: ldaClassStats(features, labels, d, classes) };
}

/** A provider's second all-reduce input: [n | its within-class scatter around the reduced class means]. */
export function ldaSecondVector(
  features: Float32Array,
  labels: ArrayLike<number>,
  reducedClassStats: Float32Array,
  shape: LdaShape,
): Float32Array {
  const { features: d, classes } = shape;
  const means = ldaClassMeans(reducedClassStats, d, classes);
  const out = new Float32Array(ldaScatterVectorLength(d));
  out[0] = labels.length;
  out.set(ldaScatter(features, labels, means, d), 1);
  return out;
}

/**
 * The head the two all-reduce results give ({ weight [d, C], bias [C] }), or undefined when they
 * give none (no samples, or a covariance that is not positive definite): θ* then keeps its head.
 */
export function ldaHeadFromReduced(
  reducedClassStats: Float32Array,
  reducedScatter: Float32Array,
  shape: LdaShape,
): { weight: Float32Array; bias: Float32Array } | undefined {
  const { features: d, classes } = shape;
  if (
    reducedClassStats.length !== ldaClassStatsLength(d, classes) ||
    reducedScatter.length !== ldaScatterVectorLength(d)
  ) {
    throw new AgoraError('DRIFT_BAD_CONFIG', 'LDA all-reduce results of the wrong length.');
  }
  try {
    return ldaHead(reducedClassStats, reducedScatter.subarray(1), d, classes, undefined, reducedScatter[0]);
  } catch (e) {
    if (e instanceof AgoraError && (e.code === 'DRIFT_INTERNAL' || e.code === 'DRIFT_BAD_CONFIG'))
      return undefined;
    throw e;
  }
}

/** Writes `head` into θ's last layer (weight [d, C] then bias [C], the MLP layout) in place. */
export function setHead(theta: Float32Array, head: { weight: Float32Array; bias: Float32Array }): void {
  const from = theta.length - head.weight.length - head.bias.length;
  theta.set(head.weight, from);
  theta.set(head.bias, from + head.weight.length);
}

/** What a provider signs and serves: its two all-reduce inputs and the two results it used. */
export type LdaStats = {
  classStats: Float32Array;
  scatter: Float32Array;
  reducedClassStats: Float32Array;
  reducedScatter: Float32Array;
};

/** f32 little-endian: classStats ‖ scatter ‖ reducedClassStats ‖ reducedScatter. */
export function encodeLdaStats(s: LdaStats): Uint8Array {
  const n = s.classStats.length + s.scatter.length + s.reducedClassStats.length + s.reducedScatter.length;
  const out = new Float32Array(n);
  let o = 0;
  for (const v of [s.classStats, s.scatter, s.reducedClassStats, s.reducedScatter]) {
    out.set(v, o);
    o += v.length;
  }
  return new Uint8Array(out.buffer);
}

export function decodeLdaStats(bytes: Uint8Array, shape: LdaShape): LdaStats {
  const a = ldaClassStatsLength(shape.features, shape.classes);
  const b = ldaScatterVectorLength(shape.features);
  if (bytes.byteLength !== 4 * 2 * (a + b)) {
    throw new AgoraError(
      'LDA_BAD_STATS',
      `LDA statistics of ${bytes.byteLength} bytes; a ${shape.features}-feature, ${shape.classes}-class head takes ${4 * 2 * (a + b)}`,
    );
  }
  // a copy (a Node Buffer's slice() is a view into a larger pool)
  const f = new Float32Array(Uint8Array.from(bytes).buffer);
  return {
    classStats: f.subarray(0, a),
    scatter: f.subarray(a, a + b),
    reducedClassStats: f.subarray(a + b, 2 * a + b),
    reducedScatter: f.subarray(2 * a + b),
  };
}

/** What a provider signs (EIP-191, raw): keccak256(abi.encode(tag, jobId, round, worker, keccak256(payload))). */
export function ldaStatsDigest(jobId: bigint, round: number, worker: Address, payloadHash: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'uint256' },
        { type: 'address' },
        { type: 'bytes32' },
      ],
      [keccak256(stringToHex('agora-lda-stats-v1')), jobId, BigInt(round), getAddress(worker), payloadHash],
    ),
  );
}

export async function signLdaStats(
  account: LocalAccount,
  jobId: bigint,
  round: number,
  payloadHash: Hex,
): Promise<Hex> {
  return account.signMessage({
    message: { raw: ldaStatsDigest(jobId, round, account.address, payloadHash) },
  });
}

export async function ldaStatsSigner(
  jobId: bigint,
  round: number,
  worker: Address,
  payloadHash: Hex,
  signature: Hex,
): Promise<Address> {
  return getAddress(
    await recoverMessageAddress({
      message: { raw: ldaStatsDigest(jobId, round, worker, payloadHash) },
      signature,
    }),
  );
}

/** True when `committed`'s head is the one `stats`' reduced statistics give (bit-exact). */
export function isCommittedLdaHead(
  committed: Float32Array,
  sizes: readonly number[],
  stats: LdaStats,
): boolean {
  const head = ldaHeadFromReduced(stats.reducedClassStats, stats.reducedScatter, ldaShapeOf(sizes));
  if (!head) return false;
  const expected = committed.slice();
  setHead(expected, head);
  return sameBits(expected, committed);
}

/**
 * What is wrong with a provider's signed LDA statistics (empty: nothing), given the committed model of
 * the last round and the samples of its trace (inputs and labels, in step order). All bit-exact:
 *   - its class statistics are not those of its samples under the committed body;
 *   - its scatter is not its samples' scatter around the class means of its reduced statistics;
 *   - the committed head is not the head its reduced statistics give; or they give none while the
 *     committed head is an LDA head (`ldaCommitted`: the reduced statistics another worker of the
 *     round signed give it). All-reduce results are the same on every member, so a worker whose
 *     claimed results give no head, or another one, did not use the results the round committed.
 */
export function ldaStatsProblems(i: {
  committed: Float32Array;
  sizes: readonly number[];
  inputs: Float32Array;
  labels: ArrayLike<number>;
  stats: LdaStats;
  ldaCommitted: boolean;
}): string[] {
  const shape = ldaShapeOf(i.sizes);
  const problems: string[] = [];
  const first = ldaFirstVector(i.committed, i.sizes, i.inputs, i.labels);
  if (!sameBits(first.classStats, i.stats.classStats)) {
    problems.push("the class statistics are not those of the trace's samples under the committed model");
  }
  const second = ldaSecondVector(first.features, i.labels, i.stats.reducedClassStats, shape);
  if (!sameBits(second, i.stats.scatter)) {
    problems.push("the scatter is not that of the trace's samples around the reduced class means");
  }
  const head = ldaHeadFromReduced(i.stats.reducedClassStats, i.stats.reducedScatter, shape);
  if (head ? !isCommittedLdaHead(i.committed, i.sizes, i.stats) : i.ldaCommitted) {
    problems.push('the committed head is not the one the claimed all-reduce results give');
  }
  return problems;
}
