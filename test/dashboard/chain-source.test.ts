/**
 * The dashboard's chain adapter on a real embedded chain: the deployed contracts, the protocol
 * parameters, a Governor proposal (state read from the governor as voting opens), its transaction
 * decoded, and its events in words, all put into the hub and streamed as patches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { deployProtocol } from '../../src/chain/deploy.ts';
import type { Deployment } from '../../src/chain/deployments.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { type EmbeddedChain, startEmbeddedChain } from '../../src/chain/embedded-chain.ts';
import { paramActions } from '../../src/chain/protocol-params.ts';
import { ChainSource } from '../../src/dashboard/chain-source.ts';
import { Dashboard } from '../../src/dashboard/dashboard.ts';
import { DashboardHub } from '../../src/dashboard/hub.ts';
import { applyPatch, emptyState } from '../../src/dashboard/patch.ts';
import type { Patch } from '../../src/dashboard/types.ts';
import { governanceClient } from '../../src/gov/governance.ts';
import { tempHome } from '../helpers/cli.ts';

describe('dashboard chain adapter', () => {
  let chain: EmbeddedChain;
  let conn: Awaited<ReturnType<typeof connectChain>>;
  let deployment: Deployment;
  let source: ChainSource;
  const hub = new DashboardHub();
  const patches: Patch[] = [];

  beforeAll(async () => {
    chain = await startEmbeddedChain();
    conn = await connectChain({ provider: chain.provider });
    deployment = await deployProtocol(conn, devnetAccount(0));
    hub.subscribe((p) => patches.push(p));
    source = new ChainSource({ conn, deployment, hub, home: tempHome(), pollMs: 50 });
    await source.start();
  }, 60_000);
  afterAll(async () => {
    await source?.stop();
    await chain?.stop();
  });

  const until = async <T>(f: () => T | undefined, ms = 10_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it('shows the contracts, the parameters and the deployment in words', () => {
    const s = hub.snapshot().state;
    expect(Object.keys(s.contracts)).toEqual(Object.keys(deployment.contracts));
    expect(s.params.slash).toBe('50% of the locked stake');
    expect(s.params['minStake (provider stake)']).toBe('100 AGORA');
    expect(Object.values(s.txs).some((t) => t.contract === 'TrainingLedger' && t.fn === 'deploy')).toBe(true);
    expect(
      Object.values(s.events).some(
        (e) => e.name === 'ValidatorSet' && /approved as a validator/.test(e.text),
      ),
    ).toBe(true);
  });

  it('follows a Governor proposal from its event, with its state from the governor', async () => {
    const gov = governanceClient(conn, deployment.contracts.AgoraGovernor!);
    const action = paramActions.setSlashBps(deployment.contracts.ProtocolParams!, 4000);
    const description = 'Lower the slash to 40%\n\nHonest mistakes cost less.';
    const { proposalId } = await gov.propose(walletClientFor(conn, devnetAccount(0)), [action], description);
    const p = await until(() => hub.get('proposals', proposalId.toString()));
    expect(p.description).toBe(description);
    expect(p.targets).toEqual(['ProtocolParams']);
    expect(['Pending', 'Active']).toContain(p.state);
    const ev = await until(() => hub.entries('events').find(([, e]) => e.name === 'ProposalCreated')?.[1]);
    expect(ev.text).toBe(`deployer proposed #${proposalId.toString().slice(0, 10)}…: Lower the slash to 40%`);
    const tx = hub.get('txs', ev.txHash);
    expect(tx?.fn).toBe('propose');
    expect(tx?.ok).toBe(true);
    // what the page builds from the stream is what the hub holds
    let page = emptyState();
    for (const x of patches) page = applyPatch(page, x);
    expect(page.proposals).toEqual(hub.snapshot().state.proposals);
  });

  it('serves the page with its snapshot, the live stream, and clear errors for bad proof requests', async () => {
    const dash = new Dashboard({ conn, deployment, home: tempHome(), port: 0 });
    await dash.start();
    try {
      const url = dash.url!;
      const html = await (await fetch(url)).text();
      expect(html).toContain('window.__AGORA__={"v":');
      expect(html).toContain('./assets/app.js');
      const js = await fetch(`${url}assets/app.js`);
      expect(js.status).toBe(200);
      expect(js.headers.get('content-type')).toMatch(/javascript/);
      expect((await fetch(`${url}assets/..%2F..%2Fpackage.json`)).status).toBe(404);
      const unknown = await fetch(`${url}api/datasets/7/records/0`);
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: string }).error).toMatch(/7/);
      const bad = await fetch(`${url}api/datasets/x/records/0`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { code: string }).code).toBe('BAD_REQUEST');
      expect(((await (await fetch(`${url}status`)).json()) as { dashboard: boolean }).dashboard).toBe(true);
      // the stream opens with the snapshot
      const ctrl = new AbortController();
      const res = await fetch(`${url}api/stream`, { signal: ctrl.signal });
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
      expect(text.startsWith('event: snapshot\ndata: {"v":')).toBe(true);
      const snap = JSON.parse(text.split('\n')[1].slice('data: '.length)) as { state: { contracts: object } };
      expect(Object.keys(snap.state.contracts)).toContain('TrainingLedger');
      ctrl.abort();
    } finally {
      await dash.stop();
    }
  });
});
