/**
 * A validator's check reports outlive a coordinator that is away (src/node/check-reports.ts): real
 * libp2p hosts on 127.0.0.1 (a validator and a job's coordinator) and a node store on disk. A report
 * made while the coordinator is not connected is persisted, survives the validator's restart (the
 * store reopened), is kept while the coordinator refuses it, and is sent and forgotten once the
 * coordinator takes it.
 */
import { join } from 'node:path';
import { getAddress } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgoraHost } from '../../src/net/host.ts';
import { CheckReportOutbox } from '../../src/node/check-reports.ts';
import { serveRoundProtocol } from '../../src/node/round-protocol.ts';
import { NodeStore } from '../../src/node/store.ts';
import { checkAttestationToJson, signCheckAttestation } from '../../src/verify/check-attestation.ts';
import { tempHome } from '../helpers/cli.ts';
import { accounts, fullMesh, memoryLogger, startHosts } from '../net/helpers.ts';

describe('check reports to the coordinator', () => {
  const hosts: AgoraHost[] = [];
  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
  });

  it('are kept until the coordinator takes them, across a restart and a refusal', async () => {
    const [validator, coordinator] = accounts(2);
    const { logger } = memoryLogger();
    const participants = [validator.address, coordinator.address];
    // not connected to each other yet: the coordinator is "down" for the validator
    hosts.push(...(await startHosts([validator, coordinator], participants, logger, { bootstrap: [] })));
    const [vHost, cHost] = hosts;
    const jobId = 7n;
    const taken: { round: number; from: string; attested: string }[] = [];
    let refuse = true;
    await serveRoundProtocol(cHost, {
      checked: async (req, peer) => {
        if (refuse) return { ok: false, reason: 'not yet' };
        taken.push({ round: req.round, from: peer.address, attested: String(req.attestation?.validator) });
        return { ok: true };
      },
    });

    const path = join(tempHome(), 'validator.db');
    const options = (store: NodeStore) => ({
      store,
      host: vHost,
      jobId,
      requester: getAddress(coordinator.address),
      logger,
    });
    let store = new NodeStore(path);
    let outbox = new CheckReportOutbox(options(store));
    for (const round of [0, 1]) {
      const a = await signCheckAttestation(validator, jobId, round, []);
      outbox.add({ round, flagged: [], attestation: checkAttestationToJson(a) });
    }
    // a second report of round 1 replaces the first (one per round)
    const again = await signCheckAttestation(validator, jobId, 1, [coordinator.address]);
    outbox.add({ round: 1, flagged: [], attestation: checkAttestationToJson(again) });
    expect(await outbox.flush()).toBe(2);
    expect(taken).toEqual([]);

    // the validator restarts: its reports are still there
    store.close();
    store = new NodeStore(path);
    outbox = new CheckReportOutbox(options(store));
    expect(outbox.pending().map((r) => r.round)).toEqual([0, 1]);
    expect(outbox.pending()[1].attestation.unverifiable).toEqual([getAddress(coordinator.address)]);

    // connected, but the coordinator refuses: nothing is lost
    await fullMesh([vHost, cHost]);
    expect(await outbox.flush()).toBe(2);
    expect(taken).toEqual([]);

    // taken: sent in round order, then forgotten (a later flush sends nothing again)
    refuse = false;
    expect(await outbox.flush()).toBe(0);
    expect(taken.map((t) => t.round)).toEqual([0, 1]);
    expect(new Set(taken.map((t) => t.from.toLowerCase()))).toEqual(
      new Set([validator.address.toLowerCase()]),
    );
    expect(taken.every((t) => t.attested === getAddress(validator.address))).toBe(true);
    expect(await outbox.flush()).toBe(0);
    expect(taken).toHaveLength(2);
    store.close();
  }, 60_000);
});
