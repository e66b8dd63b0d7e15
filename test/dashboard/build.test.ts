/**
 * The committed dashboard build (web/dist/) is what the sources give (fingerprint recorded by
 * `npm run build:dashboard`), its page loads only files that exist, and its JavaScript stays under
 * 300 kB gzipped (measured here from the files).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bundleSizes,
  DIST_DIR,
  dashboardFingerprint,
  readBuildInfo,
} from '../../src/dashboard/build-info.ts';

describe('dashboard build', () => {
  it('web/dist is fresh: built from the current sources (else run `npm run build:dashboard`)', () => {
    const info = readBuildInfo();
    expect(info, 'web/dist/build-info.json is missing: run `npm run build:dashboard`').toBeDefined();
    expect(info?.fingerprint, 'web/dist is stale: run `npm run build:dashboard` and commit web/dist').toBe(
      dashboardFingerprint(),
    );
  });

  it('the page references only files of the build, and the JavaScript is under 300 kB gzipped', () => {
    const html = readFileSync(join(DIST_DIR, 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.some((r) => r.endsWith('.js'))).toBe(true);
    for (const r of refs) expect(existsSync(join(DIST_DIR, r)), r).toBe(true);
    const sizes = bundleSizes();
    console.log(
      `dashboard JavaScript: ${(sizes.jsGzip / 1024).toFixed(1)} kB gzipped, ${sizes.files.length} files`,
    );
    expect(sizes.jsGzip).toBeGreaterThan(10_000); // Preact + uPlot + the pages are in it
    expect(sizes.jsGzip).toBeLessThan(300 * 1024);
  });
});
