/**
 * A validator's `checked` reports to its job's coordinator, kept in the node store until the
 * coordinator has taken them. The coordinator pays validators by these reports (one per round
 * checked, with the signed check attestation), so a report must outlive a coordinator that is down
 * when the round is checked (its requester killed, restarting) and a validator that restarts
 * before it could send it: each report is persisted first, then sent whenever the coordinator is
 * connected, and dropped only once the coordinator said ok.
 */
import type { Address } from 'viem';
import type { AgoraHost } from '../net/host.ts';
import type { CheckAttestationJson } from '../verify/check-attestation.ts';
import { peerOf } from './job-sync.ts';
import type { Logger } from './logger.ts';
import { roundRequest } from './round-protocol.ts';
import type { NodeStore } from './store.ts';

export type CheckReport = { round: number; flagged: Address[]; attestation: CheckAttestationJson };

export type CheckReportOutboxOptions = {
  store: NodeStore;
  host: AgoraHost;
  jobId: bigint;
  /** the job's requester: its coordinator takes the reports */
  requester: Address;
  logger: Logger;
};

export class CheckReportOutbox {
  readonly #key: string;
  readonly #o: CheckReportOutboxOptions;

  constructor(o: CheckReportOutboxOptions) {
    this.#o = o;
    this.#key = `validator:${o.jobId}:unsent-checks`;
  }

  /** The reports the coordinator has not taken yet, by round. */
  pending(): CheckReport[] {
    return this.#o.store.getJson<CheckReport[]>(this.#key) ?? [];
  }

  /** Persists a report (one per round: a later report of the same round replaces it). */
  add(r: CheckReport): void {
    this.#o.store.transaction(() => {
      const rest = this.pending().filter((x) => x.round !== r.round);
      this.#o.store.setJson(
        this.#key,
        [...rest, r].sort((a, b) => a.round - b.round),
      );
    });
  }

  /**
   * Sends the pending reports to the coordinator if it is connected (no dialing: the caller's
   * loop reconnects), and forgets those it took. Returns how many are still pending.
   */
  async flush(): Promise<number> {
    const pending = this.pending();
    if (pending.length === 0) return 0;
    const coord = peerOf(this.#o.host, this.#o.requester);
    if (!coord) return pending.length;
    const taken = new Set<number>();
    for (const r of pending) {
      const reply = await roundRequest(this.#o.host, coord, {
        t: 'checked',
        jobId: this.#o.jobId.toString(),
        round: r.round,
        flagged: r.flagged,
        attestation: r.attestation,
      }).catch((e: Error) => ({ ok: false as const, reason: e.message }));
      if (reply.ok) taken.add(r.round);
      else {
        this.#o.logger.debug({ round: r.round, reason: reply.reason }, 'check report not taken yet');
        break;
      }
    }
    if (taken.size === 0) return pending.length;
    return this.#o.store.transaction(() => {
      const left = this.pending().filter((x) => !taken.has(x.round));
      this.#o.store.setJson(this.#key, left);
      return left.length;
    });
  }
}
