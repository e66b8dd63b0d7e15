/**
 * Fraud evidence and the on-chain slashing paths of a validator.
 *
 * Evidence is a JSON document (canonical: keys sorted, no whitespace; bigints as decimal strings):
 *   { version: 1, kind, jobId, round, worker, details, hashes }
 * and its commitment `evidenceHash = keccak256(utf8(canonicalJson))` is what `reportFraud` stores. The
 * validator publishes the document (anyone can recompute the hash); governance reads it during the
 * challenge window to decide on `dismissFraud`.
 *
 * Two paths (docs/protocol-contracts.md "Slashing"):
 * - `reportFraud(jobId, provider, round, evidenceHash)` (approved validators) → after `challengePeriod`,
 *   anyone calls `executeFraudSlash(reportId)`: `executeFraudSlashWhenDue` waits for the deadline.
 * - `proveEquivocation(a, sigA, b, sigB)`: two different round records signed by the same worker for the
 *   same job and round; fully on-chain, no window. `proveEquivocationChecked` verifies locally first.
 */
import {
  type Address,
  getAddress,
  type Hex,
  isAddressEqual,
  keccak256,
  stringToBytes,
  type TransactionReceipt,
  verifyTypedData,
} from 'viem';
import type { ComputeMarketClient } from '../chain/compute-market.ts';
import { ROUND_RECORD_TYPES, type RoundRecord, roundRecordLeaf } from '../chain/round-record.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import type { WorkerVerdict } from './contribution-checks.ts';
import type { ReplayComparison, ReplaySelection, RoundTrace } from './replay.ts';
import { roundTraceHash } from './replay.ts';

export type FraudKind =
  | 'zero'
  | 'replay'
  | 'sign-flip'
  | 'scaled'
  | 'noise'
  | 'duplicate'
  | 'replay-mismatch'
  | 'commitment-mismatch';

export type FraudEvidence = {
  version: 1;
  kind: FraudKind;
  jobId: string;
  round: string;
  worker: Address;
  /** Free-form, JSON-serializable measurements (cosines, norms, distances, tolerances, window). */
  details: Record<string, unknown>;
  /** Named 32-byte hashes the claim rests on (pseudo-gradient, committed/replayed params, records). */
  hashes: Record<string, Hex>;
};

export function buildEvidence(e: {
  kind: FraudKind;
  jobId: bigint;
  round: bigint;
  worker: Address;
  details?: Record<string, unknown>;
  hashes?: Record<string, Hex>;
}): FraudEvidence {
  return {
    version: 1,
    kind: e.kind,
    jobId: e.jobId.toString(),
    round: e.round.toString(),
    worker: getAddress(e.worker),
    details: e.details ?? {},
    hashes: e.hashes ?? {},
  };
}

/** Evidence from a contribution-check verdict (the first flagged kind names the report). */
export function evidenceFromVerdict(
  v: WorkerVerdict,
  ctx: { jobId: bigint; round: bigint; worker: Address; pseudoGradientHash?: Hex; reference?: Hex },
): FraudEvidence {
  if (!v.byzantine) {
    throw new AgoraError(
      'FRAUD_NOT_FLAGGED',
      `worker ${v.worker} was not flagged; there is nothing to report`,
    );
  }
  return buildEvidence({
    kind: v.kinds[0],
    jobId: ctx.jobId,
    round: ctx.round,
    worker: ctx.worker,
    details: { kinds: v.kinds, reasons: v.reasons, norm: v.norm, cosine: v.cosine, normRatio: v.normRatio },
    hashes: {
      delta: v.hash,
      ...(ctx.pseudoGradientHash ? { pseudoGradient: ctx.pseudoGradientHash } : {}),
      ...(ctx.reference ? { reference: ctx.reference } : {}),
    },
  });
}

/** Evidence from a failed replay (`compareReplay(...).ok === false`). */
export function evidenceFromReplay(
  c: ReplayComparison,
  trace: RoundTrace,
  sel: ReplaySelection,
): FraudEvidence {
  if (c.ok) throw new AgoraError('FRAUD_NOT_FLAGGED', 'the replay passed; there is nothing to report');
  const kind: FraudKind = c.startHashOk && c.endHashOk ? 'replay-mismatch' : 'commitment-mismatch';
  return buildEvidence({
    kind,
    jobId: trace.jobId,
    round: trace.round,
    worker: trace.worker,
    details: {
      reasons: c.reasons,
      window: {
        index: sel.windowIndex,
        startStep: sel.startStep,
        steps: sel.steps,
        W: trace.window,
        H: trace.innerSteps,
      },
      samplerStart: trace.samplerStart,
      batchSize: trace.batchSize,
      paramDistance: c.paramDistance,
      momentDistance: c.momentDistance,
      tolerance: c.tolerance,
      startHashOk: c.startHashOk,
      endHashOk: c.endHashOk,
      stepOk: c.stepOk,
    },
    hashes: {
      trace: roundTraceHash(trace),
      startCheckpoint: trace.checkpoints[sel.windowIndex],
      endCheckpoint: trace.checkpoints[sel.windowIndex + 1],
    },
  });
}

function canonical(value: unknown): string {
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(',')}}`;
}

/** Canonical JSON of the evidence (sorted keys; bigints and non-finite numbers as strings). */
export function evidenceJson(e: FraudEvidence): string {
  return canonical(e);
}

export function evidenceHash(e: FraudEvidence): Hex {
  return keccak256(stringToBytes(evidenceJson(e)));
}

export type SubmittedReport = { reportId: bigint; evidenceHash: Hex; receipt: TransactionReceipt };

/** Submits the evidence's hash through `reportFraud` (the signer must be an approved validator). */
export async function submitFraudReport(
  market: ComputeMarketClient,
  validator: Signer,
  evidence: FraudEvidence,
): Promise<SubmittedReport> {
  const hash = evidenceHash(evidence);
  const { reportId, receipt } = await market.reportFraud(
    validator,
    BigInt(evidence.jobId),
    evidence.worker,
    BigInt(evidence.round),
    hash,
  );
  return { reportId, evidenceHash: hash, receipt };
}

/**
 * Executes a pending report's slash once its challenge window has passed. `now` is the chain time
 * (latest block timestamp). Returns `'not-due'` (with the deadline) before that, `'dismissed'` or
 * `'executed'` when governance or someone else already settled it.
 */
export async function executeFraudSlashWhenDue(
  market: ComputeMarketClient,
  signer: Signer,
  reportId: bigint,
  now: bigint,
): Promise<
  | { status: 'slashed'; receipt: TransactionReceipt }
  | { status: 'not-due'; deadline: bigint }
  | { status: 'dismissed' | 'executed' }
> {
  const r = await market.getReport(reportId);
  if (r.state === 'None') {
    throw new AgoraError('FRAUD_UNKNOWN_REPORT', `fraud report ${reportId} does not exist`, {
      hint: 'use the reportId returned by submitFraudReport',
    });
  }
  if (r.state === 'Dismissed') return { status: 'dismissed' };
  if (r.state === 'Executed') return { status: 'executed' };
  if (now <= r.deadline) return { status: 'not-due', deadline: r.deadline };
  return { status: 'slashed', receipt: await market.executeFraudSlash(signer, reportId) };
}

/**
 * True when `sig` is `record.worker`'s EIP-712 signature of `record` under the market's domain; false
 * for any other signature, including a malformed one (r or s out of range, a bad v, wrong length),
 * which viem reports by throwing (found by `npm run fuzz`).
 */
export async function verifyRoundRecordSignature(
  market: Pick<ComputeMarketClient, 'domain'>,
  record: RoundRecord,
  sig: Hex,
): Promise<boolean> {
  try {
    return await verifyTypedData({
      address: record.worker,
      domain: market.domain(),
      types: ROUND_RECORD_TYPES,
      primaryType: 'RoundRecord',
      message: record,
      signature: sig,
    });
  } catch {
    return false;
  }
}

/** Evidence of equivocation (for logs / publication; the chain needs only the two signed records). */
export function equivocationEvidence(a: RoundRecord, b: RoundRecord): FraudEvidence {
  return {
    ...buildEvidence({
      kind: 'commitment-mismatch',
      jobId: a.jobId,
      round: a.round,
      worker: a.worker,
      hashes: { recordA: roundRecordLeaf(a), recordB: roundRecordLeaf(b) },
      details: { path: 'proveEquivocation' },
    }),
  };
}

/**
 * Checks locally that (a, sigA) and (b, sigB) prove equivocation (same job/round/worker, different
 * contents, both signed by the worker), then submits `proveEquivocation` (slashes at once).
 */
export async function proveEquivocationChecked(
  market: ComputeMarketClient,
  signer: Signer,
  a: RoundRecord,
  sigA: Hex,
  b: RoundRecord,
  sigB: Hex,
): Promise<TransactionReceipt> {
  if (a.jobId !== b.jobId || a.round !== b.round || !isAddressEqual(a.worker, b.worker)) {
    throw new AgoraError(
      'FRAUD_NOT_EQUIVOCATION',
      'the two records are for different jobs, rounds or workers',
      {
        hint: 'equivocation needs two records of the same worker for the same job and round',
      },
    );
  }
  if (roundRecordLeaf(a) === roundRecordLeaf(b)) {
    throw new AgoraError('FRAUD_NOT_EQUIVOCATION', 'the two records are identical');
  }
  for (const [r, s, name] of [
    [a, sigA, 'a'],
    [b, sigB, 'b'],
  ] as const) {
    if (!(await verifyRoundRecordSignature(market, r, s))) {
      throw new AgoraError(
        'FRAUD_BAD_SIGNATURE',
        `signature ${name} is not ${r.worker}'s signature of record ${name}`,
        {
          hint: "only records signed by the worker under this market's EIP-712 domain prove equivocation",
        },
      );
    }
  }
  return market.proveEquivocation(signer, a, sigA, b, sigB);
}
