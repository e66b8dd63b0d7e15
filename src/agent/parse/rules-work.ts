/**
 * Rules for training jobs, rewards and paid model queries, and the job-id and unsupported-verb helpers.
 */
import {
  amountOf,
  type Ctx,
  has,
  integerOf,
  isHedged,
  isNegated,
  notARequest,
  phrase,
  unexplainedWord,
  vagueQuantity,
} from './context.ts';
import { COMMON, isKnownWord } from './lexicon.ts';
import type { NumberSpan } from './numbers.ts';
import { call, clarify, type ParseResult } from './result.ts';

const TRANSFER_VERBS = ['send', 'transfer', 'pay', 'give', 'wire', 'tip', 'move'];

/** The single integer id among the number spans, or a reason there is none. */
export function oneId(spans: NumberSpan[]): string | 'none' | 'many' | 'bad' {
  if (spans.length === 0) return 'none';
  if (spans.length > 1) return 'many';
  return integerOf(spans[0]!) ?? 'bad';
}

const ID_FILLERS = new Set(['number', 'no', 'id', 'nr', '#']);

/**
 * The id of a job: the number right after one of `anchors` ("job 4", "job number 4", "status 8",
 * "claim 14"); else the only number in the text, unless the text also speaks of sending money.
 */
function jobIdOf(ctx: Ctx, anchors: readonly string[], loneNumber = true): string | 'none' | 'many' | 'bad' {
  const near = new Set<NumberSpan>();
  ctx.ts.forEach((t, i) => {
    if (t.kind !== 'word' || !anchors.includes(t.norm)) return;
    let j = i + 1;
    while (ctx.ts[j]?.kind === 'word' && ID_FILLERS.has(ctx.ts[j]!.norm)) j++;
    const s = ctx.nums.find((x) => x.start === j);
    if (s) near.add(s);
  });
  // "jobs 3 and 4": another number besides the anchored one means more than one job.
  if (near.size > 0) return ctx.nums.length > near.size ? 'many' : oneId([...near]);
  if (!loneNumber || has(ctx, ...TRANSFER_VERBS)) return ctx.nums.length > 0 ? 'bad' : 'none';
  return oneId(ctx.nums);
}

/** Actions no tool does: a sentence with one of them is never read as a look-up ("unregister dataset 4"). */
const UNSUPPORTED = [
  'unregister',
  'cancel',
  'abort',
  'delete',
  'remove',
  'edit',
  'rename',
  'update',
  'sell',
  'buy',
  'swap',
  'stake',
  'unstake',
  'lend',
  'borrow',
  'burn',
  'mint',
  'bridge',
  'stop',
  'pause',
  'resume',
  'restart',
  'kill',
  'retry',
  'fork',
  'copy',
];

export function unsupported(ctx: Ctx): ParseResult | undefined {
  const verb = UNSUPPORTED.find((v) => ctx.words.has(v));
  return verb ? clarify(`I can't ${verb} that from here. What else can I do?`) : undefined;
}

// ---------------------------------------------------------------- rewards

export const rewardsRule = (ctx: Ctx): ParseResult | undefined => {
  const claiming =
    has(ctx, 'claim', 'collect', 'withdraw', 'payout', 'redeem') ||
    (has(ctx, 'rewards', 'reward', 'earnings', 'earned') && has(ctx, 'get', 'take', 'cash'));
  if (!claiming) return undefined;
  const guard = notARequest(ctx, 'claim');
  if (guard) return clarify(guard);
  // A value-moving claim takes its job id only from "job N" / "claim N", never from any number around.
  const id = jobIdOf(ctx, ['job', 'jobs', 'claim', 'rewards', 'reward'], false);
  if (id === 'none') return clarify('From which job should I claim your rewards? Give its id.');
  if (id === 'many' || id === 'bad') return clarify('Which one job (its id) should I claim rewards from?');
  const extra = unexplainedWord(ctx);
  if (extra)
    return clarify(
      `I'm not sure what "${extra}" means here. Claim your rewards from job ${id}? Say it plainly to confirm.`,
    );
  return call('rewards.claim', { jobId: id });
};

// ---------------------------------------------------------------- jobs

const CREATE_VERBS = ['create', 'post', 'start', 'kick', 'launch', 'new', 'train', 'submit', 'begin', 'open'];
const STATUS_WORDS = [
  'status',
  'progress',
  'doing',
  'finished',
  'completed',
  'complete',
  'done',
  'going',
  'happening',
  'check',
  'state',
  'running',
  'news',
  'update',
  'updates',
];

function taskOf(ctx: Ctx): { task: string; used: number } | { problem: string } | undefined {
  const tasks = ctx.tasks;
  for (let i = 0; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (t.kind !== 'word') continue;
    const exact = tasks.find((k) => k === t.norm);
    if (exact) return { task: exact, used: i };
  }
  for (let i = 0; i < ctx.ts.length; i++) {
    const t = ctx.ts[i]!;
    if (t.kind !== 'word' || isKnownWord(t.norm)) continue;
    const prefixed = tasks.filter((k) => k.startsWith(`${t.norm}-`));
    if (prefixed.length === 1) return { task: prefixed[0]!, used: i };
    if (prefixed.length > 1) return { problem: `Which ${t.norm} task: ${prefixed.join(' or ')}?` };
    if (ctx.ts[i - 1]?.norm === 'task' && /^[a-z][a-z0-9-]+$/.test(t.norm)) {
      return { problem: `I don't know the task "${t.norm}". Tasks: ${tasks.join(', ')}.` };
    }
  }
  return undefined;
}

const WORKER_WORDS = new Set([
  'workers',
  'worker',
  'providers',
  'provider',
  'nodes',
  'machines',
  'peers',
  'gpus',
]);
const ROUND_WORDS = new Set(['rounds', 'round']);

export const jobRule = (ctx: Ctx): ParseResult | undefined => {
  const jobWord = has(ctx, 'job', 'jobs', 'training');
  const creating = has(ctx, ...CREATE_VERBS) && (jobWord || has(ctx, 'train'));
  const status =
    jobWord &&
    (has(ctx, ...STATUS_WORDS) ||
      phrase(
        ctx,
        /\bwhat's up with\b|\bnews (on|about)\b|^(show|see|view|get)( me)?( the)? (training )?job\b|^job( #)? \d+$|\b(how's|how is|where is|is|has) (my )?(training )?job\b/,
      ));
  if (status && !(creating && taskOf(ctx))) {
    const no = unsupported(ctx);
    if (no) return no;
    const id = jobIdOf(ctx, ['job', 'jobs', 'status']);
    if (id === 'none' && has(ctx, ...TRANSFER_VERBS)) return undefined;
    if (id === 'none') return clarify('Which job? Give its id, e.g. "status of job 4".');
    if (id === 'many' || id === 'bad') return clarify('Which one job (its id)?');
    return call('job.status', { jobId: id });
  }
  if (!creating && !(jobWord && taskOf(ctx))) return undefined;
  if (has(ctx, 'cancel', 'stop', 'abort', 'delete')) return undefined;
  const guard = notARequest(ctx, 'post');
  if (guard) return clarify(guard);
  const task = taskOf(ctx);
  if (task === undefined) return clarify(`Which task should the job train? Tasks: ${ctx.tasks.join(', ')}.`);
  if ('problem' in task) return clarify(task.problem);

  const args: Record<string, unknown> = { task: task.task };
  const used = new Set<NumberSpan>();
  const spanStarting = (i: number) => ctx.nums.find((s) => s.start === i);
  const spanEnding = (i: number) => ctx.nums.find((s) => s.end === i);
  const ts = ctx.ts;
  // datasets: "dataset(s) 1, 2 and 3" (a number followed by "workers"/"rounds"/"agora" is not an id)
  const countWord = (j: number) => {
    const w = ts[j]?.norm ?? '';
    return WORKER_WORDS.has(w) || ROUND_WORDS.has(w) || ['per', 'agora', 'tokens', 'token', 'a'].includes(w);
  };
  for (let i = 0; i < ts.length; i++) {
    if (!['dataset', 'datasets', 'data'].includes(ts[i]!.norm) || ts[i]!.kind !== 'word') continue;
    const ids: string[] = [];
    let j = i + 1;
    let afterAnd = false;
    while (j < ts.length) {
      const s = spanStarting(j);
      if (s) {
        if (countWord(s.end) && !spanStarting(s.end + 1)) break;
        const id = integerOf(s);
        if (id === undefined) return clarify('Dataset ids are whole numbers: which datasets?');
        ids.push(id);
        used.add(s);
        j = s.end;
        if (afterAnd) break;
      } else if (['and', '&'].includes(ts[j]!.norm)) {
        afterAnd = true;
        j++;
      } else if (['number', 'ids', 'numbers', '#'].includes(ts[j]!.norm)) {
        j++;
      } else break;
    }
    if (ids.length)
      args.datasets = [...(Array.isArray(args.datasets) ? (args.datasets as string[]) : []), ...ids];
  }
  // workers and rounds, in the order they are written: "4 workers", "workers 4", "rounds 100 workers 2"
  for (let i = 0; i < ts.length; i++) {
    const w = ts[i]!.kind === 'word' ? ts[i]!.norm : '';
    const key = WORKER_WORDS.has(w) ? 'workers' : ROUND_WORDS.has(w) ? 'rounds' : undefined;
    if (!key || args[key] !== undefined) continue;
    const before = spanEnding(i);
    const s = before && !used.has(before) ? before : spanStarting(i + 1);
    if (!s || used.has(s)) continue;
    const v = integerOf(s);
    if (v === undefined || v === '0') return clarify(`The number of ${key} must be a whole number above 0.`);
    args[key] = Number(v);
    used.add(s);
  }
  // price: "price 2", "at 1.5 agora per round", "0.25 agora per round"
  for (const s of ctx.nums) {
    if (used.has(s)) continue;
    const before = ts[s.start - 1]?.norm;
    const after = [ts[s.end]?.norm, ts[s.end + 1]?.norm, ts[s.end + 2]?.norm];
    const perRound =
      (after[0] === 'per' && ROUND_WORDS.has(after[1] ?? '')) ||
      (['agora', 'tokens', 'token'].includes(after[0] ?? '') &&
        after[1] === 'per' &&
        ROUND_WORDS.has(after[2] ?? '')) ||
      (['agora', 'tokens', 'token'].includes(after[0] ?? '') &&
        after[1] === 'a' &&
        ROUND_WORDS.has(after[2] ?? ''));
    if (before === 'price' || before === 'at' || perRound) {
      const a = amountOf(s);
      if ('problem' in a) return clarify(a.problem);
      args.price = a.amount;
      used.add(s);
    }
  }
  const vague = vagueQuantity(ctx);
  if (vague)
    return clarify(
      `"${vague}" is not a number I can escrow for. How many workers and rounds, at what price?`,
    );
  for (const [words, key] of [
    [WORKER_WORDS, 'workers'],
    [ROUND_WORDS, 'rounds'],
    [new Set(['price']), 'price'],
  ] as const) {
    const named = ctx.ts.some(
      (t, i) =>
        t.kind === 'word' &&
        words.has(t.norm) &&
        !['per', 'a', 'each', 'every'].includes(ctx.ts[i - 1]?.norm ?? ''),
    );
    if (args[key] === undefined && named) {
      return clarify(`How many ${key === 'price' ? 'AGORA per round per worker' : key}?`);
    }
  }
  const leftover = ctx.nums.filter((s) => !used.has(s));
  if (leftover.length > 0) {
    return clarify(
      'I did not understand every number there. Say it as e.g. "train mnist-mlp on datasets 1 and 2 with 4 workers for 50 rounds at 1 AGORA per round".',
    );
  }
  return call('job.create', args);
};

// ---------------------------------------------------------------- model.query

const MODEL_NOT_NAMES = new Set([
  'a',
  'an',
  'the',
  'this',
  'that',
  'my',
  'your',
  'some',
  'any',
  'query',
  'on',
  'with',
  'to',
]);

function modelName(ctx: Ctx): { name: string; index: number } | undefined {
  const ts = ctx.ts;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (t.kind !== 'word' || (t.norm !== 'model' && t.norm !== 'models')) continue;
    let j = i + 1;
    if (ts[j]?.norm === 'query' || ts[j]?.norm === 'named' || ts[j]?.norm === 'called') j++;
    const next = ts[j];
    if (
      next &&
      (next.kind === 'word' || next.kind === 'number') &&
      !MODEL_NOT_NAMES.has(next.norm) &&
      !(next.kind === 'word' && COMMON.has(next.norm))
    ) {
      if (next.kind === 'number' && integerOf(ctx.nums.find((s) => s.start === j)!) === undefined)
        return undefined;
      if (next.kind === 'word' && isKnownWord(next.norm) && !next.norm.includes('-')) {
        // "model to classify" etc.: not a name
      } else {
        return { name: next.text, index: j };
      }
    }
    const prev = ts[i - 1];
    if (prev?.kind === 'word' && !COMMON.has(prev.norm) && !isKnownWord(prev.norm))
      return { name: prev.text, index: i - 1 };
  }
  return undefined;
}

/** "query mnist with x.json": a name right after "query" (no "model" word), before with/on/about. */
function queriedName(ctx: Ctx): { name: string; index: number } | undefined {
  const ts = ctx.ts;
  for (let i = 0; i + 2 < ts.length; i++) {
    if (ts[i]!.kind !== 'word' || ts[i]!.norm !== 'query') continue;
    const name = ts[i + 1]!;
    const after = ts[i + 2]!;
    if (
      name.kind === 'word' &&
      !isKnownWord(name.norm) &&
      !COMMON.has(name.norm) &&
      !MODEL_NOT_NAMES.has(name.norm) &&
      after.kind === 'word' &&
      (after.norm === 'with' || after.norm === 'on' || after.norm === 'about')
    )
      return { name: name.text, index: i + 1 };
  }
  return undefined;
}

const QUERY_VERBS = [
  'query',
  'predict',
  'classify',
  'ask',
  'run',
  'use',
  'say',
  'says',
  'infer',
  'score',
  'prediction',
  'predictions',
  'feed',
  'look',
];

export const modelRule = (ctx: Ctx): ParseResult | undefined => {
  const urls = ctx.ts.filter((t) => t.kind === 'url');
  const mentionsModel = has(ctx, 'model', 'models');
  const asking =
    (mentionsModel &&
      (has(ctx, ...QUERY_VERBS, 'input') ||
        phrase(ctx, /^model query\b/) ||
        phrase(ctx, /^(please )?send <(path|json)> to\b/))) ||
    (urls.length > 0 && has(ctx, ...QUERY_VERBS, 'send'));
  const verbOnly = has(ctx, 'predict', 'classify', 'infer', 'prediction', 'predictions', 'score');
  const queried = mentionsModel || urls.length > 0 ? undefined : queriedName(ctx);
  if (!asking && !verbOnly && !queried) return undefined;
  // "what would the clinic model predict for x.json" asks for the prediction itself.
  const asksForAnswer = phrase(ctx, /^what (does|would|will|did) .*\b(predict|say|says|think)\b/);
  const guard =
    asksForAnswer && !has(ctx, 'did')
      ? isNegated(ctx) || isHedged(ctx)
        ? 'That is not a definite request, so I will not buy a prediction. Say exactly what to ask, once.'
        : undefined
      : notARequest(ctx, 'buy');
  if (guard) return clarify(guard);
  if (urls.length > 1) return clarify('One server per query: which URL should answer?');
  if (has(ctx, 'or')) return clarify('Which model should answer? Name one.');
  const model = urls[0]
    ? { name: urls[0].text, index: ctx.ts.indexOf(urls[0]) }
    : (queried ?? modelName(ctx));
  if (!model)
    return clarify(
      'Which model should answer? Give its name, job id or server URL, e.g. "query model digits with image.png".',
    );
  const inputs = ctx.ts.filter(
    (t, i) => i !== model.index && (t.kind === 'quoted' || t.kind === 'json' || t.kind === 'path'),
  );
  if (inputs.length === 0)
    return clarify(`What input should model ${model.name} predict on? Give a file, quoted text or JSON.`);
  if (inputs.length > 1) return clarify('One input per query: which one?');
  return call('model.query', { model: model.name, input: inputs[0]!.text });
};
