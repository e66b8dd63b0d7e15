/**
 * The autonomous agent's buying: predictions for queued inputs (the policy's `autonomy.buy`), from the
 * cheapest model that meets the requirements. Each pass: gather offers from the model sources (signed
 * announcements of the configured and known servers; a gossip or chain source plugs in as another
 * `ModelSource`), rank them (task, chain, price; `rankCandidates`), measure the accuracy of the
 * cheapest on the agent's own labelled probe when the policy asks for a minimum (paid, cached per model
 * hash), then buy a prediction for each queued input and write it beside the input (or to the output
 * directory). Every purchase is a `model.query` plan confirmed only by the spending policy (deposits
 * and prices count against its cap; the spend is written before it is paid). Inputs and model outputs
 * are data: they are sent and stored, never read as instructions, and nothing in them reaches the
 * policy.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { formatEther } from 'viem';
import { AgoraError } from '../errors.ts';
import {
  endpointSource,
  gatherOffers,
  knownEndpoints,
  type ModelOffer,
  type ModelSource,
} from '../serve/model-offers.ts';
import { parseAmount } from '../wallet/amount.ts';
import {
  type Autonomy,
  type BuyRequirements,
  type Candidate,
  meetsMetric,
  rankCandidates,
} from './autonomy.ts';
import { type AgentEnv, contract } from './env.ts';
import { act, type LoopDeps, policyConfirms } from './loop.ts';
import type { Prediction } from './model-query.ts';
import type { Plan } from './plan.ts';
import type { SpendLedger } from './spend-ledger.ts';
import { planCall } from './tools.ts';

export type BuyRule = NonNullable<Autonomy['buy']>;

export type BuyDecision = {
  kind: 'probe' | 'choose-model' | 'skip-model' | 'buy' | 'skip-buy' | 'error';
  subject: string;
  reason: string;
  amount?: string;
};

const INPUT_RE = /\.(json|png|jpe?g)$/i;
const RESULT_SUFFIX = '.prediction.json';

/** The queued input files (a directory's .json/.png/.jpg files, or one file), oldest name first. */
export function queuedInputs(inputs: string): string[] {
  if (!existsSync(inputs)) {
    throw new AgoraError('BUY_NO_INPUTS', `the input queue ${inputs} does not exist`, {
      hint: 'create the directory (or file) the policy names in autonomy.buy.inputs',
    });
  }
  if (!statSync(inputs).isDirectory()) return [inputs];
  return readdirSync(inputs)
    .filter((f) => INPUT_RE.test(f) && !f.endsWith(RESULT_SUFFIX))
    .sort()
    .map((f) => join(inputs, f));
}

export function resultPath(input: string, output?: string): string {
  return output ? join(output, `${basename(input)}${RESULT_SUFFIX}`) : `${input}${RESULT_SUFFIX}`;
}

function writeAtomic(file: string, v: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(v, null, 2)}\n`);
  renameSync(tmp, file);
}

type Score = { accuracy: number; rows: number; at: string; predictUrl: string };

export class PredictionBuyer {
  readonly #env: AgentEnv;
  readonly #deps: LoopDeps;
  readonly #rule: BuyRule;
  readonly #sources: ModelSource[];
  readonly #decide: (d: BuyDecision) => void;
  /** Decisions already logged (so a pass that changes nothing logs nothing new). */
  readonly #said = new Set<string>();
  readonly #scoresFile: string;

  constructor(o: {
    env: AgentEnv;
    ledger: SpendLedger;
    rule: BuyRule;
    sources?: ModelSource[];
    decide: (d: BuyDecision) => void;
  }) {
    this.#env = o.env;
    this.#deps = { env: o.env, ledger: o.ledger, parse: () => ({ clarify: 'no text' }), yes: true };
    this.#rule = o.rule;
    this.#sources = o.sources ?? [];
    this.#decide = o.decide;
    this.#scoresFile = join(o.env.home, 'agent', 'model-scores.json');
  }

  #once(d: BuyDecision): void {
    const key = `${d.kind}|${d.subject}|${d.reason}`;
    if (this.#said.has(key)) return;
    this.#said.add(key);
    this.#decide(d);
  }

  #scores(): Record<string, Score> {
    return existsSync(this.#scoresFile)
      ? (JSON.parse(readFileSync(this.#scoresFile, 'utf8')) as Record<string, Score>)
      : {};
  }

  #requirements(): BuyRequirements {
    return {
      task: this.#rule.task,
      maxPrice: parseAmount(this.#rule.maxPrice),
      chainId: this.#env.conn.chainId,
      paymentChannels: contract(this.#env, 'PaymentChannels'),
      ...(this.#rule.metric ? { metric: { atLeast: this.#rule.metric.atLeast } } : {}),
    };
  }

  /** Plans a purchase and runs it only if the policy confirms it; undefined (and logged) when not. */
  async #purchase(subject: string, model: string, input: string, rows: number): Promise<Plan | undefined> {
    const plan = await planCall(this.#env, { tool: 'model.query', args: { model, input } });
    const max = parseAmount(this.#rule.maxPrice) * BigInt(rows);
    if (BigInt(plan.params.price ?? '0') > max) {
      this.#once({
        kind: 'skip-buy',
        subject,
        reason: `the server now asks ${formatEther(BigInt(plan.params.price ?? '0'))} AGORA, over the ${formatEther(max)} AGORA maximum`,
      });
      return undefined;
    }
    const ok = policyConfirms(this.#env, this.#deps.ledger, plan);
    if (!ok.ok) {
      this.#once({
        kind: 'skip-buy',
        subject,
        reason: `the spending policy does not allow it: ${ok.reason}`,
      });
      return undefined;
    }
    return plan;
  }

  /** Measures a candidate's accuracy on the probe (one paid request), cached per model hash. */
  async #measure(c: Candidate): Promise<number | undefined> {
    const m = this.#rule.metric;
    if (!m) return undefined;
    const cached = this.#scores()[c.modelHash.toLowerCase()];
    if (cached) return cached.accuracy;
    const lines = readFileSync(m.probe, 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { input: number[]; label: number });
    if (lines.length === 0 || lines.length > 64) {
      throw new AgoraError(
        'BUY_BAD_PROBE',
        `the probe ${m.probe} has ${lines.length} rows; 1 to 64 fit one request`,
      );
    }
    const subject = `model ${c.modelHash} at ${c.predictUrl}`;
    const plan = await this.#purchase(
      subject,
      c.predictUrl,
      JSON.stringify(lines.map((l) => l.input)),
      lines.length,
    );
    if (!plan) return undefined;
    const r = await act(this.#deps, plan, { hash: plan.hash, by: 'policy' });
    const preds = r.data.predictions as Prediction[];
    const right = preds.filter((p, i) => p.class === lines[i]!.label).length;
    const accuracy = right / lines.length;
    writeAtomic(this.#scoresFile, {
      ...this.#scores(),
      [c.modelHash.toLowerCase()]: {
        accuracy,
        rows: lines.length,
        at: new Date().toISOString(),
        predictUrl: c.predictUrl,
      },
    });
    this.#decide({
      kind: 'probe',
      subject,
      reason: `accuracy ${accuracy.toFixed(3)} on ${lines.length} labelled probe rows (needs ≥ ${m.atLeast})`,
      amount: String(r.data.paid),
    });
    return accuracy;
  }

  /** The cheapest candidate meeting the requirements, with the reasons for the others logged. */
  async choose(): Promise<Candidate | undefined> {
    const req = this.#requirements();
    const endpoints = () => [...new Set([...this.#rule.servers, ...knownEndpoints(this.#env.home)])];
    const offers: ModelOffer[] = await gatherOffers(
      [endpointSource(endpoints), ...this.#sources],
      (where, e) => this.#once({ kind: 'error', subject: where, reason: (e as Error).message }),
    );
    const candidates: Candidate[] = offers.map((o) => ({
      predictUrl: o.predictUrl,
      task: o.model.task,
      modelHash: o.model.modelHash,
      chainId: o.chainId,
      paymentChannels: o.paymentChannels,
      unitPrice: BigInt(o.model.unitPrice),
    }));
    const { ranked, rejected } = rankCandidates(candidates, req);
    for (const r of rejected)
      this.#once({
        kind: 'skip-model',
        subject: `model ${r.candidate.modelHash} at ${r.candidate.predictUrl}`,
        reason: r.reason,
      });
    for (const c of ranked) {
      const score = await this.#measure(c);
      const subject = `model ${c.modelHash} at ${c.predictUrl}`;
      if (meetsMetric(req, score)) {
        this.#once({
          kind: 'choose-model',
          subject,
          reason: `cheapest of ${ranked.length} ${req.task} model${ranked.length === 1 ? '' : 's'} within ${this.#rule.maxPrice} AGORA per row (${formatEther(c.unitPrice)})${score !== undefined ? ` with accuracy ${score.toFixed(3)} ≥ ${req.metric?.atLeast}` : ''}`,
        });
        return c;
      }
      this.#once({
        kind: 'skip-model',
        subject,
        reason:
          score === undefined
            ? 'its accuracy could not be measured within the policy'
            : `accuracy ${score.toFixed(3)} is below ${req.metric?.atLeast}`,
      });
    }
    this.#once({
      kind: 'skip-buy',
      subject: 'queue',
      reason: `no ${req.task} model of ${candidates.length} offered meets the requirements`,
    });
    return undefined;
  }

  /** One pass over the queue. */
  async pass(): Promise<void> {
    const pending = queuedInputs(this.#rule.inputs).filter(
      (f) => !existsSync(resultPath(f, this.#rule.output)),
    );
    if (pending.length === 0) return;
    const model = await this.choose();
    if (!model) return;
    for (const input of pending.slice(0, this.#rule.maxPerTick)) {
      try {
        const plan = await this.#purchase(input, model.predictUrl, input, 1);
        if (!plan) return; // the cap (or price) stops this pass; the next period tries again
        const r = await act(this.#deps, plan, { hash: plan.hash, by: 'policy' });
        writeAtomic(resultPath(input, this.#rule.output), {
          input,
          predictUrl: model.predictUrl,
          ...r.data,
          at: new Date().toISOString(),
        });
        // A paid query without a prediction is logged as an error and not bought again.
        this.#decide({
          kind: r.data.error ? 'error' : 'buy',
          subject: input,
          reason: r.summary,
          amount: String(r.data.paid),
        });
      } catch (e) {
        const err = e as { code?: string; message?: string };
        this.#once({
          kind: 'error',
          subject: input,
          reason: `${err.code ?? 'ERROR'}: ${err.message ?? String(e)}`,
        });
      }
    }
  }
}
