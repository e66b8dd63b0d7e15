/**
 * Rules for the address book: add (a name for a 0x address or ENS-like name), list, remove.
 */
import { CONTACT_NAME_RE } from '../catalogue.ts';
import { type Ctx, findParties, has, phrase } from './context.ts';
import { isKnownWord } from './lexicon.ts';
import { call, clarify, type ParseResult } from './result.ts';

const ADD_VERBS = ['add', 'save', 'store', 'remember', 'new', 'call', 'create', 'record', 'label', 'name'];
const REMOVE_VERBS = ['remove', 'delete', 'forget', 'drop', 'rm', 'erase', 'rid'];

function contactTopic(ctx: Ctx): boolean {
  return has(ctx, 'contact', 'contacts') || phrase(ctx, /\baddress ?book\b|\baddressbook\b/);
}

/** Candidate names for a new contact: quoted, after "called"/"named", or words that are not vocabulary. */
function nameCandidates(ctx: Ctx): { text: string; index: number }[] {
  const quoted = ctx.ts.findIndex((t) => t.kind === 'quoted');
  if (quoted >= 0) return [{ text: ctx.ts[quoted]!.text.trim(), index: quoted }];
  const out: { text: string; index: number }[] = [];
  ctx.ts.forEach((t, i) => {
    if (t.kind !== 'word' || t.corrected) return;
    const prev = ctx.ts[i - 1]?.norm;
    const raw = t.text.replace(/'s$|’s$/, '').replace(/[:,]$/, '');
    if (!CONTACT_NAME_RE.test(raw)) return;
    if (prev === 'called' || prev === 'named' || prev === 'name') {
      out.unshift({ text: raw, index: i });
      return;
    }
    if (isKnownWord(t.norm)) return;
    out.push({ text: raw, index: i });
  });
  // "called X" wins over other words.
  const named = out.find((c) => ['called', 'named', 'name'].includes(ctx.ts[c.index - 1]?.norm ?? ''));
  return named ? [named] : out;
}

export const contactsRule = (ctx: Ctx): ParseResult | undefined => {
  const topic = contactTopic(ctx);
  const addresses = ctx.ts.filter((t) => t.kind === 'address' || t.kind === 'ens');
  const adding = has(ctx, ...ADD_VERBS) || phrase(ctx, /\bis <(addr|ens)>|<(addr|ens)> is\b/);
  const removing = has(ctx, ...REMOVE_VERBS);
  const listing =
    topic ||
    phrase(
      ctx,
      /^who do i know\b|^(list|show)( me)?( all)?( my)? (people|names|saved people)$|\b(names|people|addresses) (have )?i (have )?(saved|stored|added)\b/,
    );

  // add: a name for an address
  if (adding && !removing && (addresses.length > 0 || topic)) {
    if (has(ctx, 'send', 'transfer', 'pay', 'channel', 'delegate', 'vote', 'fund', 'dataset', 'data'))
      return undefined;
    if (addresses.length > 1)
      return clarify('One contact at a time: which address should I save, under which name?');
    const names = nameCandidates(ctx);
    if (addresses.length === 0) {
      if (topic && !has(ctx, 'add', 'save', 'store', 'new', 'create', 'remember')) return undefined;
      return clarify(
        names.length === 1
          ? `What is ${names[0]!.text}'s address (0x… or an ENS-like name)?`
          : 'Which name and which address (0x… or ENS-like name) should I save?',
      );
    }
    if (names.length === 0) return clarify(`What name should I save ${addresses[0]!.text} under?`);
    if (names.length > 1) {
      return clarify(
        `Which is the name for ${addresses[0]!.text}: ${names.map((n) => n.text).join(' or ')}?`,
      );
    }
    return call('contacts.add', { name: names[0]!.text, address: addresses[0]!.text });
  }

  // remove
  if (removing && !adding) {
    if (
      !topic &&
      !ctx.ts.some((t) => t.kind === 'word' && ctx.contactByLower.has(t.norm)) &&
      ctx.contacts !== undefined
    ) {
      return has(ctx, 'forget', 'remove', 'delete', 'rm') &&
        ctx.nums.length === 0 &&
        !has(ctx, 'data', 'dataset', 'job')
        ? removeTarget(ctx)
        : undefined;
    }
    if (!topic && ctx.contacts === undefined && has(ctx, 'data', 'dataset', 'job', 'channel'))
      return undefined;
    return removeTarget(ctx);
  }

  if (listing && !adding && !removing) {
    if (has(ctx, 'send', 'pay', 'transfer')) return undefined;
    return call('contacts.list', {});
  }
  return undefined;
};

function removeTarget(ctx: Ctx): ParseResult {
  const parties = findParties(ctx).filter((p) => p.status !== 'me');
  if (parties.length === 0) return clarify('Which contact should I remove?');
  if (parties.length > 1) return clarify('Which one contact should I remove?');
  const p = parties[0]!;
  if (p.status === 'typo')
    return clarify(`Did you mean ${p.suggestion}? I have no contact named "${p.value}".`);
  if (p.status === 'unknown')
    return clarify(`I have no contact named "${p.value}". Which contact should I remove?`);
  if (p.status === 'bad-address') return clarify('Which contact (by name) should I remove?');
  if (!CONTACT_NAME_RE.test(p.value)) return clarify('Contacts are removed by name: which one?');
  return call('contacts.remove', { name: p.value });
}
