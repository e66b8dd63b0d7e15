/**
 * A provider's per-round files beside its checkpoints (`<node dir>/jobs/<jobId>/`):
 *
 *   round-<r>.delta   the Δ it sent (f32 bytes): served to validators (`delta`), reused by a retry
 *   round-<r>.trace   the round's boundary inner states k = 0 … H/W, back to back, each
 *                     `encodeInnerState` (src/verify/trace-wire.ts): served as `trace-state`
 *
 * Both are kept for the last TRACE_RETENTION_ROUNDS rounds (`pruneRoundFiles`); checkpoints are not
 * pruned here (peers that resync need them). Writes are atomic (temp file + rename).
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { AgoraError } from '../errors.ts';
import type { InnerState } from '../verify/replay.ts';
import { decodeInnerState, encodeInnerState, innerStateBytes } from '../verify/trace-wire.ts';

export function traceFilePath(jobDir: string, round: number): string {
  return join(jobDir, `round-${round}.trace`);
}

export function deltaFilePath(jobDir: string, round: number): string {
  return join(jobDir, `round-${round}.delta`);
}

/** The signed LDA statistics of a job's last round (src/verify/lda-calibration.ts); not pruned. */
/** A provider's signed swarm statistics of round 0 (`encodePrepStats`, src/verify/prep-stats.ts). */
export function prepStatsFilePath(jobDir: string): string {
  return join(jobDir, 'prep-stats.bin');
}

export function ldaStatsFilePath(jobDir: string, round: number): string {
  return join(jobDir, `round-${round}.lda`);
}

function atomicWrite(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Writes the round's boundary states (all of one model, so all the same size). */
export function writeTraceStates(path: string, states: readonly InnerState[]): void {
  if (states.length === 0) throw new AgoraError('TRACE_EMPTY', 'a round trace has at least one state');
  const per = innerStateBytes(states[0].params.length);
  const out = new Uint8Array(per * states.length);
  states.forEach((s, k) => {
    const e = encodeInnerState(s);
    if (e.byteLength !== per)
      throw new AgoraError('TRACE_BAD_STATE', 'the states of one trace differ in size');
    out.set(e, k * per);
  });
  atomicWrite(path, out);
}

/** The encoded state k of a trace file (undefined if the file or the state is not there). */
export function readTraceStateBytes(path: string, k: number, params: number): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  const per = innerStateBytes(params);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size % per !== 0 || !Number.isInteger(k) || k < 0 || (k + 1) * per > size) return undefined;
    const out = new Uint8Array(per);
    let got = 0;
    while (got < per) {
      const n = readSync(fd, out, got, per - got, k * per + got);
      if (n <= 0) return undefined;
      got += n;
    }
    decodeInnerState(out, params); // refuse to serve a corrupt file
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Deletes the `.trace` and `.delta` files of rounds before `keepFrom`; returns how many it removed. */
export function pruneRoundFiles(jobDir: string, keepFrom: number): number {
  if (!existsSync(jobDir)) return 0;
  let removed = 0;
  for (const name of readdirSync(jobDir)) {
    const m = /^round-(\d+)\.(trace|delta)$/.exec(name);
    if (m && Number(m[1]) < keepFrom) {
      unlinkSync(join(jobDir, name));
      removed++;
    }
  }
  return removed;
}
