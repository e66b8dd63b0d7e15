/**
 * A peer in its own process, driven over the IPC channel by test/net/kill.test.ts (and usable by
 * benches): starts an AgoraHost + AllReduce and runs rounds on command. Test-only wallet keys
 * arrive in the environment (AGORA_TEST_KEY); they are never logged.
 */
import pino from 'pino';
import { privateKeyToAccount } from 'viem/accounts';
import { AllReduce, type RoundReport } from '../../src/net/allreduce.ts';
import { AgoraHost } from '../../src/net/host.ts';
import type { CodecName } from '../../src/train/codec.ts';
import { createCodec } from '../../src/train/codecs/index.ts';
import { randomVector } from './helpers.ts';

type Command =
  | { type: 'connect'; addrs: string[]; expect: number }
  | {
      type: 'round';
      round: number;
      members: string[];
      length: number;
      seed: number;
      stallAfterFirstPart?: boolean;
    }
  | { type: 'stop' };

const send = (m: unknown) => process.send?.(m);
const account = privateKeyToAccount(process.env.AGORA_TEST_KEY as `0x${string}`);
const participants = JSON.parse(process.env.AGORA_TEST_PARTICIPANTS ?? '[]') as string[];
const logger = pino({ level: process.env.AGORA_TEST_LOG ?? 'warn' }, pino.destination(2));
let stall = false;
let firstSent = false;

const host = new AgoraHost({
  account,
  chainId: Number(process.env.AGORA_TEST_CHAIN ?? 31337),
  jobId: process.env.AGORA_TEST_JOB ?? 'job-test',
  participants,
  logger,
  announceIntervalMs: 0,
  ...(process.env.AGORA_TEST_LISTEN ? { listen: [process.env.AGORA_TEST_LISTEN] } : {}),
});
const ar = new AllReduce({
  host,
  logger,
  codec: () => createCodec((process.env.AGORA_TEST_CODEC ?? 'fp32') as CodecName),
  deadlineMs: Number(process.env.AGORA_TEST_DEADLINE_MS ?? 3000),
  faults: {
    beforePartSend: async () => {
      if (stall && firstSent) await new Promise(() => {}); // hang: the parent kills us here
    },
    afterPartSent: () => {
      if (stall && !firstSent) {
        firstSent = true;
        send({ type: 'partial' });
      }
    },
  },
});

await host.start();
await ar.start();
send({ type: 'ready', peerId: host.peerId, addr: host.multiaddrs()[0] });

process.on('message', async (cmd: Command) => {
  try {
    if (cmd.type === 'connect') {
      for (const a of cmd.addrs) if (!a.endsWith(host.peerId)) await host.dial(a).catch(() => {});
      await host.waitForPeers(cmd.expect, 20_000);
      send({ type: 'connected' });
    } else if (cmd.type === 'round') {
      stall = cmd.stallAfterFirstPart === true;
      firstSent = false;
      const v = randomVector(cmd.length, cmd.seed);
      const r: RoundReport = await ar.run(cmd.round, v, cmd.members);
      const result = r.result
        ? Buffer.from(r.result.buffer, r.result.byteOffset, r.result.byteLength).toString('base64')
        : null;
      send({ type: 'report', report: { ...r, result } });
    } else if (cmd.type === 'stop') {
      await ar.stop();
      await host.stop();
      process.exit(0);
    }
  } catch (err) {
    send({ type: 'error', message: (err as Error).message });
  }
});
