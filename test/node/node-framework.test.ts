import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalHardwareJson, hardwareDescriptorHash, probeHardware } from '../../src/node/hardware.ts';
import { createLogger } from '../../src/node/logger.ts';
import { type Startable, startAll, stopAll } from '../../src/node/startable.ts';
import { StatusApi } from '../../src/node/status-api.ts';
import { NodeStore } from '../../src/node/store.ts';
import { tempHome } from '../helpers/cli.ts';

describe('NodeStore', () => {
  it('keeps jobs, rounds, signatures, checkpoints and claims across a reopen', () => {
    const path = join(tempHome(), 'node.sqlite');
    const a = new NodeStore(path);
    a.upsertJob(7n, 'provider', 'training', { K: 4 });
    a.saveRound(7n, 0, 'committed', { root: '0x01' });
    a.saveRound(7n, 1, 'signed', { root: '0x02' });
    a.addSignature({
      jobId: '7',
      round: 1,
      kind: 'round',
      signer: '0xABC',
      digest: '0xd',
      signature: '0xs1',
    });
    a.addSignature({
      jobId: '7',
      round: 1,
      kind: 'round',
      signer: '0xabc',
      digest: '0xd',
      signature: '0xs1',
    });
    a.saveCheckpoint({ jobId: '7', round: 1, hash: '0xh', path: '/tmp/c.safetensors' });
    a.recordClaim({ jobId: '7', epoch: 0, account: '0xAcc', amount: 10n ** 24n, proof: ['0x1'] });
    a.close();

    const b = new NodeStore(path);
    expect(b.getJob('7')).toMatchObject({ role: 'provider', state: 'training', data: { K: 4 } });
    expect(b.latestRound(7n)).toMatchObject({ round: 1, state: 'signed' });
    expect(b.listSignatures('7', 1, 'round')).toHaveLength(1);
    expect(b.listSignatures('7', 1, 'round', '0xother')).toHaveLength(0);
    expect(b.latestCheckpoint('7')?.hash).toBe('0xh');
    const [claim] = b.listClaims('pending');
    expect(claim).toMatchObject({ amount: (10n ** 24n).toString(), proof: ['0x1'], account: '0xacc' });
    b.setClaimStatus('7', 0, '0xACC', 'sent', '0xtx');
    expect(b.listClaims('sent')[0]?.txHash).toBe('0xtx');
    expect(() => b.setClaimStatus('7', 9, '0xacc', 'sent')).toThrow(/no recorded claim/);
    b.close();
  });

  it('rolls back a failed transaction completely', () => {
    const s = new NodeStore(':memory:');
    expect(() =>
      s.transaction(() => {
        s.upsertJob('1', 'provider', 'joined');
        throw new Error('crash before commit');
      }),
    ).toThrow('crash before commit');
    expect(s.getJob('1')).toBeUndefined();
    s.close();
  });

  it('reports an unreadable store clearly', () => {
    const notADir = join(tempHome(), 'plain-file');
    writeFileSync(notADir, 'x');
    expect(() => new NodeStore(join(notADir, 'x.sqlite'))).toThrow(/cannot open the node store/);
    const garbage = join(tempHome(), 'garbage.sqlite');
    writeFileSync(garbage, 'this is not a sqlite database, just text that fills the header page'.repeat(100));
    expect(() => new NodeStore(garbage)).toThrow(/node store/);
  });
});

describe('Startable composition', () => {
  it('stops already-started services in reverse order when one fails to start', async () => {
    const log: string[] = [];
    const svc = (name: string, fail = false): Startable => ({
      name,
      async start() {
        if (fail) throw new Error(`${name} failed`);
        log.push(`start ${name}`);
      },
      async stop() {
        log.push(`stop ${name}`);
      },
    });
    await expect(startAll([svc('a'), svc('b'), svc('c', true)])).rejects.toThrow('c failed');
    expect(log).toEqual(['start a', 'start b', 'stop b', 'stop a']);
    const errors = await stopAll([
      svc('x'),
      {
        name: 'y',
        start: async () => {},
        stop: async () => {
          throw new Error('boom');
        },
      },
    ]);
    expect(errors.map((e) => e.message)).toEqual(['stopping y failed: boom']);
    expect(log.at(-1)).toBe('stop x');
  });
});

describe('logger', () => {
  it('redacts secrets wherever they appear', async () => {
    const file = join(tempHome(), 'node.log');
    const log = createLogger({ name: 't', file });
    log.info({ privateKey: '0xdeadbeef', nested: { password: 'hunter22', ok: 1 } }, 'hello');
    log.flush();
    await new Promise((r) => setTimeout(r, 100));
    const line = readFileSync(file, 'utf8');
    expect(line).toContain('hello');
    expect(line).not.toContain('deadbeef');
    expect(line).not.toContain('hunter22');
    expect(line).toContain('[redacted]');
  });
});

describe('hardware probe and status API', () => {
  it('hashes a canonical descriptor', () => {
    const d = probeHardware();
    expect(d.cores).toBeGreaterThan(0);
    expect(canonicalHardwareJson(d)).toBe(canonicalHardwareJson({ ...d }));
    expect(hardwareDescriptorHash(d)).toMatch(/^0x[0-9a-f]{64}$/);
    expect(hardwareDescriptorHash({ ...d, cores: d.cores + 1 })).not.toBe(hardwareDescriptorHash(d));
  });

  it('serves /status on 127.0.0.1', async () => {
    const api = new StatusApi({ port: 0, status: () => ({ role: 'provider', round: 3n }) });
    await api.start();
    try {
      expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await (await fetch(`${api.url}/status`)).json()).toEqual({ role: 'provider', round: '3' });
      expect((await fetch(`${api.url}/nope`)).status).toBe(404);
    } finally {
      await api.stop();
    }
  });
});
