/** Swarm: who is in the swarm, what each node does, its last round and what it sent. */
import type { DashboardState } from '../../../src/dashboard/types.ts';
import { currentJobId, formatBytes } from '../../../src/dashboard/views.ts';
import { Addr, Badge, Empty, Section, Tiles } from '../ui.tsx';

const ROLE_ORDER = { requester: 0, validator: 1, provider: 2 } as const;

export function SwarmPage({ s }: { s: DashboardState }) {
  const peers = Object.values(s.peers).sort(
    (a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name),
  );
  const jobId = currentJobId(s);
  const job = jobId ? s.jobs[jobId] : undefined;
  const sent = peers.reduce((n, p) => n + p.bytesSent, 0);
  return (
    <>
      <Tiles
        items={[
          ['providers', peers.filter((p) => p.role === 'provider').length],
          ['validators', peers.filter((p) => p.role === 'validator').length],
          ['rounds committed', job ? `${job.roundsCommitted} / ${job.rounds}` : '—'],
          ['bytes sent by the swarm', formatBytes(sent)],
        ]}
      />
      <Section
        title="Peers"
        note="Each node has its own wallet, store and libp2p identity; they meet only through the chain and libp2p."
      >
        {peers.length === 0 ? (
          <Empty>No nodes yet: the swarm starts once the contracts are deployed.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th>node</th>
                <th>role</th>
                <th>address</th>
                <th>state</th>
                <th>last round</th>
                <th class="num">bytes sent</th>
                <th>hardware</th>
                <th>dataset</th>
              </tr>
            </thead>
            <tbody>
              {peers.map((p) => (
                <tr key={p.name} data-peer={p.name}>
                  <td>
                    {p.statusUrl ? (
                      <a href={`${p.statusUrl}/status`} target="_blank" rel="noreferrer">
                        {p.name}
                      </a>
                    ) : (
                      p.name
                    )}
                  </td>
                  <td>{p.role}</td>
                  <td>
                    <Addr address={p.address} />
                  </td>
                  <td>
                    <Badge>{p.state}</Badge>
                  </td>
                  <td>{p.lastRound === null ? '—' : p.lastRound + 1}</td>
                  <td class="num">{p.role === 'provider' ? formatBytes(p.bytesSent) : '—'}</td>
                  <td class="small">
                    {p.hardware
                      ? `${p.hardware.cores} cores, ${(p.hardware.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${p.hardware.engine}`
                      : '—'}
                  </td>
                  <td>{p.datasetId ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
