/**
 * Persisting the embedded chain across restarts (`agora chain start --state FILE`). Hardhat's EDR
 * has no state dump/load (no `anvil_dumpState` equivalent, and account storage cannot be listed
 * over JSON-RPC), so the chain is persisted as a journal instead: every call that changed it (a
 * raw or node-signed transaction, a mined block, a snapshot or revert, a balance set) is appended
 * to FILE with the timestamp of the block it produced, once the node accepted it. On start the
 * journal is replayed in order with each block at its recorded timestamp: transactions are signed
 * bytes with their own nonces, so the replayed chain has the same contracts, balances and blocks.
 * What was sent in the moment before a kill -9 may be missing (the journal is written after the
 * node answered).
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { AgoraError } from '../errors.ts';
import type { Eip1193Like } from './rpc-server.ts';

/** Calls that change the chain, and are journaled. */
const MUTATING = new Set([
  'eth_sendRawTransaction',
  'eth_sendTransaction',
  'evm_mine',
  'hardhat_mine',
  'evm_snapshot',
  'evm_revert',
  'hardhat_setBalance',
  'hardhat_setCode',
  'hardhat_setStorageAt',
  'hardhat_setNonce',
  'evm_setAutomine',
  'evm_setIntervalMining',
]);
/** Calls that only move time: replaced on replay by the recorded block timestamps. */
const TIME = new Set(['evm_increaseTime', 'evm_setNextBlockTimestamp']);

type Entry = { method: string; params?: unknown; ts?: string };

async function headTimestamp(p: Eip1193Like): Promise<bigint> {
  const b = (await p.request({ method: 'eth_getBlockByNumber', params: ['latest', false] })) as {
    timestamp: string;
  };
  return BigInt(b.timestamp);
}

/** Replays `file` into `provider` (a fresh chain); returns the number of calls replayed. */
export async function replayJournal(provider: Eip1193Like, file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  let n = 0;
  for (const [i, line] of lines.entries()) {
    let e: Entry;
    try {
      e = JSON.parse(line) as Entry;
    } catch {
      // a line cut short by a kill: the journal ends there
      if (i === lines.length - 1) break;
      throw new AgoraError('CHAIN_STATE_CORRUPT', `${file} line ${i + 1} is not JSON`, {
        hint: 'the state file is damaged; start without --state (a new chain) or restore it',
      });
    }
    if (e.ts && e.method !== 'evm_snapshot' && e.method !== 'evm_revert') {
      const ts = BigInt(e.ts);
      if (ts > (await headTimestamp(provider)))
        await provider.request({ method: 'evm_setNextBlockTimestamp', params: [`0x${ts.toString(16)}`] });
    }
    try {
      await provider.request({ method: e.method, params: e.params });
    } catch (err) {
      throw new AgoraError(
        'CHAIN_STATE_REPLAY',
        `replaying ${file} failed at line ${i + 1} (${e.method}): ${(err as Error).message}`,
        { hint: 'the state file does not match this chain (another chain id or accounts?)', cause: err },
      );
    }
    n++;
  }
  return n;
}

/** Wraps `provider` so that every call that changed the chain is appended to `file`. */
export function journaled(provider: Eip1193Like, file: string): Eip1193Like {
  return {
    async request(args) {
      const result = await provider.request(args);
      if (MUTATING.has(args.method)) {
        const mined = args.method !== 'evm_snapshot' && args.method !== 'evm_revert';
        const entry: Entry = { method: args.method, params: args.params };
        if (mined) entry.ts = (await headTimestamp(provider)).toString();
        appendFileSync(file, `${JSON.stringify(entry)}\n`);
      } else if (TIME.has(args.method)) {
        // nothing to record: the next mined block carries its timestamp
      }
      return result;
    },
  };
}
