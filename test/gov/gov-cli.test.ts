/**
 * The newcomer path of docs/governance.md, script-friendly, as separate processes: `agora chain start`
 * in one, `agora chain deploy` and every `agora gov` step from "a second shell". The devnet's clock is
 * moved forward over most of the voting period and the timelock (evm_increaseTime over JSON-RPC), so
 * `--wait` still waits out the last seconds of each for real. Also `agora devnet --gov-demo`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Background, startCliJson } from '../helpers/background.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

describe('agora gov (CLI, against `agora chain start` + `agora chain deploy`)', () => {
  const home = tempHome('agora-gov-');
  let chain: Background<{ url: string }>;
  let gov: (args: string[], account?: number) => ReturnType<typeof runCli>;
  const rpc = async (method: string, params: unknown[] = []) => {
    const r = await fetch(chain.value.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return ((await r.json()) as { result: unknown }).result;
  };
  /** Moves the chain's clock to `seconds` before `until` (unix seconds), so a --wait has that much left. */
  const skipToBefore = async (until: number, seconds: number) => {
    const pending = (await rpc('eth_getBlockByNumber', ['pending', false])) as { timestamp: string };
    const gap = until - Number(BigInt(pending.timestamp)) - seconds;
    if (gap > 0) await rpc('evm_increaseTime', [Math.floor(gap)]);
    await rpc('evm_mine');
  };

  beforeAll(async () => {
    chain = await startCliJson<{ url: string }>(['--home', home, 'chain', 'start', '--port', '0', '--json']);
    const deployed = await runCli(['--home', home, '--rpc', chain.value.url, 'chain', 'deploy', '--json']);
    expect(deployed.code, deployed.stderr).toBe(0);
    gov = (args, account) =>
      runCli([
        '--home',
        home,
        '--rpc',
        chain.value.url,
        ...(account === undefined ? [] : ['--devnet-account', String(account)]),
        'gov',
        ...args,
      ]);
  }, 120_000);
  afterAll(async () => chain?.stop());

  it('changes minStake by propose → vote → queue → execute, and params shows "minStake": "250"', async () => {
    const proposed = await gov(
      ['propose', '--set', 'minStake=250', '--title', 'Raise the minimum stake', '--json'],
      1,
    );
    expect(proposed.code, proposed.stderr).toBe(0);
    const { proposalId, voteEnd } = JSON.parse(proposed.stdout) as { proposalId: string; voteEnd: number };
    expect(proposalId).toMatch(/^\d{20,}$/);

    // a quorum (1.2M votes) needs two devnet accounts (1M each)
    const votes = await Promise.all(
      [1, 2].map((i) => gov(['vote', proposalId, 'for', '--wait', '--json'], i)),
    );
    for (const v of votes) expect(v.code, v.stderr).toBe(0);
    expect(votes.map((v) => JSON.parse(v.stdout).weight)).toEqual(['1000000', '1000000']);

    const again = await gov(['vote', proposalId, 'against', '--json'], 1);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('GOV_ALREADY_VOTED');
    expect(again.stderr).toMatch(
      /error: you already voted on proposal \d+ \(for\); a vote cannot be changed\nhint: /,
    );

    await skipToBefore(voteEnd, 15); // queue --wait waits out the vote's last 15 s
    const queued = await gov(['queue', proposalId, '--wait', '--json'], 3);
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stderr).toMatch(/the vote on proposal \d+ ends in \d+ s: for 2000000 AGORA/);
    const { eta } = JSON.parse(queued.stdout) as { eta: number };

    await skipToBefore(eta, 15); // execute --wait waits out the timelock's last 15 s
    const executed = await gov(['execute', proposalId, '--wait', '--json'], 3);
    expect(executed.code, executed.stderr).toBe(0);
    expect(executed.stderr).toMatch(/the timelock releases proposal \d+ in \d+ s/);

    const params = await gov(['params', '--json']);
    expect(params.code, params.stderr).toBe(0);
    const p = JSON.parse(params.stdout);
    expect(p.minStake).toBe('250');
    expect(p).toMatchObject({ slashBps: '5000', protocolFeeBps: '100', votingPeriod: '120', minDelay: '30' });
    expect(p.changedBy.minStake).toMatchObject({ proposalId, number: 1 });
    expect(p.changedBy.slashBps).toBeNull();
    expect(p.sectors).toEqual(['vision', 'text', 'general']);
  }, 180_000);

  it('propose takes every action flag in order, a Markdown description file, and show says them in words', async () => {
    const file = join(home, 'proposal.md');
    writeFileSync(file, 'Open **audio**, fund the first drive.\n');
    const to = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
    const proposed = await gov(
      [
        'propose',
        '--title',
        'Audio',
        '--description-file',
        file,
        '--admit-sector',
        'audio',
        '--grant',
        to,
        '2500.5',
        '--call',
        'DataRegistry',
        'admitToSector(uint256,string)',
        '1',
        'audio',
        '--set',
        'fee=2%',
        '--add-validator',
        to,
        '--json',
      ],
      2,
    );
    expect(proposed.code, proposed.stderr).toBe(0);
    const { number } = JSON.parse(proposed.stdout) as { number: number };
    const shown = await gov(['show', String(number), '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const v = JSON.parse(shown.stdout);
    expect(v.title).toBe('Audio');
    expect(v.description).toBe('Open **audio**, fund the first drive.');
    expect(v.actions.map((a: { words: string }) => a.words)).toEqual([
      'open sector "audio" to new datasets',
      `grant 2500.5 AGORA from the treasury to ${to}`,
      'admit dataset 1 to sector "audio"',
      'set protocolFeeBps from 100 to 200 bps (2%)',
      `approve validator ${to}`,
    ]);
    expect(v.phases.map((p: { name: string }) => p.name)).toEqual(['voting delay', 'voting', 'timelock']);
    const listed = await gov(['list']);
    expect(listed.stdout).toMatch(/2\. Audio \[(Pending|Active): voting (opens|closes) in/);
  }, 120_000);
});

describe('agora devnet --gov-demo', () => {
  it('passes a proposal with several accounts and prints the changed parameter', async () => {
    const home = tempHome('agora-gov-demo-');
    const r = await runCli(
      ['--home', home, 'devnet', '--port', '0', '--no-job', '--gov-demo', '--exit', '--json'],
      {
        timeoutMs: 120_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const { govDemo } = JSON.parse(r.stdout);
    expect(govDemo).toMatchObject({ param: 'minStake', before: '100', after: '250' });
    expect(govDemo.votes.map((v: { support: string }) => v.support)).toEqual([
      'for',
      'for',
      'abstain',
      'against',
    ]);
    expect(r.stderr).toMatch(/gov demo: executed; minStake 100 → 250 AGORA/);
  }, 150_000);
});
