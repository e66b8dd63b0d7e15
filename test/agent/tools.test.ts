/** Every tool executor planned and run on the embedded chain with the same library calls the CLI uses. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_NAMES } from '../../src/agent/catalogue.ts';
import type { AgentEnv } from '../../src/agent/env.ts';
import { runPlan } from '../../src/agent/plan.ts';
import { agentEnv } from '../../src/agent/session.ts';
import { describe as describeCall, EXECUTORS, planCall } from '../../src/agent/tools.ts';
import { addContact } from '../../src/wallet/contacts.ts';
import { type Fixture, startFixture } from '../contracts/fixture.ts';

describe('tool executors', () => {
  let f: Fixture;
  let env: AgentEnv;
  const home = mkdtempSync(join(tmpdir(), 'agora-tools-'));
  const run = async (tool: string, args: Record<string, unknown> = {}) => {
    const plan = await planCall(env, { tool, args });
    return { plan, result: await runPlan(plan, { hash: plan.hash, by: 'user' }) };
  };

  beforeAll(async () => {
    f = await startFixture();
    const me = f.accounts[2]!;
    env = agentEnv({
      home,
      conn: f.conn,
      deployment: f.deployment,
      address: me.address,
      unlock: async () => me,
    });
    addContact(home, 'alice', f.accounts[5]!.address);
  });
  afterAll(async () => {
    await f?.stop();
  });

  it('covers the whole catalogue', () => {
    expect(Object.keys(EXECUTORS).sort()).toEqual([...TOOL_NAMES].sort());
  });

  it('describe shows resolved names, amount, fee and balance after; nothing runs unconfirmed', async () => {
    const text = await describeCall(env, { tool: 'token.transfer', args: { to: 'alice', amount: '2.5' } });
    expect(text).toMatch(/^send 2\.5 AGORA to alice \(0x[0-9a-fA-F]{40}\)/);
    expect(text).toMatch(/fee ~[\d.]+ ETH gas/);
    expect(text).toMatch(/balance after 999997\.5 AGORA/);
    const plan = await planCall(env, { tool: 'token.transfer', args: { to: 'alice', amount: '2.5' } });
    await expect(runPlan(plan)).rejects.toThrow(/needs a confirmation/);
    await expect(runPlan(plan, { hash: `0x${'00'.repeat(32)}`, by: 'user' })).rejects.toThrow(
      /needs a confirmation/,
    );
  });

  it('data, jobs, channels, governance and contacts run end to end', async () => {
    const file = join(home, 'rows.csv');
    writeFileSync(file, 'x,y\n1,2\n3,4\n');
    await expect(planCall(env, { tool: 'data.add', args: { file } })).rejects.toThrow(
      /needs a licence and a sector/,
    );
    const added = await run('data.add', { file, licence: 'MIT', sector: 'text' });
    expect(added.result.data).toMatchObject({ datasetId: '1', records: 2 });
    expect(added.result.txHash).toMatch(/^0x/);
    expect((await run('data.show', { datasetId: '1' })).result.summary).toMatch(/licence MIT, sector text/);

    const job = await run('job.create', {
      task: 'mnist-mlp',
      datasets: ['1'],
      workers: 2,
      rounds: 2,
      price: '1',
    });
    expect(job.plan.lines.join(' ')).toMatch(/escrow 4 AGORA \+ protocol fee 0\.04 AGORA/);
    expect(job.plan.spend).toMatchObject({ contract: 'ComputeMarket' });
    expect((await run('job.status', { jobId: job.result.data.jobId as string })).result.summary).toMatch(
      /Open/,
    );

    const opened = await run('pay.open', { to: 'alice', amount: '10' });
    expect(opened.result.data.channelId).toMatch(/^0x[0-9a-f]{64}$/);
    const bal = await run('wallet.balance');
    expect(bal.result.summary).toMatch(/1 open channel/);
    const closing = await run('pay.close', { with: 'alice' });
    expect(closing.result.data).toMatchObject({ step: 'startClose' });

    await run('gov.delegate', { to: 'me' });
    const proposed = await run('gov.propose', { set: 'protocolFeeBps=200' });
    await f.increaseTime(2);
    const voted = await run('gov.vote', {
      proposalId: proposed.result.data.proposalId as string,
      support: 'for',
      reason: 'cheaper jobs',
    });
    expect(voted.result.summary).toMatch(/voted for/);

    await run('contacts.add', { name: 'bob', address: f.accounts[6]!.address });
    expect((await run('contacts.list')).result.summary).toMatch(/bob 0x/);
    await run('contacts.remove', { name: 'bob' });
    await expect(
      planCall(env, { tool: 'model.query', args: { model: 'digits', input: '[1]' } }),
    ).rejects.toThrow(/no model called "digits"/);
    await expect(planCall(env, { tool: 'rewards.claim', args: { jobId: '1' } })).rejects.toThrow(
      /no reward proof/,
    );
  }, 120_000);
});
