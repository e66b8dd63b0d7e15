/**
 * What a provider serves validators about its rounds on `/agora/round/1` (docs/swarm.md, "Across
 * processes"): its Δ (`delta`), the inner states of its round traces (`trace-state`) and the samples
 * of a replay window with their Merkle proofs (`window-samples`). All three are kept for the last
 * TRACE_RETENTION_ROUNDS rounds; a request for a pruned or unknown round gets `ok: false`. And the
 * signed LDA statistics of an `lda-head` job's last round (`lda-stats`), kept with the job.
 */
import type { ProviderNode } from './provider.ts';
import type { RoundHandlers } from './round-protocol.ts';

export function providerRoundDataHandlers(
  node: ProviderNode,
): Pick<RoundHandlers, 'delta' | 'trace-state' | 'window-samples' | 'lda-stats'> {
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
  };
}
