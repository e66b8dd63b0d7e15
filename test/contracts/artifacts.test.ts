import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { contractSourcesFingerprint, listContractSources } from '../../src/chain/compiler.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('contract artifacts', () => {
  it('are up to date with contracts/ (else run `npm run build:contracts`)', () => {
    const info = JSON.parse(readFileSync(join(root, 'artifacts/build-info.json'), 'utf8')) as {
      fingerprint: string;
      contracts: string[];
    };
    expect(info.fingerprint, 'artifacts are stale: run `npm run build:contracts`').toBe(
      contractSourcesFingerprint(root),
    );
  });

  it('fingerprint changes when a source list changes (the check can fail)', () => {
    expect(listContractSources(root).length).toBeGreaterThan(0);
    expect(contractSourcesFingerprint(root)).toMatch(/^[0-9a-f]{64}$/);
  });
});
