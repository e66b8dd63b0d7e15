/**
 * Voucher signature checks off the main thread: a pool of worker threads (src/serve/verify-worker.ts),
 * each with its own cache of precomputed sender keys. The checks of one event-loop turn go to the
 * workers as batches (one message each way per batch), a sender always to the same worker so its key
 * table is built once. On a 2-core server one worker leaves the main thread to HTTP and sqlite.
 */
import { Worker } from 'node:worker_threads';
import type { Address } from 'viem';
import { AgoraError } from '../errors.ts';
import type { SignedVoucher } from '../pay/voucher.ts';
import type { VerifyJob } from './verify-worker.ts';
import { SenderKeys } from './voucher-check.ts';

/** Checks that `sender` signed a voucher (with a signature that also verifies on-chain). */
export interface VoucherVerifier {
  verify(v: SignedVoucher, sender: Address): Promise<boolean>;
  close(): Promise<void>;
}

/** On the calling thread. */
export class InlineVerifier implements VoucherVerifier {
  readonly #keys = new SenderKeys();
  async verify(v: SignedVoucher, sender: Address): Promise<boolean> {
    return this.#keys.verify(v, sender);
  }
  async close(): Promise<void> {}
}

export class VerifierPool implements VoucherVerifier {
  readonly #workers: Worker[];
  readonly #batches: VerifyJob[][];
  readonly #waiting = new Map<number, (ok: boolean) => void>();
  #next = 0;
  #scheduled = false;
  #failed: Error | undefined;

  constructor(threads: number) {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new AgoraError('SERVE_BAD_THREADS', `verify threads must be a positive integer, got ${threads}`);
    }
    this.#workers = Array.from(
      { length: threads },
      () => new Worker(new URL('./verify-worker.ts', import.meta.url)),
    );
    this.#batches = this.#workers.map(() => []);
    for (const w of this.#workers) {
      w.unref();
      w.on('message', (m: { ids: number[]; results: boolean[] }) => {
        m.ids.forEach((id, i) => {
          this.#waiting.get(id)?.(m.results[i]);
          this.#waiting.delete(id);
        });
      });
      w.on('error', (e) => {
        this.#failed = e;
        for (const r of this.#waiting.values()) r(false);
        this.#waiting.clear();
      });
    }
  }

  verify(v: SignedVoucher, sender: Address): Promise<boolean> {
    if (this.#failed) {
      return Promise.reject(
        new AgoraError('SERVE_VERIFIER_FAILED', `the signature checker failed: ${this.#failed.message}`, {
          cause: this.#failed,
        }),
      );
    }
    const id = this.#next++;
    // One sender always goes to one worker (its key table is built there once).
    const w = Number.parseInt(sender.slice(-6), 16) % this.#workers.length;
    this.#batches[w].push({
      id,
      chainId: v.chainId,
      verifyingContract: v.verifyingContract,
      channelId: v.channelId,
      cumulativeAmount: v.cumulativeAmount.toString(),
      signature: v.signature,
      sender,
    });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  #flush(): void {
    this.#scheduled = false;
    this.#batches.forEach((b, i) => {
      if (b.length === 0) return;
      this.#workers[i].postMessage(b);
      this.#batches[i] = [];
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
