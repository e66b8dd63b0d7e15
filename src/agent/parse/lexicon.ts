/**
 * The parser's vocabulary: the keywords its rules look for (the only words a typo is corrected to),
 * common words that are never corrected and never taken for a contact name, units and currencies, and
 * the typo corrector (Damerau–Levenshtein distance 1, first letter kept for short words). Pure.
 */
import { NUMBER_WORDS } from './numbers.ts';
import type { Token } from './tokens.ts';

/** Words the rules look for; a misspelt word is corrected to one of these at most. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  // money
  'send',
  'transfer',
  'pay',
  'give',
  'wire',
  'tip',
  'move',
  'balance',
  'balances',
  'bal',
  'funds',
  'money',
  'wallet',
  'broke',
  'hold',
  'holds',
  'have',
  'got',
  'own',
  'fund',
  'faucet',
  'drip',
  'devnet',
  'test',
  'gas',
  'top',
  // contacts
  'contact',
  'contacts',
  'address',
  'book',
  'add',
  'save',
  'store',
  'remember',
  'new',
  'call',
  'called',
  'named',
  'remove',
  'delete',
  'forget',
  'drop',
  'rm',
  'list',
  'show',
  'names',
  'people',
  'saved',
  'know',
  // data
  'data',
  'dataset',
  'datasets',
  'register',
  'upload',
  'publish',
  'contribute',
  'share',
  'licence',
  'license',
  'licensed',
  'sector',
  'under',
  'attested',
  'details',
  'describe',
  'info',
  // jobs
  'job',
  'jobs',
  'train',
  'training',
  'task',
  'create',
  'post',
  'start',
  'kick',
  'workers',
  'worker',
  'providers',
  'nodes',
  'rounds',
  'round',
  'price',
  'status',
  'progress',
  'doing',
  'finished',
  'completed',
  'done',
  'going',
  'happening',
  'check',
  // rewards
  'claim',
  'collect',
  'withdraw',
  'payout',
  'earnings',
  'earned',
  'rewards',
  'reward',
  // channels
  'channel',
  'channels',
  'payment',
  'open',
  'close',
  'shut',
  'end',
  'deposit',
  'funded',
  'set',
  // governance
  'vote',
  'votes',
  'voting',
  'abstain',
  'support',
  'against',
  'favour',
  'favor',
  'approve',
  'reject',
  'oppose',
  'proposal',
  'propose',
  'delegate',
  'power',
  'governance',
  'gov',
  'because',
  'since',
  'reason',
  'titled',
  'title',
  'fee',
  'fees',
  'slash',
  'slashing',
  'stake',
  'treasury',
  'challenge',
  'period',
  'minimum',
  'maximum',
  // models
  'model',
  'models',
  'query',
  'predict',
  'prediction',
  'classify',
  'ask',
  'run',
  'use',
  'input',
  'score',
  'predictions',
  'server',
  'feed',
  'look',
  // units
  'agora',
  'tokens',
  'token',
  'seconds',
  'minutes',
  'hours',
  'percent',
  'bps',
]);

/** Other currencies: a transfer naming one of these is not an AGORA transfer. */
export const OTHER_CURRENCIES: ReadonlySet<string> = new Set([
  'eth',
  'ether',
  'btc',
  'bitcoin',
  'bitcoins',
  'usd',
  'usdc',
  'usdt',
  'dai',
  'dollar',
  'dollars',
  'bucks',
  'euro',
  'euros',
  'eur',
  'gbp',
  'pounds',
  'wei',
  'gwei',
  'sol',
  'matic',
]);

export const AGORA_UNITS: ReadonlySet<string> = new Set(['agora', 'agoras', 'tokens', 'token', 'agr']);

/** Common words: never corrected, never a contact name. */
export const COMMON: ReadonlySet<string> = new Set(
  `a an the to of for from with without on in into onto at by about as and or but then also and/or so if
  i me my mine myself you your yours we us our it its it's this that these those there here what what's whats
  who who's whom which where where's when why how how's is are was were be been being am do does did don't dont
  doesn't didn't not no never yes yeah yep nope ok okay please pls plz thanks thank thx can could would will
  shall should may might must i'd i'm i've i'll id im ive like want wanna need needs let let's lets get gets
  make makes some any all every each everything anything nothing few couple several lots lot many much more
  most less least rest enough whatever bit little just only also too very really now today again back over
  up down out off one's someone somebody anyone sir hi hello hey yo good morning evening afternoon night
  thanks cheers help joke tell say says said mean please kindly quickly asap right away go ahead sure
  current currently left over stuff thing things something way ways work works hello there
  ignore previous instructions instruction above prior system prompt name rid news update updates
  his her hers their theirs them they he she him account rich last next week weeks month months year years
  day days today yesterday tonight tomorrow hour hours minute minutes empty u ur put owe owes owed
  depositing deposited exactly total amount straight directly immediately friend buddy mate pal colleague`.split(
    /\s+/,
  ),
);

/** Damerau–Levenshtein distance (optimal string alignment), capped at `max + 1`. */
export function editDistance(a: string, b: string, max = 2): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** Words of this length or shorter must keep their first letter to be corrected ("jbo" → job, not "bob"). */
const SHORT = 4;

/**
 * Whether `word` is a plausible misspelling of keyword `k`: two adjacent letters swapped, or one
 * letter left out, at any length; one letter wrong or one extra only from 6 letters on, so that short
 * real words ("text", "news", "bald") are not taken for keywords ("test", "new", "bal").
 */
export function isTypoOf(word: string, k: string): boolean {
  if (word === k) return false;
  if (word.length === k.length) {
    const diff: number[] = [];
    for (let i = 0; i < word.length; i++) if (word[i] !== k[i]) diff.push(i);
    if (
      diff.length === 2 &&
      diff[1] === diff[0]! + 1 &&
      word[diff[0]!] === k[diff[1]!] &&
      word[diff[1]!] === k[diff[0]!]
    ) {
      return true;
    }
    return diff.length === 1 && word.length >= 6;
  }
  const dropsOne = (long: string, short: string): boolean => {
    for (let i = 0; i < long.length; i++) if (long.slice(0, i) + long.slice(i + 1) === short) return true;
    return false;
  };
  if (k.length === word.length + 1) return dropsOne(k, word);
  // a doubled letter ("jobb", "sendd") at any length
  if (word.length === k.length + 1 && /(.)\1/.test(word)) {
    for (let i = 1; i < word.length; i++) {
      if (word[i] === word[i - 1] && word.slice(0, i) + word.slice(i + 1) === k) return true;
    }
  }
  if (word.length === k.length + 1) return word.length >= 7 && dropsOne(word, k);
  return false;
}

/** The unique keyword `word` is a plausible misspelling of, or undefined. */
export function correctWord(word: string, vocabulary: ReadonlySet<string> = KEYWORDS): string | undefined {
  if (word.length < 3 || !/^[a-z]+$/.test(word)) return undefined;
  let best: string | undefined;
  let count = 0;
  for (const k of vocabulary) {
    if (k.length < 3) continue;
    if (word.length <= SHORT && k[0] !== word[0]) continue;
    if (isTypoOf(word, k)) {
      // plural/singular pairs ("vote"/"votes") are the same keyword family: keep the first
      if (best !== undefined && (k.startsWith(best) || best.startsWith(k))) continue;
      best = best ?? k;
      count++;
    }
  }
  return count === 1 ? best : undefined;
}

/** Whether a lower-case word is part of the vocabulary (keyword, common word, number word, unit). */
export function isKnownWord(word: string): boolean {
  return (
    KEYWORDS.has(word) ||
    COMMON.has(word) ||
    NUMBER_WORDS.has(word) ||
    OTHER_CURRENCIES.has(word) ||
    AGORA_UNITS.has(word)
  );
}

/**
 * Corrects misspelt keywords in place (`token.corrected`, `token.norm` becomes the keyword). Words
 * that are known, or that are contact names (`names`, lower case), are left alone.
 */
export function correctTokens(ts: Token[], names: ReadonlySet<string>): void {
  for (const t of ts) {
    if (t.kind !== 'word' || isKnownWord(t.norm) || names.has(t.norm)) continue;
    const k = correctWord(t.norm);
    if (k !== undefined) {
      t.corrected = t.norm;
      t.norm = k;
    }
  }
}
