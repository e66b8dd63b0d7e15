/**
 * `npm run build:dashboard`: builds the dashboard page (web/ → web/dist/, Vite + Preact + uPlot)
 * and records its sources' fingerprint and bundle sizes in web/dist/build-info.json. The build is
 * committed so that `npm install` + `npm start` serve it without a build step;
 * test/dashboard/build.test.ts fails when it is stale. `--check` only compares the fingerprint.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'vite';
import {
  BUILD_INFO,
  type BuildInfo,
  bundleSizes,
  DIST_DIR,
  dashboardFingerprint,
  readBuildInfo,
  WEB_DIR,
} from '../src/dashboard/build-info.ts';

const fingerprint = dashboardFingerprint();
if (process.argv.includes('--check')) {
  const info = readBuildInfo();
  if (info?.fingerprint !== fingerprint) {
    console.error('web/dist is stale: run `npm run build:dashboard` and commit web/dist');
    process.exit(1);
  }
  console.log('web/dist is up to date');
} else {
  const t0 = performance.now();
  await build({ configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
  const info: BuildInfo = { fingerprint, sizes: bundleSizes(DIST_DIR) };
  writeFileSync(BUILD_INFO, `${JSON.stringify(info, null, 2)}\n`);
  for (const f of info.sizes.files)
    console.log(
      `${f.file.padEnd(20)} ${(f.bytes / 1024).toFixed(1).padStart(7)} kB  gzip ${(f.gzip / 1024).toFixed(1).padStart(6)} kB`,
    );
  console.log(
    `JavaScript: ${(info.sizes.jsGzip / 1024).toFixed(1)} kB gzipped (limit 300 kB); built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
