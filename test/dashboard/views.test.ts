/**
 * The dashboard's pure parts: patches, the hub's change detection, view models, events in words,
 * and the in-page record proof check (against the Merkle builder the chain's DataRegistry agrees with).
 */
import { keccak256, parseEther } from 'viem';
import { describe, expect, it } from 'vitest';
import { buildMerkleTree, recordLeaf } from '../../src/chain/merkle.ts';
import { DashboardHub } from '../../src/dashboard/hub.ts';
import { applyPatch, emptyState } from '../../src/dashboard/patch.ts';
import { bytesToHex, checkRecordProof } from '../../src/dashboard/record-proof.ts';
import type { DashboardState, Patch, RoundInfo } from '../../src/dashboard/types.ts';
import {
  checksFromRound,
  formatAgora,
  formatBytes,
  jobSeries,
  meanLoss,
  rewardsByParty,
  roleOf,
} from '../../src/dashboard/views.ts';
import { describeEvent } from '../../src/dashboard/words.ts';

const round = (r: number, extra: Partial<RoundInfo> = {}): RoundInfo => ({
  jobId: '1',
  round: r,
  commit: { txHash: `0x${r}`, block: r, recordsRoot: '0x', modelHash: '0x', signers: [], at: 0, seenAt: 0 },
  trainLoss: 2 - r / 10,
  testAccuracy: null,
  bytesSent: 1000,
  checks: [],
  ...extra,
});

describe('dashboard view models (pure)', () => {
  it('applies patches: sets, replaces and removes entries without touching the input', () => {
    const s0 = emptyState();
    const p: Patch = { v: 1, peers: { a: { name: 'a' } as never }, txs: { x: { hash: 'x' } as never } };
    const s1 = applyPatch(s0, p);
    expect(s0.peers).toEqual({});
    expect(Object.keys(s1.peers)).toEqual(['a']);
    const s2 = applyPatch(s1, { v: 2, txs: { x: null } });
    expect(s2.txs).toEqual({});
    expect(s2.peers).toBe(s1.peers);
  });

  it('the hub sends only changed entries, once per turn, and caps recent lists', async () => {
    const hub = new DashboardHub({ caps: { txs: 2 } });
    const got: Patch[] = [];
    hub.subscribe((p) => got.push(p));
    hub.put('params', 'fee', '1%');
    hub.put('params', 'slash', '50%');
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(1);
    expect(got[0].params).toEqual({ fee: '1%', slash: '50%' });
    hub.put('params', 'fee', '1%'); // same value: nothing to send
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(1);
    for (const h of ['a', 'b', 'c']) hub.put('txs', h, { hash: h } as never);
    await new Promise((r) => setImmediate(r));
    expect(Object.keys(hub.snapshot().state.txs)).toEqual(['b', 'c']);
    expect(got[1].txs?.a).toBeNull(); // the oldest is removed (and added in the same turn)
    // a page that applies every patch to the first snapshot ends with the hub's state
    let page = emptyState();
    for (const p of got) page = applyPatch(page, p);
    expect(page).toEqual(hub.snapshot().state);
    expect(hub.version).toBe(2);
  });

  it('job curves: a point per committed round, bytes per worker against DDP', () => {
    const s: DashboardState = emptyState();
    s.jobs['1'] = { jobId: '1', workers: 4, ddpBytesPerRound: 100_000 } as never;
    s.rounds['1:1'] = round(1, { testAccuracy: 0.8 });
    s.rounds['1:0'] = round(0);
    s.rounds['1:2'] = { ...round(2), commit: null }; // not committed: not a point
    const x = jobSeries(s, '1');
    expect(x.round).toEqual([1, 2]);
    expect(x.trainLoss).toEqual([2, 1.9]);
    expect(x.testAccuracy).toEqual([null, 0.8]);
    expect(x.bytesPerWorker).toEqual([250, 500]);
    expect(x.ddpBytesPerWorker).toEqual([100_000, 200_000]);
  });

  it('rewards per party merge roles and jobs; roles come from the chain facts', () => {
    const rows = rewardsByParty([
      {
        jobId: '1',
        account: '0xA',
        role: 'provider+data',
        amount: parseEther('3').toString(),
        claimed: true,
        claimTx: null,
      },
      {
        jobId: '2',
        account: '0xa',
        role: 'provider',
        amount: parseEther('1').toString(),
        claimed: false,
        claimTx: null,
      },
      {
        jobId: '1',
        account: '0xB',
        role: 'validator',
        amount: parseEther('5').toString(),
        claimed: true,
        claimTx: null,
      },
    ]);
    expect(rows.map((r) => [r.account, r.roles, formatAgora(r.amount), formatAgora(r.claimed)])).toEqual([
      ['0xB', 'validator', '5 AGORA', '5 AGORA'],
      ['0xA', 'data + provider', '4 AGORA', '3 AGORA'],
    ]);
    const s = emptyState();
    s.jobs['1'] = { participants: ['0xAA'], datasetIds: ['7'] } as never;
    s.datasets['7'] = { datasetId: '7', contributor: '0xaa' } as never;
    s.peers.v = { role: 'validator', address: '0xBB' } as never;
    expect(roleOf('0xaa', s, '1')).toBe('provider+data');
    expect(roleOf('0xbb', s, '1')).toBe('validator');
    expect(roleOf('0xcc', s, '1')).toBeNull();
  });

  it('store rows: mean loss ignores missing values; checks keep what ran', () => {
    expect(meanLoss([1, '3', undefined, Number.NaN])).toBe(2);
    expect(meanLoss([undefined])).toBeNull();
    expect(
      checksFromRound({
        checks: [
          {
            worker: '0x1',
            link: { status: 'pass' },
            replays: [{ status: 'pass' }, { status: 'skipped' }],
            failed: false,
          },
          { worker: '0x2', link: { status: 'fail' }, replays: [], failed: true },
        ],
      }),
    ).toEqual([
      { worker: '0x1', link: 'pass', replays: ['pass'], failed: false },
      { worker: '0x2', link: 'fail', replays: [], failed: true },
    ]);
    expect(formatBytes(1_234_567)).toBe('1.23 MB');
    expect(formatAgora(1n)).toBe('0 AGORA');
  });

  it('events in words name peers and contracts and show amounts in AGORA', () => {
    const names: Record<string, string> = { '0x01': 'provider-1', '0x02': 'ComputeMarket' };
    const nameOf = (a: string) => names[a] ?? a;
    expect(
      describeEvent(
        'JobJoined',
        { jobId: 1n, provider: '0x01', index: 0, lockedStake: parseEther('100') },
        nameOf,
      ),
    ).toBe('provider-1 joined job 1 as worker 1, locking 100 AGORA stake');
    expect(
      describeEvent(
        'RoundCommitted',
        { jobId: 1n, round: 4n, recordsRoot: '0xab', modelHash: '0xcd', signers: 3n },
        nameOf,
      ),
    ).toBe('round 5 of job 1 committed with 3 co-signatures (model 0xcd, records 0xab)');
    expect(describeEvent('Claimed', { epoch: 1n, account: '0x01', amount: parseEther('1.5') }, nameOf)).toBe(
      'provider-1 claimed 1.5 AGORA from job 1',
    );
    expect(describeEvent('Mystery', { who: '0x02' }, nameOf)).toBe('Mystery(who: 0x02)');
  });

  it('the page checks a record proof like DataRegistry.verifyRecord, and rejects a changed record', () => {
    const records = Array.from({ length: 13 }, (_, i) => new Uint8Array([i, 1, 2, 3, i * 7]));
    const hashes = records.map((r) => keccak256(r));
    const tree = buildMerkleTree(hashes.map((h, i) => recordLeaf(BigInt(i), h)));
    for (const i of [0, 6, 12]) {
      const view = {
        datasetId: '1',
        index: i,
        root: tree.root,
        record: bytesToHex(records[i]).slice(2),
        contentHash: hashes[i],
        proof: tree.proof(i),
        format: 'idx',
      };
      const ok = checkRecordProof(view);
      expect(ok.ok).toBe(true);
      expect(ok.leaf).toBe(recordLeaf(BigInt(i), hashes[i]));
      const tampered = checkRecordProof({ ...view, record: bytesToHex(records[(i + 1) % 13]).slice(2) });
      expect(tampered.contentHashMatches).toBe(false);
      expect(tampered.ok).toBe(false);
      const wrongIndex = checkRecordProof({ ...view, index: i + 1 });
      expect(wrongIndex.rootMatches).toBe(false);
    }
  });
});
