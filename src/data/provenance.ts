/**
 * Model provenance (pure): the provenance manifest a training run stores beside its checkpoint, and
 * the report `agora model provenance` builds from it plus facts read from the chain — which job
 * produced the model, its rounds, participants, and the datasets (licences, contributors) with the
 * records used from each — as JSON and as a Markdown training-data summary. `verifyProvenance`
 * compares every claim of the manifest with the chain facts and lists each mismatch.
 *
 * Provenance manifest (`<checkpoint>.provenance.json`, docs/provenance.md):
 *   { version: 1, kind: "agora-provenance", chainId, trainingLedger, jobId, modelHash,
 *     datasets: [{ datasetId, root, licence }],
 *     rounds: [{ round, modelHash, records: [{ worker, pseudoGradientHash, sampleRoot, lossBefore,
 *                lossAfter, samples, samplePairs: { "<datasetId>": [index, …] } }] }] }
 * Round records are exactly the TrainingLedger leaves' fields (src/chain/round-record.ts); their
 * sampleRoot is the usage root of samplePairs (usage.ts).
 */
import { type Address, getAddress, type Hex } from 'viem';
import { z } from 'zod';
import { type RoundRecord, roundRecordsTree } from '../chain/round-record.ts';
import { AgoraError } from '../errors.ts';
import {
  canonicalSamples,
  type SamplePair,
  sampleRoot,
  samplesFromJson,
  samplesToJson,
  usageTotals,
} from './usage.ts';

export type ProvenanceRecord = {
  worker: Address;
  pseudoGradientHash: Hex;
  sampleRoot: Hex;
  /** Loss × 1e6, decimal string. */
  lossBefore: string;
  lossAfter: string;
  /** Samples processed (decimal string), as the worker reported it. */
  samples: string;
  /** The (datasetId, index) pairs trained on this round: { "<datasetId>": [indices] }. */
  samplePairs: Record<string, number[]>;
};

export type ProvenanceManifest = {
  version: 1;
  kind: 'agora-provenance';
  chainId: number;
  trainingLedger: Address;
  jobId: string;
  /** keccak256 of the checkpoint file (src/train/checkpoint/hash.ts): the final model hash on chain. */
  modelHash: Hex;
  /** The datasets the trainer used, as it knew them (checked against the DataRegistry). */
  datasets: { datasetId: string; root: Hex; licence: string }[];
  rounds: { round: number; modelHash: Hex; records: ProvenanceRecord[] }[];
};

/** Builds a manifest record from a worker's round and its samples (computes sampleRoot). */
export function provenanceRecord(r: {
  worker: Address;
  pseudoGradientHash: Hex;
  lossBefore: bigint;
  lossAfter: bigint;
  samples: bigint;
  pairs: Iterable<SamplePair>;
}): ProvenanceRecord {
  const pairs = canonicalSamples(r.pairs);
  return {
    worker: getAddress(r.worker),
    pseudoGradientHash: r.pseudoGradientHash,
    sampleRoot: sampleRoot(pairs),
    lossBefore: r.lossBefore.toString(),
    lossAfter: r.lossAfter.toString(),
    samples: r.samples.toString(),
    samplePairs: samplesToJson(pairs),
  };
}

/** The chain's RoundRecord for a manifest record. */
export function toRoundRecord(jobId: bigint, round: number, r: ProvenanceRecord): RoundRecord {
  return {
    jobId,
    round: BigInt(round),
    worker: r.worker,
    pseudoGradientHash: r.pseudoGradientHash,
    sampleRoot: r.sampleRoot,
    lossBefore: BigInt(r.lossBefore),
    lossAfter: BigInt(r.lossAfter),
    samples: BigInt(r.samples),
  };
}

/** recordsRoot of a manifest round (what TrainingLedger.commitRound commits). */
export function roundRecordsRoot(jobId: bigint, round: number, records: readonly ProvenanceRecord[]): Hex {
  return roundRecordsTree(records.map((r) => toRoundRecord(jobId, round, r))).root;
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'a 32-byte hex string');
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address');
const decimal = z.string().regex(/^\d{1,78}$/, 'a decimal integer string');
const provenanceRecordSchema = z.object({
  worker: address,
  pseudoGradientHash: hex32,
  sampleRoot: hex32,
  lossBefore: decimal,
  lossAfter: decimal,
  samples: decimal,
  samplePairs: z.record(z.string().max(78), z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))),
});
/** The manifest's shape, field by field: every later step (verify, report) may rely on it. */
const provenanceManifestSchema = z.object({
  version: z.literal(1),
  kind: z.literal('agora-provenance'),
  chainId: z.number().int().positive(),
  trainingLedger: address,
  jobId: decimal,
  modelHash: hex32,
  datasets: z.array(z.object({ datasetId: decimal, root: hex32, licence: z.string().max(1000) })).default([]),
  rounds: z.array(
    z.object({
      round: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
      modelHash: hex32,
      records: z.array(provenanceRecordSchema),
    }),
  ),
});

/** Parses and shape-checks a provenance manifest (untrusted: it travels with a model). */
export function parseProvenanceManifest(text: string, name = 'the provenance manifest'): ProvenanceManifest {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AgoraError('PROVENANCE_MALFORMED', `${name} is not JSON`, { cause: e });
  }
  const kind = (v as { kind?: unknown } | null)?.kind;
  const version = (v as { version?: unknown } | null)?.version;
  if (kind !== 'agora-provenance' || version !== 1) {
    throw new AgoraError('PROVENANCE_MALFORMED', `${name} is not an Agora provenance manifest (version 1)`, {
      hint: 'see docs/provenance.md for the format',
    });
  }
  const r = provenanceManifestSchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new AgoraError(
      'PROVENANCE_MALFORMED',
      `${name} has a malformed field: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
      { hint: 'see docs/provenance.md for the format' },
    );
  }
  return r.data as ProvenanceManifest;
}

/** What the chain says (gathered by provenance-chain.ts). */
export type ChainFacts = {
  chainId: number;
  trainingLedger: Address;
  jobId: string;
  job: { requester: Address; state: string; workers: number; rounds: number; modelSpecHash: Hex };
  ledger: { roundsCommitted: number; closed: boolean; finalModelHash: Hex };
  rounds: { round: number; recordsRoot: Hex; modelHash: Hex; committedAt: number }[];
  participants: Address[];
  datasets: {
    datasetId: string;
    root: Hex;
    records: number;
    bytes: number;
    licence: string;
    sector: string;
    contributor: Address;
  }[];
};

export type Mismatch = { check: string; message: string; round?: number; worker?: Address };

export type ProvenanceReport = {
  model: { modelHash: Hex; checkpoint: string | null; chainId: number };
  job: ChainFacts['job'] & { jobId: string; roundsCommitted: number; closed: boolean; finalModelHash: Hex };
  rounds: {
    round: number;
    recordsRoot: Hex;
    modelHash: Hex;
    workers: Address[];
    samplesUsed: number | null;
  }[];
  participants: Address[];
  datasets: (ChainFacts['datasets'][number] & { recordsUsed: number | null; uses: number | null })[];
  licences: { licence: string; datasets: number; recordsUsed: number | null }[];
  /** null without a local provenance manifest (usage is not known from the chain alone). */
  usageKnown: boolean;
  verified: boolean | null;
  mismatches: Mismatch[];
};

/** Compares every claim of the manifest (and the checkpoint hash) with the chain facts. */
export function verifyProvenance(
  m: ProvenanceManifest,
  facts: ChainFacts,
  checkpointHash: Hex | null,
): Mismatch[] {
  const out: Mismatch[] = [];
  const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (checkpointHash && !eq(checkpointHash, m.modelHash)) {
    out.push({
      check: 'checkpoint',
      message: `the checkpoint hashes to ${checkpointHash}, the manifest says ${m.modelHash}`,
    });
  }
  if (m.chainId !== facts.chainId) {
    out.push({
      check: 'chain',
      message: `the manifest is for chain ${m.chainId}, connected to ${facts.chainId}`,
    });
  }
  if (!eq(m.trainingLedger, facts.trainingLedger)) {
    out.push({
      check: 'chain',
      message: `the manifest names TrainingLedger ${m.trainingLedger}, the deployment has ${facts.trainingLedger}`,
    });
  }
  const chainModel = facts.ledger.closed
    ? facts.ledger.finalModelHash
    : (facts.rounds[facts.rounds.length - 1]?.modelHash ?? null);
  if (!chainModel || !eq(chainModel, m.modelHash)) {
    out.push({
      check: 'model',
      message: `job ${facts.jobId} ${facts.ledger.closed ? 'closed with final model' : 'last committed model'} ${chainModel ?? '(none)'}, not ${m.modelHash}`,
    });
  }
  const jobId = BigInt(m.jobId);
  const participants = new Set(facts.participants.map((p) => p.toLowerCase()));
  const datasets = new Map(facts.datasets.map((d) => [d.datasetId, d]));
  for (const claim of m.datasets) {
    const d = datasets.get(claim.datasetId);
    if (!d) {
      out.push({
        check: 'dataset',
        message: `dataset ${claim.datasetId} is not among job ${facts.jobId}'s registered datasets`,
      });
      continue;
    }
    if (!eq(d.root, claim.root)) {
      out.push({
        check: 'dataset',
        message: `dataset ${claim.datasetId} has root ${d.root} on chain, the manifest says ${claim.root}`,
      });
    }
    if (d.licence !== claim.licence) {
      out.push({
        check: 'dataset',
        message: `dataset ${claim.datasetId} is licensed ${d.licence} on chain, the manifest says ${claim.licence}`,
      });
    }
  }
  const chainRounds = new Map(facts.rounds.map((r) => [r.round, r]));
  const seen = new Set<number>();
  for (const r of m.rounds) {
    seen.add(r.round);
    const c = chainRounds.get(r.round);
    if (!c) {
      out.push({ check: 'round', round: r.round, message: `round ${r.round} is not committed on chain` });
      continue;
    }
    if (!eq(c.modelHash, r.modelHash)) {
      out.push({
        check: 'round',
        round: r.round,
        message: `round ${r.round} committed model ${c.modelHash}, the manifest says ${r.modelHash}`,
      });
    }
    let root: Hex | null = null;
    try {
      root = r.records.length > 0 ? roundRecordsRoot(jobId, r.round, r.records) : null;
    } catch (e) {
      out.push({
        check: 'round',
        round: r.round,
        message: `round ${r.round} records cannot be encoded: ${(e as Error).message}`,
      });
    }
    if (!root || !eq(root, c.recordsRoot)) {
      out.push({
        check: 'recordsRoot',
        round: r.round,
        message: `round ${r.round}: the manifest's records give root ${root ?? '(no records)'}, the chain committed ${c.recordsRoot}`,
      });
    }
    for (const rec of r.records) {
      const where = { round: r.round, worker: rec.worker };
      if (!participants.has(rec.worker.toLowerCase())) {
        out.push({
          check: 'participant',
          ...where,
          message: `round ${r.round}: ${rec.worker} is not a participant of job ${facts.jobId}`,
        });
      }
      let pairs: SamplePair[] = [];
      try {
        pairs = canonicalSamples(samplesFromJson(rec.samplePairs ?? {}));
      } catch (e) {
        out.push({
          check: 'samples',
          ...where,
          message: `round ${r.round}, ${rec.worker}: ${(e as Error).message}`,
        });
      }
      const got = sampleRoot(pairs);
      if (!eq(got, rec.sampleRoot)) {
        out.push({
          check: 'sampleRoot',
          ...where,
          message: `round ${r.round}, ${rec.worker}: the sample pairs hash to ${got}, the committed record says ${rec.sampleRoot}`,
        });
      }
      if (BigInt(pairs.length) > BigInt(rec.samples)) {
        out.push({
          check: 'samples',
          ...where,
          message: `round ${r.round}, ${rec.worker}: ${pairs.length} distinct samples listed but the record reports only ${rec.samples}`,
        });
      }
      const bad = new Set<string>();
      for (const [d, i] of pairs) {
        const ds = datasets.get(d.toString());
        if (!ds) bad.add(`dataset ${d} is not one of the job's datasets`);
        else if (i >= ds.records) bad.add(`record ${i} is beyond dataset ${d}'s ${ds.records} records`);
      }
      for (const b of bad)
        out.push({ check: 'samples', ...where, message: `round ${r.round}, ${rec.worker}: ${b}` });
    }
  }
  for (const c of facts.rounds) {
    if (!seen.has(c.round)) {
      out.push({
        check: 'round',
        round: c.round,
        message: `round ${c.round} is committed on chain but missing from the manifest`,
      });
    }
  }
  return out;
}

/** The report: chain facts, plus usage from the manifest when there is one, plus mismatches. */
export function buildProvenanceReport(input: {
  facts: ChainFacts;
  manifest: ProvenanceManifest | null;
  modelHash: Hex;
  checkpoint: string | null;
  checkpointHash: Hex | null;
  verify: boolean;
}): ProvenanceReport {
  const { facts, manifest } = input;
  const roundPairs = manifest
    ? manifest.rounds.flatMap((r) => r.records.map((rec) => samplesFromJson(rec.samplePairs ?? {})))
    : [];
  let totals: ReturnType<typeof usageTotals> | null = null;
  if (manifest) {
    try {
      totals = usageTotals(roundPairs);
    } catch {
      totals = null; // malformed pairs: reported as mismatches by verifyProvenance
    }
  }
  const manifestRounds = new Map((manifest?.rounds ?? []).map((r) => [r.round, r]));
  const datasets = facts.datasets.map((d) => ({
    ...d,
    recordsUsed: totals ? (totals.get(d.datasetId)?.distinctRecords ?? 0) : null,
    uses: totals ? (totals.get(d.datasetId)?.uses ?? 0) : null,
  }));
  const licenceMap = new Map<string, { datasets: number; recordsUsed: number | null }>();
  for (const d of datasets) {
    const e = licenceMap.get(d.licence) ?? { datasets: 0, recordsUsed: totals ? 0 : null };
    e.datasets++;
    if (e.recordsUsed !== null && d.recordsUsed !== null) e.recordsUsed += d.recordsUsed;
    licenceMap.set(d.licence, e);
  }
  const mismatches = input.verify && manifest ? verifyProvenance(manifest, facts, input.checkpointHash) : [];
  if (input.verify && !manifest) {
    mismatches.push({
      check: 'manifest',
      message:
        'no provenance manifest: the records used per round cannot be checked (only the chain facts are shown)',
    });
  }
  return {
    model: { modelHash: input.modelHash, checkpoint: input.checkpoint, chainId: facts.chainId },
    job: {
      jobId: facts.jobId,
      ...facts.job,
      roundsCommitted: facts.ledger.roundsCommitted,
      closed: facts.ledger.closed,
      finalModelHash: facts.ledger.finalModelHash,
    },
    rounds: facts.rounds.map((r) => {
      const mr = manifestRounds.get(r.round);
      let samplesUsed: number | null = null;
      if (mr) {
        try {
          samplesUsed = mr.records.reduce(
            (s, rec) => s + canonicalSamples(samplesFromJson(rec.samplePairs ?? {})).length,
            0,
          );
        } catch {
          samplesUsed = null;
        }
      }
      return { ...r, workers: mr ? mr.records.map((x) => x.worker) : [], samplesUsed };
    }),
    participants: facts.participants,
    datasets,
    licences: [...licenceMap.entries()].map(([licence, v]) => ({ licence, ...v })),
    usageKnown: totals !== null,
    verified: input.verify ? mismatches.length === 0 : null,
    mismatches,
  };
}

/** The Markdown training-data summary (for a regulator or a model's user). */
export function provenanceMarkdown(r: ProvenanceReport): string {
  const L: string[] = [];
  const used = (n: number | null) => (n === null ? 'unknown' : String(n));
  L.push(`# Training-data summary for model \`${r.model.modelHash}\``);
  L.push('');
  L.push(
    `Produced by Agora job **${r.job.jobId}** on chain ${r.model.chainId} (state: ${r.job.state}; ${r.job.roundsCommitted} of ${r.job.rounds} rounds committed; ${r.job.closed ? `closed, final model \`${r.job.finalModelHash}\`` : 'not closed yet'}).`,
  );
  if (r.model.checkpoint) L.push(`Checkpoint file: \`${r.model.checkpoint}\`.`);
  L.push('');
  L.push('## Data sources');
  L.push('');
  L.push(
    '| dataset | licence | sector | contributor | records in dataset | records used | uses (worker-rounds) |',
  );
  L.push('|---|---|---|---|---|---|---|');
  for (const d of r.datasets) {
    L.push(
      `| ${d.datasetId} (root \`${d.root.slice(0, 10)}…\`) | ${d.licence} | ${d.sector} | \`${d.contributor}\` | ${d.records} | ${used(d.recordsUsed)} | ${used(d.uses)} |`,
    );
  }
  L.push('');
  L.push('## Licences');
  L.push('');
  for (const l of r.licences)
    L.push(`- **${l.licence}**: ${l.datasets} dataset(s), ${used(l.recordsUsed)} records used`);
  L.push('');
  L.push('## Training');
  L.push('');
  L.push(`Participants (compute providers): ${r.participants.map((p) => `\`${p}\``).join(', ') || 'none'}.`);
  L.push('');
  L.push('| round | records root | model after round | workers reporting | samples used |');
  L.push('|---|---|---|---|---|');
  for (const x of r.rounds) {
    L.push(
      `| ${x.round} | \`${x.recordsRoot.slice(0, 10)}…\` | \`${x.modelHash.slice(0, 10)}…\` | ${x.workers.length} | ${used(x.samplesUsed)} |`,
    );
  }
  L.push('');
  L.push('## Verification');
  L.push('');
  if (r.verified === null) {
    L.push(
      'Not verified in this report: run `agora model provenance CHECKPOINT --verify` to check every claim against the chain.',
    );
  } else if (r.verified) {
    L.push(
      'Every claim was checked against the chain: round record roots recompute from the listed records, each record’s sample list hashes to its committed sample root, every sample lies in a registered dataset of the job, and the datasets’ roots and licences match the DataRegistry.',
    );
  } else {
    L.push(`**${r.mismatches.length} claim(s) do not match the chain:**`);
    L.push('');
    for (const m of r.mismatches) L.push(`- [${m.check}] ${m.message}`);
  }
  if (!r.usageKnown) {
    L.push('');
    L.push('Records used per dataset are unknown: no provenance manifest was found beside the checkpoint.');
  }
  return `${L.join('\n')}\n`;
}
