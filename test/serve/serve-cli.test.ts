/**
 * The commands across processes: `agora chain start` + `deploy`, `agora serve --model` (paid),
 * `agora query` buys predictions (opens a channel on the first), `agora pay status|settle|close|withdraw`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Background, startCliJson } from '../helpers/background.ts';
import { runCli, tempHome } from '../helpers/cli.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';

type Served = { url: string; models: { id: string; predict: string; modelHash: string }[]; payTo: string };

const home = tempHome('agora-serve-cli-');
let chain: Background<{ url: string }>;
let server: Background<Served>;
let trained: TrainedMnist;

const cli = async (args: string[]) => {
  const r = await runCli(['--home', home, '--rpc', chain.value.url, ...args, '--json'], {
    timeoutMs: 90_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  [chain, trained] = await Promise.all([
    startCliJson<{ url: string }>(['chain', 'start', '--port', '0', '--home', home, '--json']),
    trainMnistModel(join(home, 'export'), { jobId: '5' }),
  ]);
  await cli(['chain', 'deploy']);
  server = await startCliJson<Served>([
    '--home',
    home,
    '--rpc',
    chain.value.url,
    '--devnet-account',
    '1',
    'serve',
    '--model',
    join(home, 'export'),
    '--port',
    '0',
    '--price',
    '0.01',
    '--min-challenge',
    '60',
    '--json',
  ]);
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await chain?.stop();
});

describe('agora serve / query / pay', () => {
  it('serves the model and sells predictions to `agora query`, which pays through a channel it opens', async () => {
    expect(server.value.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(server.value.models[0].modelHash).toBe(trained.modelHash);
    const input = join(home, 'digit.json');
    writeFileSync(input, JSON.stringify(trained.samples[0].input));
    const q = [
      '--devnet-account',
      '2',
      'query',
      server.value.models[0].predict,
      '--input',
      input,
      '--max-price',
      '0.01',
      '--budget',
      '0.5',
      '--deposit',
      '1',
    ];
    const a = await cli(q);
    expect(a.predictions[0].class).toBe(trained.samples[0].label);
    expect(a.modelHash).toBe(trained.modelHash);
    expect(a.jobId).toBe('5');
    expect(a.paid).toBe(parseEther('0.01').toString());
    const b = await cli(q);
    expect(b.channelId).toBe(a.channelId); // the second query reuses the channel

    const listed = await cli(['models', server.value.url]);
    expect(listed.servers[0]).toMatchObject({
      endpoint: server.value.url,
      seller: server.value.payTo,
      source: 'url',
    });
    expect(listed.servers[0].models[0]).toMatchObject({ modelHash: trained.modelHash, onChain: 'unchecked' }); // job 5 is not on this chain
    const payer = await cli(['--devnet-account', '2', 'pay', 'status']);
    expect(payer.channels).toEqual([
      expect.objectContaining({
        channelId: a.channelId,
        role: 'payer',
        committed: parseEther('0.02').toString(),
        deposit: parseEther('1').toString(),
        state: 'open',
      }),
    ]);
    const payee = await cli(['--devnet-account', '1', 'pay', 'status']);
    expect(payee.channels).toEqual([
      expect.objectContaining({
        role: 'payee',
        received: parseEther('0.02').toString(),
        unsettled: parseEther('0.02').toString(),
      }),
    ]);
    const settled = await cli(['--devnet-account', '1', 'pay', 'settle']);
    expect(settled.received).toBe(parseEther('0.02').toString());
    const closing = await cli(['--devnet-account', '2', 'pay', 'close', a.channelId]);
    expect(closing.closesAt).toBeGreaterThan(0);
  }, 180_000);
});
