/**
 * Deterministic mini-batch sampling from one worker's shard: epochs over a seeded permutation of
 * the shard (reshuffled each epoch from (seed, epoch)); a batch may span an epoch boundary.
 * The state is two integers (epoch, position), so a worker can resume and a verifier can replay.
 */
import { AgoraError } from '../../errors.ts';
import { createRng, mixSeed, shuffleInPlace } from './rng.ts';

export type SamplerState = { epoch: number; position: number };

export class BatchSampler {
  readonly shard: Int32Array;
  readonly batchSize: number;
  readonly seed: number;
  #perm: Int32Array;
  #epoch = 0;
  #pos = 0;

  constructor(shard: ArrayLike<number>, batchSize: number, seed: number, state?: SamplerState) {
    if (shard.length === 0) {
      throw new AgoraError('SHARD_EMPTY', 'Cannot sample batches from an empty shard.', {
        hint: 'Use fewer workers or a different shard scheme so every worker gets data.',
      });
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new AgoraError('DATA_BAD_OPTION', `Batch size must be a positive integer, got ${batchSize}.`);
    }
    this.shard = Int32Array.from(shard);
    this.batchSize = batchSize;
    this.seed = seed;
    this.#perm = this.#permutation(state?.epoch ?? 0);
    this.#epoch = state?.epoch ?? 0;
    this.#pos = state?.position ?? 0;
  }

  #permutation(epoch: number): Int32Array {
    return shuffleInPlace(this.shard.slice(), createRng(mixSeed(this.seed, epoch, 5)));
  }

  get state(): SamplerState {
    return { epoch: this.#epoch, position: this.#pos };
  }

  /** The global indices of the next batch. */
  next(): Int32Array {
    const out = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) {
      if (this.#pos >= this.#perm.length) {
        this.#epoch++;
        this.#pos = 0;
        this.#perm = this.#permutation(this.#epoch);
      }
      out[i] = this.#perm[this.#pos++];
    }
    return out;
  }
}
