/**
 * The built page's bookkeeping: the fingerprint of everything the page is built from (web/,
 * the shared modules of src/dashboard/ it imports, and the versions of the packages it bundles),
 * recorded in web/dist/build-info.json by `npm run build:dashboard`, so a test can tell when the
 * committed build is stale; and the size of the JavaScript it ships, raw and gzipped.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WEB_DIR = join(REPO_ROOT, 'web');
export const DIST_DIR = join(WEB_DIR, 'dist');
export const BUILD_INFO = join(DIST_DIR, 'build-info.json');

/** Modules of src/dashboard/ that the page imports (pure, no Node APIs). */
const SHARED = ['types.ts', 'patch.ts', 'views.ts', 'record-proof.ts'];
const BUNDLED_PACKAGES = ['vite', 'preact', '@preact/preset-vite', 'uplot', '@noble/hashes'];

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : [p];
    })
    .sort();
}

export function dashboardSources(): string[] {
  return [
    join(WEB_DIR, 'index.html'),
    join(WEB_DIR, 'vite.config.ts'),
    ...walk(join(WEB_DIR, 'src')),
    ...SHARED.map((f) => join(REPO_ROOT, 'src', 'dashboard', f)),
  ];
}

export function dashboardFingerprint(): string {
  const h = createHash('sha256');
  for (const f of dashboardSources()) {
    h.update(relative(REPO_ROOT, f));
    h.update('\0');
    h.update(readFileSync(f));
    h.update('\0');
  }
  for (const p of BUNDLED_PACKAGES) {
    const pkg = join(REPO_ROOT, 'node_modules', p, 'package.json');
    h.update(
      `${p}@${existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version : '?'}\0`,
    );
  }
  return h.digest('hex');
}

export type BundleSizes = {
  files: { file: string; bytes: number; gzip: number }[];
  jsGzip: number;
  totalGzip: number;
};

export function bundleSizes(dist = DIST_DIR): BundleSizes {
  const files = walk(dist)
    .filter((f) => /\.(js|css|html)$/.test(f))
    .map((f) => {
      const b = readFileSync(f);
      return { file: relative(dist, f), bytes: b.length, gzip: gzipSync(b, { level: 9 }).length };
    });
  return {
    files,
    jsGzip: files.filter((f) => f.file.endsWith('.js')).reduce((n, f) => n + f.gzip, 0),
    totalGzip: files.reduce((n, f) => n + f.gzip, 0),
  };
}

export type BuildInfo = { fingerprint: string; sizes: BundleSizes };

export function readBuildInfo(): BuildInfo | undefined {
  return existsSync(BUILD_INFO) ? (JSON.parse(readFileSync(BUILD_INFO, 'utf8')) as BuildInfo) : undefined;
}
