/**
 * A model server process for `bench/serve.ts` and the kill -9 test: `ServeService` from a JSON
 * config in $AGORA_SERVE_CHILD. Prints `{"url": …}` once listening; on SIGTERM prints its counters
 * (`{"stats": …}`) and exits.
 */
import { parseEther } from 'viem';
import { connectChain } from '../src/chain/connect.ts';
import { devnetAccount } from '../src/chain/devnet.ts';
import { VoucherStore } from '../src/pay/voucher-store.ts';
import { loadModelDir } from '../src/serve/model.ts';
import { ServeService } from '../src/serve/service.ts';

export type ServeChildConfig = {
  model: string;
  /** Price per row in AGORA (decimal string); "0" = free. */
  price: string;
  rpc?: string;
  paymentChannels?: `0x${string}`;
  token?: `0x${string}`;
  store?: string;
  account?: number;
  settleThreshold?: string;
  pollMs?: number;
  port?: number;
  verifyThreads?: number;
  /** fsync every voucher commit (survives power loss) instead of WAL + synchronous=NORMAL. */
  fsync?: boolean;
};

const cfg = JSON.parse(process.env.AGORA_SERVE_CHILD ?? '{}') as ServeChildConfig;
const price = parseEther(cfg.price);
const service = new ServeService({
  models: [loadModelDir(cfg.model)],
  port: cfg.port ?? 0,
  ...(price > 0n
    ? {
        payment: {
          conn: await connectChain({ rpcUrl: cfg.rpc! }),
          account: devnetAccount(cfg.account ?? 1),
          paymentChannels: cfg.paymentChannels!,
          token: cfg.token!,
          store: new VoucherStore(cfg.store!, { sync: cfg.fsync ? 'full' : 'normal' }),
          unitPrice: price,
          settleThreshold: parseEther(cfg.settleThreshold ?? '10'),
          pollIntervalMs: cfg.pollMs ?? 1000,
          minChallengePeriod: 60,
          verifyThreads: cfg.verifyThreads ?? 0,
          onError: (e) => process.stderr.write(`settle: ${(e as Error).message}\n`),
        },
      }
    : {}),
});
await service.start();
process.stdout.write(`${JSON.stringify({ url: service.url })}\n`);
// The bench reads this process's CPU time (all threads) around its measured window.
process.on('SIGUSR2', () => {
  process.stdout.write(`${JSON.stringify({ cpu: process.cpuUsage() })}\n`);
});
process.on('SIGTERM', async () => {
  const stats = {
    gate: service.gate?.stats ?? null,
    classifier: service.server?.classifiers.values().next().value?.stats ?? null,
  };
  await service.stop();
  process.stdout.write(`${JSON.stringify({ stats })}\n`);
  process.exit(0);
});
