/**
 * What the dashboard and MCP targets share: an embedded chain with the whole protocol deployed (the
 * contract tests' fixture) and a paid `agora serve` of a small MNIST classifier on 127.0.0.1, to
 * which the "query a model and pay" paths of both can go. Started by the first target that needs it
 * and stopped once no target holds it: a target that follows at once (the next one in the same run)
 * takes it over instead of starting its own (the chain's deployment is the slow part, about 2 s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEther } from 'viem';
import { VoucherStore } from '../../src/pay/voucher-store.ts';
import { loadModelDir } from '../../src/serve/model.ts';
import { ServeService } from '../../src/serve/service.ts';
import { type Fixture, startFixture } from '../../test/contracts/fixture.ts';
import { fuzzModels } from './models.ts';

export type World = {
  f: Fixture;
  /** The paid model server (job 7, mnist-mlp). */
  serve: ServeService;
  /** A scratch directory for the targets' homes. */
  dir: string;
};

let world: Promise<World> | undefined;
let holders = 0;

async function start(): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'agora-fuzz-world-'));
  const [f, models] = await Promise.all([startFixture(), fuzzModels()]);
  const store = new VoucherStore(join(dir, 'server.sqlite'));
  const serve = new ServeService({
    models: [loadModelDir(models.mnist)],
    payment: {
      conn: f.conn,
      account: f.accounts[1]!,
      paymentChannels: f.addr('PaymentChannels'),
      token: f.addr('AgoraToken'),
      store,
      unitPrice: parseEther('0.001'),
      settleThreshold: 2n ** 200n, // no settlement transactions while fuzzing
      pollIntervalMs: 3_600_000,
    },
    maxRows: 8,
  });
  await serve.start();
  const stop = serve.stop.bind(serve);
  serve.stop = async () => {
    await stop();
    store.close();
  };
  return { f, serve, dir };
}

export function acquireWorld(): Promise<World> {
  holders++;
  world ??= start();
  return world;
}

/** Lets go of the world; it stops after this turn of the event loop unless another target took it. */
export function releaseWorld(): void {
  holders--;
  setImmediate(async () => {
    if (holders > 0 || !world) return;
    const w = world;
    world = undefined;
    const { f, serve, dir } = await w;
    await serve.stop();
    await f.stop();
    rmSync(dir, { recursive: true, force: true });
  });
}
