/**
 * The page's live state: the snapshot the server put into the page (`window.__AGORA__`, so the
 * first render needs no second request), then one EventSource on /api/stream: its first event is
 * a fresh snapshot, then every `patch` holds only the entries that changed. A gap in the versions (a lost event) or a
 * dropped connection reconnects, which sends a fresh snapshot.
 */
import { useEffect, useState } from 'preact/hooks';
import { applyPatch, emptyState } from '../../src/dashboard/patch.ts';
import type { DashboardState, Patch } from '../../src/dashboard/types.ts';

export type Live = { state: DashboardState; connected: boolean; loaded: boolean };

type Snapshot = { v: number; state: DashboardState };

function embedded(): Snapshot | undefined {
  return (window as unknown as { __AGORA__?: Snapshot }).__AGORA__;
}

export function useLiveState(url = 'api/stream'): Live {
  const [live, setLive] = useState<Live>(() => {
    const s = embedded();
    return s
      ? { state: s.state, connected: false, loaded: true }
      : { state: emptyState(), connected: false, loaded: false };
  });
  useEffect(() => {
    let es: EventSource | undefined;
    let version = -1;
    let retry: ReturnType<typeof setTimeout> | undefined;
    const connect = () => {
      es = new EventSource(url);
      es.addEventListener('snapshot', (ev) => {
        const snap = JSON.parse((ev as MessageEvent).data) as Snapshot;
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
