/**
 * Data & models: the registered datasets (licence, records, root), a record's inclusion proof
 * checked in this page against the root on chain, and each trained model's training-data summary.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { checkRecordProof, hexToBytes, type ProofCheck } from '../../../src/dashboard/record-proof.ts';
import type { DashboardState, RecordProofView } from '../../../src/dashboard/types.ts';
import { addressNamer, formatBytes } from '../../../src/dashboard/views.ts';
import { Addr, Badge, Empty, Hash, Section } from '../ui.tsx';
import { QueryBox } from './query.tsx';

type Lookup =
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'error'; message: string }
  | { kind: 'done'; view: RecordProofView; check: ProofCheck };

/** An MNIST-style IDX record (label u32 LE ‖ 28×28 pixels) drawn on a canvas. */
function Digit({ record }: { record: Uint8Array }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current?.getContext('2d');
    if (!c) return;
    const img = c.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = 255 - record[4 + i];
      img.data.set([v, v, v, 255], 4 * i);
    }
    c.putImageData(img, 0, 0);
  }, [record]);
  return <canvas ref={ref} width={28} height={28} class="digit" />;
}

function ProofBox({ s, useDigit }: { s: DashboardState; useDigit: (input: string) => void }) {
  const datasets = Object.values(s.datasets).filter((d) => d.local);
  const [datasetId, setDatasetId] = useState<string>('');
  const [index, setIndex] = useState('0');
  const [res, setRes] = useState<Lookup>({ kind: 'idle' });
  const id = datasetId || datasets[0]?.datasetId || '';
  const lookup = async (e: Event) => {
    e.preventDefault();
    setRes({ kind: 'busy' });
    try {
      const r = await fetch(`api/datasets/${id}/records/${index.trim()}`);
      const body = await r.json();
      if (!r.ok) throw new Error(`${body.error}${body.hint ? ` (${body.hint})` : ''}`);
      const view = body as RecordProofView;
      const chainRoot = s.datasets[id]?.root;
      if (chainRoot && chainRoot.toLowerCase() !== view.root.toLowerCase())
        throw new Error(`the server's root ${view.root} is not the root registered on chain (${chainRoot})`);
      setRes({ kind: 'done', view, check: checkRecordProof(view) });
    } catch (err) {
      setRes({ kind: 'error', message: (err as Error).message });
    }
  };
  if (datasets.length === 0)
    return <Empty>This node holds no dataset's record hashes, so it cannot prove records.</Empty>;
  const record = res.kind === 'done' ? hexToBytes(res.view.record) : null;
  return (
    <div class="proof">
      <form onSubmit={lookup} class="row">
        <label>
          dataset{' '}
          <select
            value={id}
            onChange={(e) => setDatasetId((e.target as HTMLSelectElement).value)}
            data-testid="proof-dataset"
          >
            {datasets.map((d) => (
              <option key={d.datasetId} value={d.datasetId}>
                {d.datasetId} ({d.records.toLocaleString('en-US')} records)
              </option>
            ))}
          </select>
        </label>
        <label>
          record{' '}
          <input
            value={index}
            onInput={(e) => setIndex((e.target as HTMLInputElement).value)}
            size={8}
            data-testid="proof-index"
          />
        </label>
        <button type="submit" data-testid="proof-lookup">
          look up and verify
        </button>
      </form>
      {res.kind === 'busy' ? <p class="muted">fetching the record and its proof…</p> : null}
      {res.kind === 'error' ? <p class="bad-text">{res.message}</p> : null}
      {res.kind === 'done' ? (
        <div class="proof-result" data-testid="proof-result" data-verified={String(res.check.ok)}>
          <p>
            <Badge>{res.check.ok ? 'verified' : 'failed'}</Badge>{' '}
            {res.check.ok
              ? `Record ${res.view.index} of dataset ${res.view.datasetId} is in the dataset: checked in this page.`
              : 'The proof does not lead to the registered root.'}
          </p>
          <div class="row">
            {record && res.view.format === 'idx' && record.length === 788 ? (
              <div class="digit-box">
                <Digit record={record} />
                <div class="small">label {new DataView(record.buffer).getUint32(0, true)}</div>
                <button
                  type="button"
                  class="small"
                  data-testid="proof-query"
                  onClick={() => useDigit(JSON.stringify(Array.from(record.subarray(4), (v) => v / 255)))}
                >
                  query a model with it
                </button>
              </div>
            ) : null}
            <ol class="steps small">
              <li>
                record bytes ({record?.length} B) hash to <Hash value={res.check.contentHash} />{' '}
                {res.check.contentHashMatches ? '✓' : '✗ (not the listed content hash)'}
              </li>
              <li>
                leaf keccak256(keccak256(abi.encode(index, contentHash))) = <Hash value={res.check.leaf} />
              </li>
              <li>
                {res.view.proof.length} sibling hashes lead to <Hash value={res.check.computedRoot} />
              </li>
              <li>
                root registered on chain <Hash value={res.view.root} />{' '}
                {res.check.rootMatches ? '✓ equal' : '✗ different'}
              </li>
            </ol>
          </div>
        </div>
      ) : null}
    </div>
  );
}

export function DataPage({ s }: { s: DashboardState }) {
  const name = addressNamer(s);
  const [queryInput, setQueryInput] = useState('');
  const datasets = Object.values(s.datasets).sort((a, b) => Number(a.datasetId) - Number(b.datasetId));
  const models = Object.values(s.models).sort((a, b) => Number(b.jobId) - Number(a.jobId));
  return (
    <>
      <Section
        title="Datasets"
        note="Registered on the DataRegistry from the contributor's signed attestation: the root is the Merkle root of every record's content hash."
      >
        {datasets.length === 0 ? (
          <Empty>No dataset registered yet.</Empty>
        ) : (
          <table data-testid="datasets">
            <thead>
              <tr>
                <th>id</th>
                <th>licence</th>
                <th>sector</th>
                <th class="num">records</th>
                <th class="num">size</th>
                <th>root</th>
                <th>contributor</th>
              </tr>
            </thead>
            <tbody>
              {datasets.map((d) => (
                <tr key={d.datasetId}>
                  <td>{d.datasetId}</td>
                  <td>{d.licence}</td>
                  <td>{d.sector}</td>
                  <td class="num">{d.records.toLocaleString('en-US')}</td>
                  <td class="num">{formatBytes(d.bytes)}</td>
                  <td>
                    <Hash value={d.root} />
                  </td>
                  <td>
                    <Addr address={d.contributor} name={name(d.contributor)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      <Section
        title="Prove a record"
        note="The node sends the record's bytes and its Merkle proof; this page hashes them itself and climbs the proof to the dataset's root on chain."
      >
        <ProofBox s={s} useDigit={setQueryInput} />
      </Section>
      <Section title="Models and their training data">
        {models.length === 0 ? (
          <Empty>
            No model yet: the requester saves the final model and its provenance manifest when the job closes.
          </Empty>
        ) : (
          models.map((m) => (
            <div class="model" key={m.jobId} data-testid="model">
              <h3>
                Model of job {m.jobId} <Hash value={m.modelHash} />{' '}
                <Badge>{m.verified ? 'verified' : m.verified === false ? 'failed' : 'not checked'}</Badge>
              </h3>
              <p class="small">
                Trained in {m.rounds} committed rounds by {m.participants.map((p) => name(p)).join(', ')}.{' '}
                {m.verified
                  ? 'Every claim of its provenance manifest was checked against the chain: round record roots, sample roots, dataset roots and licences.'
                  : null}
              </p>
              {m.mismatches.length ? (
                <ul class="bad-text small">
                  {m.mismatches.map((x) => (
                    <li key={x}>{x}</li>
                  ))}
                </ul>
              ) : null}
              <table>
                <thead>
                  <tr>
                    <th>dataset</th>
                    <th>licence</th>
                    <th>contributor</th>
                    <th class="num">records</th>
                    <th class="num">records used</th>
                    <th class="num">uses (worker-rounds)</th>
                  </tr>
                </thead>
                <tbody>
                  {m.datasets.map((d) => (
                    <tr key={d.datasetId}>
                      <td>{d.datasetId}</td>
                      <td>{d.licence}</td>
                      <td>{name(d.contributor)}</td>
                      <td class="num">{d.records.toLocaleString('en-US')}</td>
                      <td class="num">{d.recordsUsed?.toLocaleString('en-US') ?? '—'}</td>
                      <td class="num">{d.uses?.toLocaleString('en-US') ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <p class="small">
                Licences:{' '}
                {m.licences
                  .map(
                    (l) =>
                      `${l.licence} (${l.datasets} dataset${l.datasets === 1 ? '' : 's'}, ${l.recordsUsed ?? '?'} records used)`,
                  )
                  .join('; ')}
                .
                {m.path ? (
                  <>
                    {' '}
                    File: <code>{m.path}</code>
                  </>
                ) : null}
              </p>
            </div>
          ))
        )}
      </Section>
      <Section
        title="Query a model and pay"
        note="The node buys a prediction from an agora serve model with its own wallet: it shows the server, the model hash and job, the price and the payment channel first, and pays only when you confirm that plan."
      >
        <QueryBox input={queryInput} setInput={setQueryInput} />
      </Section>
    </>
  );
}
