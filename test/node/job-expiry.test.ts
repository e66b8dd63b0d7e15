/** When a job may be closed (pure), and which errors count as a chain outage the loops ride over. */
import { describe, expect, it } from 'vitest';
import { AgoraError } from '../../src/errors.ts';
import { isChainOutage } from '../../src/node/chain-outage.ts';
import { closableAs } from '../../src/node/job-expiry.ts';

describe('closableAs', () => {
  const job = { state: 'Running' as const, rounds: 4, completionDeadline: 1000n };
  it('complete once every round is committed, at any time', () => {
    expect(closableAs(job, 4, 10n)).toBe('complete');
  });
  it('expired only strictly after the completion deadline with rounds missing', () => {
    expect(closableAs(job, 2, 1000n)).toBeUndefined();
    expect(closableAs(job, 2, 1001n)).toBe('expired');
    expect(closableAs(job, 0, 5000n)).toBe('expired');
  });
  it('never for a job that is not running', () => {
    for (const state of ['Open', 'Completed', 'Expired', 'Cancelled'] as const)
      expect(closableAs({ ...job, state }, 4, 5000n)).toBeUndefined();
  });
});

describe('isChainOutage', () => {
  it('is an unreachable or timed-out node, not an answer that is an error', () => {
    expect(isChainOutage(new AgoraError('CHAIN_UNREACHABLE', 'x'))).toBe(true);
    expect(isChainOutage(new AgoraError('CHAIN_TIMEOUT', 'x'))).toBe(true);
    expect(isChainOutage(new AgoraError('CONTRACT_REVERT', 'x'))).toBe(false);
    expect(isChainOutage(new AgoraError('CHAIN_NO_FUNDS', 'x'))).toBe(false);
    expect(isChainOutage(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe(
      true,
    );
  });
});
