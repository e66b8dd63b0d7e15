/**
 * The page's live state: one EventSource on /api/stream; the first event is the snapshot, then
 * every `patch` holds only the entries that changed. A gap in the versions (a lost event) or a
 * dropped connection reconnects, which sends a fresh snapshot.
 */
import { useEffect, useState } from 'preact/hooks';
import { applyPatch, emptyState } from '../../src/dashboard/patch.ts';
import type { DashboardState, Patch } from '../../src/dashboard/types.ts';

export type Live = { state: DashboardState; connected: boolean; loaded: boolean };

export function useLiveState(url = 'api/stream'): Live {
  const [live, setLive] = useState<Live>({ state: emptyState(), connected: false, loaded: false });
  useEffect(() => {
    let es: EventSource | undefined;
    let version = -1;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      es = new EventSource(url);
      es.addEventListener('snapshot', (ev) => {
        const snap = JSON.parse((ev as MessageEvent).data) as { v: number; state: DashboardState };
        version = snap.v;
        setLive({ state: snap.state, connected: true, loaded: true });
      });
      es.addEventListener('patch', (ev) => {
        const p = JSON.parse((ev as MessageEvent).data) as Patch;
        if (p.v !== version + 1) {
          reconnect(0);
          return;
        }
        version = p.v;
        setLive((l) => ({ ...l, state: applyPatch(l.state, p), connected: true }));
      });
      es.onerror = () => {
        setLive((l) => ({ ...l, connected: false }));
        reconnect(1000);
      };
    };
    const reconnect = (ms: number) => {
      es?.close();
      clearTimeout(retry);
      retry = setTimeout(connect, ms);
    };
    connect();
    return () => {
      clearTimeout(retry);
      es?.close();
    };
  }, [url]);
  return live;
}
