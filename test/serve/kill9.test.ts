/**
 * kill -9 of `agora serve` under paid load: after a restart on the same voucher store, every query
 * that was answered is covered by a stored voucher, the clients carry on from their own stores
 * (never signing a lower total), and the amount settled on-chain equals the highest stored voucher.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Hex, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServeChildConfig } from '../../bench/serve-child.ts';
import { type JsonRpcServer, serveJsonRpc } from '../../src/chain/rpc-server.ts';
import { ChannelClient } from '../../src/pay/channel-client.ts';
import { Payee } from '../../src/pay/payee.ts';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { PayingClient } from '../../src/serve/client.ts';
import { type TrainedMnist, trainMnistModel } from '../helpers/mnist-model.ts';
import { type PayFixture, startPayFixture } from '../pay/fixture.ts';

const CHILD = join(import.meta.dirname, '../../bench/serve-child.ts');
const PRICE = parseEther('0.001');
let fx: PayFixture;
let rpc: JsonRpcServer;
let trained: TrainedMnist;
let dir: string;

function startServer(cfg: ServeChildConfig): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, AGORA_SERVE_CHILD: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      try {
        resolve({ child, url: (JSON.parse(line) as { url: string }).url });
      } catch {}
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'agora-kill9-'));
  [fx, trained] = await Promise.all([
    startPayFixture(8),
    trainMnistModel(join(dir, 'model'), { jobId: '9' }),
  ]);
  rpc = await serveJsonRpc(fx.chain.provider, { port: 0 });
}, 90_000);
afterAll(async () => {
  await rpc?.stop();
  await fx?.stop();
});

describe('kill -9 of the server under paid load', () => {
  it('loses no accepted voucher and serves nothing unpaid; settlement equals the highest stored voucher', async () => {
    const cfg: ServeChildConfig = {
      model: trained.dir,
      price: '0.001',
      rpc: rpc.url,
      paymentChannels: fx.channels,
      token: fx.token,
      store: join(dir, 'server.sqlite'),
      account: 1,
      settleThreshold: '1000',
      pollMs: 600_000,
    };
    let server = await startServer(cfg);
    const buyers = [2, 3, 4, 5].map((i) => fx.accounts[i]);
    const clientOf = (b: (typeof buyers)[number], i: number) =>
      new PayingClient({
        conn: fx.conn,
        account: b,
        store: new VoucherStore(join(dir, `buyer-${i}.sqlite`)),
        paymentChannels: fx.channels,
        asset: fx.token,
        deposit: parseEther('10'),
        challengePeriod: 3600,
      });
    const answered = new Map<Hex, bigint>(); // highest cumulative whose query was answered, per channel
    const run = async (clients: PayingClient[], until: () => boolean) =>
      Promise.all(
        clients.map(async (c, k) => {
          for (let i = 0; !until(); i++) {
            try {
              const r = await c.postJson<{ predictions: unknown[] }>(`${server.url}/v1/models/9/predict`, {
                input: trained.samples[(k * 31 + i) % trained.samples.length].input,
              });
              const cum = BigInt(r.payment!.extra!.cumulativeAmount as string);
              if (cum > (answered.get(r.channelId!) ?? 0n)) answered.set(r.channelId!, cum);
            } catch {
              return; // the server is gone
            }
          }
        }),
      );
    // Channels are opened first (one query each), then the load runs and the server is killed mid-way.
    let clients = buyers.map(clientOf);
    await run(clients, () => answered.size === buyers.length);
    let stop = false;
    const load = run(clients, () => stop);
    await new Promise((r) => setTimeout(r, 1500));
    server.child.kill('SIGKILL');
    await load;
    stop = true;
    const beforeKill = new Map(answered);
    expect([...beforeKill.values()].reduce((a, b) => a + b, 0n)).toBeGreaterThan(8n * PRICE);
    for (const c of clients) c.store.close();

    // Restart on the same store; every answered query is covered by the stored voucher.
    server = await startServer(cfg);
    const store = new VoucherStore(cfg.store!);
    const key = (channelId: Hex) => ({ chainId: fx.conn.chainId, contract: fx.channels, channelId });
    for (const [id, cum] of beforeKill)
      expect(store.received(key(id))!.cumulative).toBeGreaterThanOrEqual(cum);

    // Restarted clients continue from their stores: their next vouchers are above anything signed.
    clients = buyers.map(clientOf);
    const signedBefore = clients.map(
      (c) => c.store.listChannels({ sender: c.address }).map((ch) => c.store.sent(ch)!.cumulative)[0],
    );
    stop = false;
    let n = 0;
    await run(clients, () => ++n > 40);
    clients.forEach((c, i) => {
      const ch = c.store.listChannels({ sender: c.address })[0];
      expect(c.store.sent(ch)!.cumulative).toBeGreaterThan(signedBefore[i]);
    });
    server.child.kill('SIGKILL');

    // Settle what the store holds: on-chain paid equals the highest stored voucher of each channel.
    const payee = new Payee({
      store,
      client: new ChannelClient(fx.conn, fx.channels, fx.accounts[1]),
      settleThreshold: 1n,
    });
    for (const id of answered.keys()) {
      const stored = store.received(key(id))!.cumulative;
      expect(stored).toBeGreaterThanOrEqual(answered.get(id)!);
      await payee.settle(id);
      expect((await payee.client.getChannel(id)).paid).toBe(stored);
    }
    store.close();
    for (const c of clients) c.store.close();
  }, 120_000);
});
