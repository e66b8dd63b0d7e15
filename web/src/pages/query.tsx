/**
 * "Query a model and pay": pick a model the node knows of (announcements of known servers) or type a
 * server's URL, give an input (JSON, or an image file turned into a 28×28 grey digit), see the plan
 * (server, model hash, job, price, channel opened or reused, balance after), confirm, and the node
 * buys the prediction from its own wallet. The node refuses requests without this page's token.
 */
import { useEffect, useState } from 'preact/hooks';
import { Badge, Empty, Hash } from '../ui.tsx';

type Offer = {
  predictUrl: string;
  endpoint: string;
  seller: string;
  id: string;
  jobId: string | null;
  modelHash: string;
  task: string;
  unitPrice: string;
};
type Offers = { wallet: string | null; offers: Offer[]; errors: string[] };
type PlanView = { summary: string; lines: string[]; hash: string; price: string };
type Answer = {
  summary: string;
  modelHash: string;
  jobId: string | null;
  paid: string;
  cumulative: string | null;
  channelId: string | null;
  predictions: { class: number; probabilities: number[] }[];
};
type Step =
  | { kind: 'idle' }
  | { kind: 'busy'; what: string }
  | { kind: 'error'; message: string }
  | { kind: 'plan'; plan: PlanView }
  | { kind: 'done'; answer: Answer };

const token = () => (window as unknown as { __AGORA_TOKEN__?: string }).__AGORA_TOKEN__ ?? '';

async function post<T>(path: string, body: unknown): Promise<T> {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-agora-token': token() },
    body: JSON.stringify(body),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${j.error}${j.hint ? ` (${j.hint})` : ''}`);
  return j as T;
}

/** An image file as a 28×28 grey digit, row-major, values in [0, 1] (light on dark, as MNIST). */
async function imageInput(file: File): Promise<string> {
  const bitmap = await createImageBitmap(file);
  const c = document.createElement('canvas');
  c.width = 28;
  c.height = 28;
  const g = c.getContext('2d');
  if (!g) throw new Error('this browser cannot draw images');
  g.drawImage(bitmap, 0, 0, 28, 28);
  const px = g.getImageData(0, 0, 28, 28).data;
  const grey: number[] = [];
  for (let i = 0; i < 784; i++)
    grey.push(Math.round(((px[4 * i] + px[4 * i + 1] + px[4 * i + 2]) / 3 / 255) * 1000) / 1000);
  // a dark digit on a light background (a scan, a drawing) is inverted to MNIST's light on dark
  const mean = grey.reduce((a, b) => a + b, 0) / 784;
  return JSON.stringify(mean > 0.5 ? grey.map((v) => Math.round((1 - v) * 1000) / 1000) : grey);
}

const wei = (s: string) => {
  const v = BigInt(s);
  const whole = v / 10n ** 18n;
  const frac = (v % 10n ** 18n).toString().padStart(18, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} AGORA`;
};

export function QueryBox({ input, setInput }: { input: string; setInput: (s: string) => void }) {
  const [offers, setOffers] = useState<Offers | null>(null);
  const [model, setModel] = useState('');
  const [step, setStep] = useState<Step>({ kind: 'idle' });
  useEffect(() => {
    fetch('api/query/offers')
      .then((r) => r.json())
      .then((o: Offers) => {
        setOffers(o);
        if (o.offers[0]) setModel((m) => m || o.offers[0]!.predictUrl);
      })
      .catch(() => setOffers({ wallet: null, offers: [], errors: ['the node did not answer'] }));
  }, []);
  const fail = (e: unknown) => setStep({ kind: 'error', message: (e as Error).message });
  const plan = async (e: Event) => {
    e.preventDefault();
    setStep({ kind: 'busy', what: 'asking the server for its price…' });
    try {
      setStep({ kind: 'plan', plan: await post<PlanView>('api/query/plan', { model, input }) });
    } catch (err) {
      fail(err);
    }
  };
  const buy = async (hash: string) => {
    setStep({ kind: 'busy', what: 'paying and waiting for the prediction…' });
    try {
      setStep({ kind: 'done', answer: await post<Answer>('api/query/buy', { model, input, hash }) });
    } catch (err) {
      fail(err);
    }
  };
  if (offers && !offers.wallet)
    return <Empty>This node has no wallet to pay with, so it cannot buy predictions.</Empty>;
  return (
    <div class="query" data-testid="query-box">
      <form onSubmit={plan}>
        <div class="row">
          <label>
            model{' '}
            <input
              list="query-offers"
              value={model}
              onInput={(e) => setModel((e.target as HTMLInputElement).value)}
              placeholder="http://127.0.0.1:8402 or a model's name"
              size={48}
              data-testid="query-model"
            />
          </label>
          <datalist id="query-offers">
            {offers?.offers.map((o) => (
              <option key={o.predictUrl} value={o.predictUrl}>
                {o.task}, job {o.jobId ?? '-'}, {wei(o.unitPrice)} per row
              </option>
            ))}
          </datalist>
          <label>
            image{' '}
            <input
              type="file"
              accept="image/png,image/jpeg"
              data-testid="query-image"
              onChange={(e) => {
                const f = (e.target as HTMLInputElement).files?.[0];
                if (f) imageInput(f).then(setInput, fail);
              }}
            />
          </label>
        </div>
        <textarea
          value={input}
          onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
          rows={3}
          placeholder='input as JSON, e.g. [0, 0.5, …] (784 values for an MNIST digit) or {"input": [[…], …]}'
          data-testid="query-input"
        />
        <button type="submit" disabled={!model || !input} data-testid="query-plan">
          see the price
        </button>
      </form>
      {offers?.offers.length ? (
        <p class="small muted">
          Known models:{' '}
          {offers.offers.map((o) => `${o.task} (job ${o.jobId ?? '-'}) at ${o.endpoint}`).join('; ')}.
        </p>
      ) : null}
      {step.kind === 'busy' ? <p class="muted">{step.what}</p> : null}
      {step.kind === 'error' ? (
        <p class="bad-text" data-testid="query-error">
          {step.message}
        </p>
      ) : null}
      {step.kind === 'plan' ? (
        <div data-testid="query-plan-view">
          <p>{step.plan.summary}</p>
          <ul class="small">
            {step.plan.lines.map((l) => (
              <li key={l}>{l}</li>
            ))}
          </ul>
          <p class="small">
            confirmation <Hash value={step.plan.hash} />{' '}
            <button type="button" onClick={() => buy(step.plan.hash)} data-testid="query-buy">
              pay and predict
            </button>{' '}
            <button type="button" onClick={() => setStep({ kind: 'idle' })}>
              cancel
            </button>
          </p>
        </div>
      ) : null}
      {step.kind === 'done' ? (
        <div data-testid="query-result" data-class={String(step.answer.predictions[0]?.class ?? '')}>
          <p>
            <Badge tone="good">paid</Badge> <span data-testid="query-paid">{step.answer.paid} AGORA</span> to
            model <Hash value={step.answer.modelHash} /> (job {step.answer.jobId ?? '-'})
            {step.answer.channelId ? (
              <>
                {' '}
                through channel <Hash value={step.answer.channelId} />, {step.answer.cumulative} AGORA
                committed in all
              </>
            ) : null}
          </p>
          <table>
            <thead>
              <tr>
                <th>row</th>
                <th>class</th>
                <th class="num">probability</th>
              </tr>
            </thead>
            <tbody>
              {step.answer.predictions.map((p, i) => (
                <tr key={String(i)} data-testid="query-prediction">
                  <td>{i}</td>
                  <td>{p.class}</td>
                  <td class="num">{Math.max(...p.probabilities).toFixed(3)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </div>
  );
}
