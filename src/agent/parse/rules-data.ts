/**
 * Rules for datasets: register a file (with its SPDX licence and sector, as said) and show one by id.
 */
import { SPDX_LICENCES } from '../../data/licences.ts';
import { type Ctx, has, notARequest, phrase } from './context.ts';
import { COMMON, isKnownWord } from './lexicon.ts';
import { call, clarify, type ParseResult } from './result.ts';
import { oneId, unsupported } from './rules-work.ts';
import type { Token } from './tokens.ts';

// ---------------------------------------------------------------- licences and sectors

const squash = (s: string): string => s.toLowerCase().replace(/[\s_-]+/g, '');
const LICENCE_BY_SQUASH = new Map(SPDX_LICENCES.map((id) => [squash(id), id]));
const LICENCE_ALIASES: Record<string, string> = {
  apache: 'Apache-2.0',
  apache2: 'Apache-2.0',
  apache20: 'Apache-2.0',
  'apache2.0': 'Apache-2.0',
  apachev2: 'Apache-2.0',
  cc0: 'CC0-1.0',
  publicdomain: 'CC0-1.0',
  ccby: 'CC-BY-4.0',
  ccby4: 'CC-BY-4.0',
  ccbysa: 'CC-BY-SA-4.0',
  ccbysa4: 'CC-BY-SA-4.0',
  ccbync: 'CC-BY-NC-4.0',
  ccbync4: 'CC-BY-NC-4.0',
  gpl3: 'GPL-3.0-only',
  'gpl3.0': 'GPL-3.0-only',
  gplv3: 'GPL-3.0-only',
  gpl2: 'GPL-2.0-only',
  'gpl2.0': 'GPL-2.0-only',
  gplv2: 'GPL-2.0-only',
  agpl3: 'AGPL-3.0-only',
  'agpl3.0': 'AGPL-3.0-only',
  lgpl3: 'LGPL-3.0-only',
  'lgpl3.0': 'LGPL-3.0-only',
  'mpl2.0': 'MPL-2.0',
  mpl2: 'MPL-2.0',
  odbl: 'ODbL-1.0',
  unlicense: 'Unlicense',
};

function licenceFrom(s: string): string | undefined {
  const q = squash(s);
  return LICENCE_BY_SQUASH.get(q) ?? LICENCE_ALIASES[q] ?? LICENCE_ALIASES[q.replace(/\.0$/, '')];
}

/** An SPDX licence named anywhere in the text (1–3 consecutive tokens), canonical spelling. */
export function findLicence(ctx: Ctx): string | undefined {
  const ts = ctx.ts;
  for (let i = 0; i < ts.length; i++) {
    if (ts[i]!.kind === 'quoted' || ts[i]!.kind === 'path') continue;
    for (let n = 3; n >= 1; n--) {
      if (i + n > ts.length) continue;
      const parts = ts.slice(i, i + n);
      if (parts.some((t) => t.kind !== 'word' && t.kind !== 'number')) continue;
      const joined = parts.map((t) => (t.kind === 'word' ? t.norm : t.text)).join(' ');
      if (n === 1 && COMMON.has(joined)) continue;
      const id = licenceFrom(joined);
      if (id) return id;
    }
    const t = ts[i]!;
    if (t.kind === 'word' && /^licenseref-[a-z0-9.-]+$/.test(t.norm)) return `LicenseRef-${t.text.slice(11)}`;
  }
  return undefined;
}

const SECTOR_WORD = /^[a-z][a-z0-9-]{1,31}$/;

function sectorWord(t: Token | undefined): string | undefined {
  if (t?.kind !== 'word') return undefined;
  const w = t.corrected ?? t.norm;
  return SECTOR_WORD.test(w) && (t.corrected !== undefined || !isKnownWord(w)) ? w : undefined;
}

/** The sector: "sector text", "in the health sector", "as vision data". */
export function findSector(ctx: Ctx): string | undefined {
  const ts = ctx.ts;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    if (t.kind !== 'word') continue;
    if (t.norm === 'sector') {
      const next = ts[i + 1];
      if (sectorWord(next)) return sectorWord(next);
      if (sectorWord(ts[i - 1])) return sectorWord(ts[i - 1]);
    }
    if ((t.norm === 'data' || t.norm === 'dataset') && sectorWord(ts[i - 1])) {
      const before = ts[i - 2]?.norm;
      if (before === 'as' || ((before === 'a' || before === 'an') && ts[i - 3]?.norm === 'as'))
        return sectorWord(ts[i - 1]);
    }
    // "for vision, licence …" / "… for health"
    if (
      t.norm === 'for' &&
      sectorWord(ts[i + 1]) &&
      (ts[i + 1]!.sep ||
        i + 2 === ts.length ||
        ['licence', 'license', 'under', 'with'].includes(ts[i + 2]?.norm ?? ''))
    ) {
      return sectorWord(ts[i + 1]);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- data

const DATA_ADD_VERBS = ['register', 'add', 'upload', 'publish', 'contribute', 'share', 'submit', 'attest'];

export const dataRule = (ctx: Ctx): ParseResult | undefined => {
  const dataWord = has(ctx, 'data', 'dataset', 'datasets', 'file');
  const paths = ctx.ts.filter((t) => t.kind === 'path');
  const adding = has(ctx, ...DATA_ADD_VERBS);
  if (adding && (paths.length > 0 || dataWord)) {
    const guard = notARequest(ctx, 'register');
    if (guard) return clarify(guard);
    if (paths.length === 0) return clarify('Which file or directory should I register as a dataset?');
    if (paths.length > 1) return clarify('One dataset at a time: which file or directory?');
    const args: Record<string, unknown> = { file: paths[0]!.text };
    const licence = findLicence(ctx);
    if (licence) args.licence = licence;
    else if (has(ctx, 'licence', 'license', 'licensed')) {
      return clarify('Which licence (an SPDX id such as MIT, CC-BY-4.0 or CC0-1.0)?');
    }
    const sector = findSector(ctx);
    if (sector) args.sector = sector;
    return call('data.add', args);
  }
  if (has(ctx, 'dataset', 'datasets') || phrase(ctx, /^data (show|info)\b/)) {
    const no = unsupported(ctx);
    if (no) return no;
    const id = oneId(ctx.nums);
    if (id === 'none') return clarify('Which dataset? Give its id, e.g. "show dataset 3".');
    if (id === 'many' || id === 'bad') return clarify('Which one dataset (its id)?');
    return call('data.show', { datasetId: id });
  }
  if (has(ctx, 'data') && has(ctx, 'show', 'info', 'describe', 'details')) {
    return clarify('Which dataset? Give its id, e.g. "show dataset 3".');
  }
  return undefined;
};
