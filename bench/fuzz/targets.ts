/**
 * The fuzz targets: every decoder that reads input from across a trust boundary, one entry each.
 * To add one (a new HTTP API, a job spec parser): append a `FuzzTarget` whose `input` mixes random
 * input with mutations of valid encodings (bench/fuzz/mutate.ts) and whose `run` decodes one input.
 * The servers (JSON-RPC, status API) are in bench/fuzz/http-targets.ts.
 */
import fc from 'fast-check';
import { type Address, type Hex, keccak256, toHex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { RoundRecord } from '../../src/chain/round-record.ts';
import { domains, signDatasetAttestation, signRoundRecord } from '../../src/chain/typed-data.ts';
import {
  type AttestationTypedData,
  attestationTypedData,
  checkAttestationSignature,
} from '../../src/data/attestation.ts';
import { parseRecordProof } from '../../src/data/dataset.ts';
import { canonicalJson, manifestHash } from '../../src/data/manifest.ts';
import {
  buildProvenanceReport,
  type ChainFacts,
  parseProvenanceManifest,
  provenanceRecord,
  roundRecordsRoot,
  verifyProvenance,
} from '../../src/data/provenance.ts';
import { type AuthProof, participantSet, signAuthProof, verifyAuthProof } from '../../src/net/auth.ts';
import { decodeJson, encodeJson, FrameReader, frameHeader } from '../../src/net/framing.ts';
import {
  allreduceRequestSchema,
  announceSchema,
  authHelloSchema,
  authReplySchema,
  ckptChunkReplySchema,
  ckptHeadSchema,
  ckptRequestSchema,
  MAX_CONTROL_BYTES,
  parseMessage,
  shardReplySchema,
} from '../../src/net/messages.ts';
import { recordFromJson, roundRequestSchema } from '../../src/node/round-protocol.ts';
import { signVoucher, verifyVoucher, voucherFromJson, voucherToJson } from '../../src/pay/voucher.ts';
import { decodeSafetensors, encodeSafetensors, tensorFrom } from '../../src/train/checkpoint/safetensors.ts';
import {
  decodeTrainingCheckpoint,
  encodeTrainingCheckpoint,
} from '../../src/train/checkpoint/training-checkpoint.ts';
import { CODEC_NAMES, createCodec, decodeAny } from '../../src/train/codecs/index.ts';
import { verifyRoundRecordSignature } from '../../src/verify/evidence.ts';
import { decodePrepStats, encodePrepStats } from '../../src/verify/prep-stats.ts';
import {
  decodeInnerState,
  decodeWindowSamples,
  encodeInnerState,
  encodeWindowSamples,
  roundTraceSigner,
  traceFromJson,
} from '../../src/verify/trace-wire.ts';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../../src/wallet/keystore.ts';
import { exportedBodyTarget } from './exported-targets.ts';
import { defineTarget, type FuzzTarget, type Outcome } from './harness.ts';
import { type Json, mutatedBytes, mutatedJson, mutatedJsonBytes, mutatedJsonText } from './mutate.ts';
import { x402Targets } from './serve-targets.ts';
import { specTargets } from './spec-targets.ts';

const KEY: Hex = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const account = privateKeyToAccount(KEY);
const PEER = '12D3KooWAbCdEfGhJkLmNpQrStUvWxYz123456789ABCDEFGHJK';
const H32 = (s: string): Hex => keccak256(toHex(s));
const ADDR = account.address;

/** Small random vectors, with the values codecs find hard (zeros, huge, tiny). */
const vector = fc
  .array(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, 1e-30, 6e4, -1)), {
    minLength: 0,
    maxLength: 96,
  })
  .map((xs) => Float32Array.from(xs));

const record = (i: number): RoundRecord => ({
  jobId: 7n,
  round: BigInt(i),
  worker: ADDR,
  pseudoGradientHash: H32(`pg${i}`),
  sampleRoot: H32(`s${i}`),
  lossBefore: 2_000_000n,
  lossAfter: 1_500_000n,
  samples: 64n,
});
const recordJson = (r: RoundRecord) => ({
  jobId: r.jobId.toString(),
  round: r.round.toString(),
  worker: r.worker,
  pseudoGradientHash: r.pseudoGradientHash,
  sampleRoot: r.sampleRoot,
  lossBefore: r.lossBefore.toString(),
  lossAfter: r.lossAfter.toString(),
  samples: r.samples.toString(),
});
const AUTH_CTX = { chainId: 31337, jobId: '7' };
const MARKET_DOMAIN = domains.computeMarket(31337, '0x5FbDB2315678afecb367f032d93F642f64180aa3');

/** Valid messages of every wire schema (src/net/messages.ts), as the nodes send them. */
async function wireSamples(): Promise<{ schema: Parameters<typeof parseMessage>[0]; value: Json }[]> {
  const proof = (await signAuthProof(account, AUTH_CTX, PEER)) as unknown as Json;
  const group = 'ab'.repeat(16);
  return [
    { schema: authHelloSchema, value: { t: 'auth', proof } },
    { schema: authReplySchema, value: { t: 'auth', proof } },
    { schema: authReplySchema, value: { t: 'auth-deny', reason: 'not a participant' } },
    { schema: announceSchema, value: { t: 'announce', proof, addrs: ['/ip4/127.0.0.1/tcp/4001'] } },
    {
      schema: allreduceRequestSchema,
      value: { t: 'part', round: 3, shard: 1, group, length: 1000, fallback: false },
    },
    {
      schema: allreduceRequestSchema,
      value: { t: 'commit', round: 3, shard: 1, received: [PEER, PEER], reduced: true, length: 500 },
    },
    {
      schema: allreduceRequestSchema,
      value: { t: 'get', round: 3, shard: 0, members: [PEER], mirrorOnly: false },
    },
    { schema: shardReplySchema, value: { t: 'shard', ok: true, digest: group } },
    { schema: shardReplySchema, value: { t: 'shard', ok: false, reason: 'no such round' } },
    { schema: ckptRequestSchema, value: { t: 'ckpt-head' } },
    { schema: ckptRequestSchema, value: { t: 'ckpt-chunk', hash: H32('c'), offset: 0, length: 65536 } },
    {
      schema: ckptHeadSchema,
      value: {
        t: 'ckpt-head',
        available: true,
        round: 2,
        hash: H32('c'),
        size: 1234,
        meta: { task: 'mnist' },
      },
    },
    { schema: ckptChunkReplySchema, value: { t: 'ckpt-chunk', ok: true } },
  ];
}

async function roundSamples(): Promise<Json[]> {
  const r0 = record(0);
  const signature = await signRoundRecord(account, MARKET_DOMAIN, r0);
  const provenance = {
    worker: ADDR,
    pseudoGradientHash: r0.pseudoGradientHash,
    sampleRoot: r0.sampleRoot,
    lossBefore: '2000000',
    lossAfter: '1500000',
    samples: '64',
    samplePairs: { '1': [0, 5, 9] },
  };
  const trace = {
    jobId: '7',
    round: '0',
    worker: ADDR,
    innerSteps: 20,
    window: 10,
    batchSize: 8,
    samplerStart: { epoch: 0, position: 16 },
    checkpoints: [H32('c0'), H32('c1'), H32('c2')],
  };
  const rec = recordJson(r0);
  const attestation = { validator: ADDR, jobId: '7', round: 0, unverifiable: [ADDR], signature };
  return [
    {
      t: 'record',
      jobId: '7',
      round: 0,
      modelHash: H32('m'),
      group: [ADDR],
      attempt: 0,
      record: rec,
      signature,
      provenance,
      trace,
      traceSignature: signature,
    },
    {
      t: 'sign-commit',
      jobId: '7',
      round: 0,
      recordsRoot: H32('root'),
      modelHash: H32('m'),
      records: [{ record: rec, signature, provenance, trace, traceSignature: signature }],
    },
    { t: 'checked', jobId: '7', round: 0, flagged: [ADDR], attestation },
    {
      t: 'sign-rewards',
      jobId: '7',
      root: H32('r'),
      total: '1000',
      validators: [{ account: ADDR, checks: 3 }],
      attestations: [attestation],
    },
    { t: 'trace-state', jobId: '7', round: 0, k: 1 },
    { t: 'window-samples', jobId: '7', round: 0, k: 1 },
    { t: 'group', jobId: '7', round: 0, attempt: 0 },
    { t: 'round-state', jobId: '7', round: 0 },
    { t: 'delta', jobId: '7', round: 0 },
  ];
}

/** A finite stream for FrameReader: the bytes cut into chunks of the given sizes. */
function chunked(bytes: Uint8Array, cuts: number[]): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      let off = 0;
      for (const c of cuts) {
        if (off >= bytes.length) break;
        yield bytes.subarray(off, off + 1 + c);
        off += 1 + c;
      }
      if (off < bytes.length) yield bytes.subarray(off);
    },
  };
}

function frames(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((s, p) => s + 4 + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(frameHeader(p.length), o);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** Builds the targets (signs the valid samples first). */
export async function decoderTargets(): Promise<FuzzTarget[]> {
  const wire = await wireSamples();
  const roundValid = await roundSamples();
  const participants = participantSet([ADDR]);

  // ---- codecs
  const codecValid = fc
    .tuple(fc.constantFrom(...CODEC_NAMES), vector, fc.constantFrom(8, 16, 32), fc.constantFrom(0.1, 0.5, 1))
    .map(([name, v, blockSize, fraction]) =>
      createCodec(name, { blockSize, fraction, errorFeedback: false }).encode(
        v.length ? v : new Float32Array(1),
      ),
    );

  // ---- safetensors / checkpoints
  const dtypes = ['F32', 'F16', 'I64', 'U8', 'I32', 'F64'] as const;
  const safetensorsValid = fc
    .tuple(
      fc.array(fc.tuple(fc.constantFrom(...dtypes), fc.nat({ max: 6 }), fc.nat({ max: 3 })), {
        maxLength: 4,
      }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
    )
    .map(([specs, meta]) => {
      const tensors = new Map(
        specs.map(([dtype, a, b], i) => {
          const width = { F32: 4, F16: 2, I64: 8, U8: 1, I32: 4, F64: 8 }[dtype];
          return [`t${i}`, tensorFrom(dtype, [a, b], new Uint8Array(a * b * width).fill(i + 1))] as const;
        }),
      );
      return encodeSafetensors(tensors, meta);
    });
  const checkpointValid = fc.tuple(vector, fc.boolean(), fc.nat({ max: 1000 })).map(
    ([params, outer, step]) =>
      encodeTrainingCheckpoint({
        params,
        info: { task: 'mnist', round: '3' },
        ...(outer
          ? { outer: { config: { lr: 0.7, momentum: 0.9, nesterov: true }, step, momentum: params.slice() } }
          : {}),
      }).bytes,
  );

  // ---- trace wire
  const stateValid = vector.map((p) =>
    encodeInnerState({ params: p, m: p.map((x) => x / 2), v: p.map((x) => x * x), step: p.length }),
  );
  const windowValid = fc
    .tuple(fc.nat({ max: 4 }), fc.nat({ max: 4 }), fc.nat({ max: 3 }), fc.nat({ max: 40 }))
    .map(([S, B, L, n]) =>
      encodeWindowSamples({
        steps: Array.from({ length: S }, (_, s) => Int32Array.from({ length: B }, (_, b) => s * B + b)),
        records: Array.from({ length: Math.min(S * B, 3) }, (_, r) => ({
          index: r,
          proof: Array.from({ length: L }, (_, k) => H32(`p${r}${k}`)),
          bytes: new Uint8Array(n).fill(r),
        })),
      }),
    );
  const prepValid = fc.tuple(fc.nat({ max: 4 }), vector).map(([C, v]) =>
    encodePrepStats({
      partials: Array.from({ length: C + 1 }, (_, c) => Float64Array.from(v, (x) => x * (c + 1))),
      local: v,
      reduced: v.map((x) => x / 2),
    }),
  );

  // ---- vouchers, attestations, keystores
  const vDomain = {
    chainId: 31337,
    verifyingContract: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512' as Address,
  };
  const voucherValid: Json[] = [];
  for (const amount of [0n, 1n, 10n ** 18n, 2n ** 128n - 1n]) {
    const msg = { channelId: H32(`ch${amount}`), cumulativeAmount: amount };
    voucherValid.push(voucherToJson(await signVoucher(account, vDomain, msg)) as Json);
  }
  const registry = '0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9' as Address;
  const att = {
    root: H32('root'),
    records: 1000n,
    bytes: 123456n,
    licence: 'CC-BY-4.0',
    sector: 'health',
    manifestHash: H32('manifest'),
    contributor: ADDR,
    deadline: 1_900_000_000n,
  };
  const attSig = await signDatasetAttestation(account, domains.dataRegistry(31337, registry), att);
  const attValid = { ...attestationTypedData(31337, registry, att), signature: attSig } as unknown as Json;
  const cheapScrypt = { n: 16, r: 8, p: 1, dklen: 32 };
  const keystoreValid = [
    encryptKeystore(KEY, 'pw', cheapScrypt),
    { ...encryptKeystore(KEY, 'pw', { n: 2, r: 1, p: 1, dklen: 32 }), address: undefined },
  ] as unknown as Json[];
  const pbkdf2 = JSON.parse(JSON.stringify(keystoreValid[0])) as {
    crypto: { kdf: string; kdfparams: Record<string, unknown> };
  };
  pbkdf2.crypto.kdf = 'pbkdf2';
  pbkdf2.crypto.kdfparams = { dklen: 32, salt: 'ab'.repeat(32), c: 16, prf: 'hmac-sha256' };
  keystoreValid.push(pbkdf2 as unknown as Json);

  const proofValid: Json = {
    datasetId: '3',
    root: H32('root'),
    index: 5,
    contentHash: H32('rec5'),
    proof: [H32('a'), H32('b')],
  };
  const provRecord = provenanceRecord({
    worker: ADDR,
    pseudoGradientHash: H32('pg'),
    lossBefore: 2_000_000n,
    lossAfter: 1_000_000n,
    samples: 8n,
    pairs: [
      [3n, 0],
      [3n, 1],
      [3n, 2],
    ],
  });
  const provenanceValid = {
    version: 1,
    kind: 'agora-provenance',
    chainId: 31337,
    trainingLedger: registry,
    jobId: '7',
    modelHash: H32('model'),
    datasets: [{ datasetId: '3', root: H32('root'), licence: 'CC-BY-4.0' }],
    rounds: [{ round: 0, modelHash: H32('m0'), records: [provRecord] }],
  } as unknown as Json;
  const provenanceFacts: ChainFacts = {
    chainId: 31337,
    trainingLedger: registry,
    jobId: '7',
    job: { requester: ADDR, state: 'Completed', workers: 1, rounds: 1, modelSpecHash: H32('spec') },
    ledger: { roundsCommitted: 1, closed: true, finalModelHash: H32('model') },
    rounds: [
      { round: 0, recordsRoot: roundRecordsRoot(7n, 0, [provRecord]), modelHash: H32('m0'), committedAt: 1 },
    ],
    participants: [ADDR],
    datasets: [
      {
        datasetId: '3',
        root: H32('root'),
        records: 10,
        bytes: 1000,
        licence: 'CC-BY-4.0',
        sector: 'health',
        contributor: ADDR,
      },
    ],
  };
  const manifestValid: Json = {
    version: 1,
    root: H32('root'),
    records: 10,
    bytes: 1000,
    licence: 'CC-BY-4.0',
    sector: 'health',
    schema: { kind: 'text' },
    createdAt: '2026-01-01T00:00:00.000Z',
    hashes: { file: 'hashes.bin', encoding: 'keccak256', hash: H32('h') },
  };

  const targets: FuzzTarget[] = [
    defineTarget({
      name: 'net/framing',
      boundary: 'any libp2p stream: length-prefixed frames, cut into arbitrary chunks',
      weight: 2,
      input: fc.record({
        bytes: mutatedBytes(
          fc
            .array(fc.constantFrom(...wire), { minLength: 1, maxLength: 4 })
            .map((ms) => frames(ms.map((m) => encodeJson(m.value)))),
          256,
        ),
        cuts: fc.array(fc.nat({ max: 40 }), { maxLength: 20 }),
      }),
      async run({ bytes, cuts }: { bytes: Uint8Array; cuts: number[] }) {
        const reader = new FrameReader(chunked(bytes, cuts));
        let n = 0;
        for (;;) {
          const f = await reader.next({ maxBytes: 4096, timeoutMs: 2000 });
          if (f === null) break;
          parseMessage(allreduceRequestSchema, decodeJson(f));
          n++;
        }
        return n > 0 ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'net/control-messages',
      boundary: 'auth, announce, all-reduce, shard and checkpoint-sync control frames (src/net/messages.ts)',
      weight: 2,
      input: fc.tuple(fc.nat(), mutatedJsonBytes(fc.constantFrom(...wire.map((w) => w.value)))),
      async run([pick, bytes]: [number, Uint8Array]): Promise<Outcome> {
        if (bytes.length > MAX_CONTROL_BYTES) return 'rejected';
        const r = parseMessage(wire[pick % wire.length].schema, decodeJson(bytes));
        if (!r.ok) return 'rejected';
        // an auth proof goes on to the signature check (src/net/auth.ts)
        const proof = (r.value as { proof?: AuthProof }).proof;
        if (proof)
          return (await verifyAuthProof(proof, AUTH_CTX, PEER, participants)).ok ? 'accepted' : 'rejected';
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'node/round-protocol',
      boundary: '/agora/round/1 request frames, then what the handlers decode (records, traces, signatures)',
      weight: 2,
      input: mutatedJsonBytes(fc.constantFrom(...roundValid)),
      async run(bytes: Uint8Array): Promise<Outcome> {
        const r = parseMessage(roundRequestSchema, decodeJson(bytes));
        if (!r.ok) return 'rejected';
        const req = r.value;
        // what the coordinator and providers do with an accepted request
        const records =
          req.t === 'record'
            ? [
                {
                  record: req.record,
                  signature: req.signature,
                  trace: req.trace,
                  traceSignature: req.traceSignature,
                },
              ]
            : req.t === 'sign-commit'
              ? req.records
              : [];
        for (const s of records) {
          const rec = recordFromJson(s.record);
          // the coordinator's checks of a record (src/node/coordinator.ts)
          if (!(await verifyRoundRecordSignature({ domain: () => MARKET_DOMAIN }, rec, s.signature as Hex)))
            return 'rejected';
          if (s.trace)
            await roundTraceSigner(traceFromJson(s.trace), (s.traceSignature ?? s.signature) as Hex);
        }
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'net/allreduce-push',
      boundary: 'an all-reduce push stream: a part/commit control frame, then its codec-encoded shard',
      weight: 2,
      input: fc
        .tuple(fc.constantFrom(...CODEC_NAMES), vector, fc.boolean())
        .map(([name, v, part]) => {
          const shard = createCodec(name, { blockSize: 16, fraction: 0.5, errorFeedback: false }).encode(v);
          const control: Json = part
            ? { t: 'part', round: 1, shard: 0, group: 'ab'.repeat(16), length: v.length, fallback: false }
            : { t: 'commit', round: 1, shard: 0, received: [PEER], reduced: true, length: v.length };
          return [control, shard] as const;
        })
        .chain(([control, shard]) =>
          fc.tuple(
            mutatedJsonBytes(
              fc.constantFrom(
                control,
                ...wire.filter((w) => w.schema === allreduceRequestSchema).map((w) => w.value),
              ),
            ),
            mutatedBytes(fc.constant(shard)),
          ),
        ),
      run([control, shard]: [Uint8Array, Uint8Array]) {
        const r = parseMessage(allreduceRequestSchema, decodeJson(control));
        if (!r.ok) return 'rejected';
        // what AllReduce#decodeShard does (without its catch-all, so a crash shows)
        const v = decodeAny(shard.byteOffset % 4 === 0 ? shard : new Uint8Array(shard));
        const expected = r.value.t === 'get' ? undefined : r.value.length;
        if (expected !== undefined && v.length !== expected) return 'rejected';
        return v.every(Number.isFinite) ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'train/codecs',
      boundary: 'pseudo-gradients from peers: decodeAny over fp32/fp16/int8/int4/topk messages',
      weight: 3,
      input: mutatedBytes(codecValid),
      run(bytes: Uint8Array) {
        decodeAny(bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes));
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'train/safetensors',
      boundary: 'checkpoint files and checkpoint-sync chunks (safetensors)',
      weight: 2,
      input: mutatedBytes(safetensorsValid),
      run(bytes: Uint8Array) {
        decodeSafetensors(bytes);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'train/checkpoint',
      boundary: 'training checkpoints fetched from providers (safetensors + metadata)',
      weight: 2,
      input: fc.oneof(
        mutatedBytes(checkpointValid),
        mutatedJsonText(fc.constant({ lr: 0.7, momentum: 0.9, nesterov: true })).map((oc) =>
          encodeSafetensors(new Map([['params', tensorFrom('F32', [2], new Float32Array([1, 2]))]]), {
            format: 'agora-train-v1',
            'outer.config': oc,
            'outer.step': oc.length % 3 === 0 ? 'x' : '3',
          }),
        ),
      ),
      run(bytes: Uint8Array) {
        decodeTrainingCheckpoint(bytes);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'verify/inner-state',
      boundary: 'trace-state replies: a worker inner state (params, Adam moments, step)',
      input: mutatedBytes(stateValid),
      run(bytes: Uint8Array) {
        decodeInnerState(bytes);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'verify/window-samples',
      boundary: 'window-samples replies: sample indices, records and Merkle proofs',
      input: mutatedBytes(windowValid),
      run(bytes: Uint8Array) {
        decodeWindowSamples(bytes);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'verify/prep-stats',
      boundary: "prep-stats replies: a provider's signed swarm statistics (chunks, input, result)",
      input: mutatedBytes(prepValid),
      run(bytes: Uint8Array) {
        decodePrepStats(bytes);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'pay/voucher',
      boundary: 'vouchers sent to a payee (JSON wire form), then their EIP-712 signature',
      weight: 2,
      input: mutatedJson(fc.constantFrom(...voucherValid)),
      async run(j: Json): Promise<Outcome> {
        const v = voucherFromJson(j);
        return (await verifyVoucher(v, ADDR)) ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'data/attestation',
      boundary: 'a dataset attestation (EIP-712 typed data + signature) from a contributor or the chain',
      input: mutatedJson(fc.constant(attValid)),
      async run(j: Json): Promise<Outcome> {
        const t = j as unknown as AttestationTypedData & { signature: Hex };
        await checkAttestationSignature(t, t?.signature);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'data/record-proof',
      boundary: 'record proof documents (`agora data verify`)',
      input: mutatedJsonText(fc.constant(proofValid)),
      run(text: string) {
        parseRecordProof(text);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'data/provenance',
      boundary: 'provenance manifests of a model (`agora model provenance --manifest`)',
      input: mutatedJsonText(fc.constant(provenanceValid)),
      run(text: string) {
        const m = parseProvenanceManifest(text);
        // what `agora model provenance` does next: compare with the chain and build the report
        const mismatches = verifyProvenance(m, provenanceFacts, null);
        buildProvenanceReport({
          facts: provenanceFacts,
          manifest: m,
          modelHash: H32('model'),
          checkpoint: null,
          checkpointHash: null,
          verify: true,
        });
        return mismatches.length === 0 ? 'accepted' : 'rejected';
      },
    }),
    defineTarget({
      name: 'data/manifest',
      boundary: 'dataset manifests: the canonical JSON whose hash a contributor signs',
      input: mutatedJson(fc.constant(manifestValid)),
      run(j: Json) {
        canonicalJson(j);
        if (j !== null && typeof j === 'object' && !Array.isArray(j)) manifestHash(j as never);
        return 'accepted';
      },
    }),
    defineTarget({
      name: 'wallet/keystore',
      boundary: 'keystore files imported or read from a home (`agora wallet import`)',
      weight: 2,
      input: mutatedJsonText(fc.constantFrom(...keystoreValid)),
      run(text: string) {
        const ks = parseKeystore(text);
        decryptKeystore(ks, 'pw');
        return 'accepted';
      },
    }),
    ...specTargets(),
    ...(await x402Targets()),
    exportedBodyTarget(),
  ];
  return targets;
}
