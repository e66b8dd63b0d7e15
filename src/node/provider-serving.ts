/**
 * What a provider serves validators about its rounds on `/agora/round/1` (docs/swarm.md, "Across
 * processes"): its Δ (`delta`), the inner states of its round traces (`trace-state`) and the samples
 * of a replay window with their Merkle proofs (`window-samples`). All three are kept for the last
 * TRACE_RETENTION_ROUNDS rounds; a request for a pruned or unknown round gets `ok: false`. And the
 * signed LDA statistics of an `lda-head` job's last round (`lda-stats`), kept with the job; its
 * signed swarm statistics of round 0 (`prep-stats`) and records of its dataset with their Merkle
 * proofs (`prep-records`, at most a statistics chunk at a time) while it runs the job.
 */
import type { ProviderNode } from './provider.ts';
import type { RoundHandlers } from './round-protocol.ts';

export function providerRoundDataHandlers(
  node: ProviderNode,
): Pick<
  RoundHandlers,
  'delta' | 'trace-state' | 'window-samples' | 'lda-stats' | 'prep-stats' | 'prep-records'
> {
  return {
    delta: async (req) => {
      const d = node.deltaOf(BigInt(req.jobId), req.round);
      return d ? { ok: true, bytes: d.byteLength, payload: d } : { ok: false, reason: 'no such round' };
    },
    'trace-state': async (req) => {
      const s = node.traceStateOf(BigInt(req.jobId), req.round, req.k);
      return s
        ? { ok: true, bytes: s.byteLength, payload: s }
        : { ok: false, reason: `no trace state ${req.k} of round ${req.round}` };
    },
    'window-samples': async (req) => {
      const w = node.windowSamplesOf(BigInt(req.jobId), req.round, req.k);
      return w
        ? { ok: true, bytes: w.byteLength, payload: w }
        : { ok: false, reason: `no window ${req.k} of round ${req.round}` };
    },
    'lda-stats': async (req) => {
      const l = node.ldaStatsOf(BigInt(req.jobId), req.round);
      return l
        ? { ok: true, bytes: l.payload.byteLength, payload: l.payload }
        : { ok: false, reason: `no LDA statistics of round ${req.round}` };
    },
    'prep-stats': async (req) => {
      const s = node.prepStatsOf(BigInt(req.jobId));
      return s
        ? { ok: true, bytes: s.payload.byteLength, payload: s.payload }
        : { ok: false, reason: 'no swarm statistics' };
    },
    'prep-records': async (req) => {
      const r = node.recordsOf(BigInt(req.jobId), req.from, req.to);
      return r
        ? { ok: true, bytes: r.byteLength, payload: r }
        : { ok: false, reason: `no records ${req.from}..${req.to}` };
    },
  };
}
