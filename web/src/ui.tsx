/** Small shared pieces of the pages: tiles, badges, addresses, empty states. */
import type { ComponentChildren } from 'preact';

export function Tiles({ items }: { items: [string, ComponentChildren][] }) {
  return (
    <div class="tiles">
      {items.map(([label, value]) => (
        <div class="tile" key={label}>
          <div class="tile-value">{value}</div>
          <div class="tile-label">{label}</div>
        </div>
      ))}
    </div>
  );
}

const GOOD =
  /^(pass|ok|done|completed|committed|claimed|executed|succeeded|training|coordinating|validating|running|verified|active)$/i;
const BAD = /^(fail|failed|slashed|defeated|canceled|cancelled|expired|reported)$/i;

export function Badge({ children, tone }: { children: string; tone?: 'good' | 'bad' | 'neutral' }) {
  const t = tone ?? (GOOD.test(children) ? 'good' : BAD.test(children) ? 'bad' : 'neutral');
  return <span class={`badge ${t}`}>{children}</span>;
}

export function Addr({ address, name }: { address: string | null; name?: string }) {
  if (!address) return <span class="muted">—</span>;
  return (
    <span class="addr" title={address}>
      {name ?? `${address.slice(0, 8)}…${address.slice(-4)}`}
    </span>
  );
}

export function Hash({ value }: { value: string | null }) {
  if (!value) return <span class="muted">—</span>;
  return (
    <code class="hash" title={value}>
      {value.slice(0, 10)}…{value.slice(-4)}
    </code>
  );
}

export function Section({
  title,
  children,
  note,
}: {
  title: string;
  children: ComponentChildren;
  note?: string;
}) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {note ? <p class="note">{note}</p> : null}
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}
