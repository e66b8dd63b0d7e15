/** `agora devnet --json FILE` end to end as a process: a short 2-provider job, the summary file, stderr progress. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from '../helpers/cli.ts';

describe('agora devnet (CLI)', () => {
  it('runs a job and writes the summary to --json FILE', async () => {
    const home = tempHome();
    const file = join(home, 'devnet.json');
    const r = await runCli(
      [
        '--home',
        home,
        'devnet',
        '--port',
        '0',
        '--exit',
        '--providers',
        '2',
        '--rounds',
        '3',
        '--json',
        file,
      ],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /round 3\/3: train loss [\d.]+, test acc [\d.]+%, [\d.]+ MB sent\/worker, committed with 2\/2 providers' records/,
    );
    const s = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(s)).toEqual(
      expect.arrayContaining([
        'jobId',
        'task',
        'metric',
        'value',
        'centralizedValue',
        'rounds',
        'testAccuracy',
        'centralizedAccuracy',
        'bytesPerWorker',
        'ddpBytesPerWorker',
        'rewards',
        'slashed',
        'provenanceManifest',
      ]),
    );
    expect(s.jobId).toBe('1');
    expect(s).toMatchObject({ task: 'image', metric: 'accuracy', value: s.testAccuracy });
    expect(s.rounds).toBe(3);
    expect(s.rewards.every((x: { claimed: boolean }) => x.claimed)).toBe(true);
    expect(s.rewards.reduce((a: bigint, x: { amount: string }) => a + BigInt(x.amount), 0n)).toBe(
      BigInt(s.funded),
    );
    expect(existsSync(s.provenanceManifest)).toBe(true);
    expect(JSON.parse(r.stdout).job.jobId).toBe('1');
  }, 150_000);
});
