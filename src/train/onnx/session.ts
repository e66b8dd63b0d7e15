/**
 * The only place that touches onnxruntime-node: creating sessions from ONNX bytes and running them
 * on plain typed arrays. Everything else in Agora goes through `Runtime`.
 */
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { AgoraError } from '../../errors.ts';
import type { DType, TypedData } from '../graph/graph.ts';

export type SessionConfig = {
  /** intra-op threads; default: number of cores (`os.availableParallelism()`). */
  threads?: number;
  /** e.g. `['cuda', 'cpu']` with a CUDA build of onnxruntime-node; default `['cpu']`. */
  executionProviders?: readonly string[];
  /**
   * Let idle intra-op threads spin-wait for work. Default false: on an idle 2-core machine spinning
   * gained ≤ 5%, but when other processes load the cores it made steps 2–3× slower.
   */
  spinning?: boolean;
};

export type Feed = { data: TypedData; dims: readonly number[]; dtype: DType };

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  int32: 'int32',
  int64: 'int64',
  bool: 'bool',
};

export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism());
}

export class OnnxSession {
  private readonly session: ort.InferenceSession;
  readonly outputNames: readonly string[];

  private constructor(session: ort.InferenceSession) {
    this.session = session;
    this.outputNames = session.outputNames;
  }

  static async create(bytes: Uint8Array, config: SessionConfig = {}): Promise<OnnxSession> {
    const threads = config.threads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new AgoraError('RUNTIME_BAD_THREADS', `threads must be a positive integer, got ${threads}`, {
        hint: 'omit threads to use one per core',
      });
    }
    try {
      const s = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        executionProviders: [...(config.executionProviders ?? ['cpu'])],
        ...(config.spinning === true ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
      });
      return new OnnxSession(s);
    } catch (e) {
      throw new AgoraError('RUNTIME_SESSION_FAILED', `ONNX Runtime could not load the graph: ${String(e)}`, {
        hint: 'for GPU execution providers install onnxruntime-node with --onnxruntime-node-install=cuda12',
        cause: e,
      });
    }
  }

  /** Runs the graph; returns the requested outputs (all by default) as fresh typed arrays. */
  async run(feeds: Record<string, Feed>, outputs?: readonly string[]): Promise<Record<string, TypedData>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(ORT_TYPE[f.dtype], f.data as ort.Tensor.DataType, [...f.dims]);
    }
    const res = outputs ? await this.session.run(ortFeeds, [...outputs]) : await this.session.run(ortFeeds);
    const out: Record<string, TypedData> = {};
    for (const [name, t] of Object.entries(res)) out[name] = t.data as TypedData;
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
