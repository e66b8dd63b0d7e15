/** Chain: the protocol contracts, recent transactions, and events in words. */
import type { DashboardState } from '../../../src/dashboard/types.ts';
import { addressNamer } from '../../../src/dashboard/views.ts';
import { Badge, Hash, Section } from '../ui.tsx';

const time = (ms: number) => new Date(ms).toLocaleTimeString();

export function ChainPage({ s }: { s: DashboardState }) {
  const name = addressNamer(s);
  const txs = Object.values(s.txs)
    .sort((a, b) => b.block - a.block || b.index - a.index)
    .slice(0, 40);
  const events = Object.values(s.events)
    .sort((a, b) => b.block - a.block || b.id.localeCompare(a.id, undefined, { numeric: true }))
    .slice(0, 120);
  return (
    <>
      <Section title="Contracts">
        <table>
          <tbody>
            {Object.values(s.contracts).map((c) => (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>
                  <code>{c.address}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <div class="two">
        <Section title="Events, in words">
          <ul class="events" data-testid="events">
            {events.map((e) => (
              <li key={e.id}>
                <span class="muted small">
                  #{e.block} {time(e.at)} · {e.contract}
                </span>
                <div>{e.text}</div>
              </li>
            ))}
          </ul>
        </Section>
        <Section title="Recent transactions">
          <table>
            <thead>
              <tr>
                <th>block</th>
                <th>from</th>
                <th>call</th>
                <th>status</th>
                <th class="num">gas</th>
                <th>hash</th>
              </tr>
            </thead>
            <tbody>
              {txs.map((t) => (
                <tr key={t.hash}>
                  <td>{t.block}</td>
                  <td>{name(t.from)}</td>
                  <td>{t.contract ? `${t.contract}.${t.fn ?? '?'}` : (t.fn ?? 'transfer')}</td>
                  <td>
                    <Badge>{t.ok ? 'ok' : 'failed'}</Badge>
                  </td>
                  <td class="num">{t.gasUsed.toLocaleString('en-US')}</td>
                  <td>
                    <Hash value={t.hash} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      </div>
    </>
  );
}
