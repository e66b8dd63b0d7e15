/**
 * The Agora dashboard page: the live state from the node (live.ts) and five pages chosen by the
 * URL hash: Swarm, Job, Chain, Data & models, Governance & rewards.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLiveState } from './live.ts';
import { ChainPage } from './pages/chain.tsx';
import { DataPage } from './pages/data.tsx';
import { GovernancePage } from './pages/governance.tsx';
import { JobPage } from './pages/job.tsx';
import { SwarmPage } from './pages/swarm.tsx';
import './style.css';

const PAGES = [
  { id: 'swarm', title: 'Swarm', Page: SwarmPage },
  { id: 'job', title: 'Job', Page: JobPage },
  { id: 'chain', title: 'Chain', Page: ChainPage },
  { id: 'data', title: 'Data & models', Page: DataPage },
  { id: 'governance', title: 'Governance & rewards', Page: GovernancePage },
] as const;

function pageFromHash(): string {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.id === id) ? id : 'swarm';
}

function App() {
  const { state, connected, loaded } = useLiveState();
  const [page, setPage] = useState(pageFromHash);
  useEffect(() => {
    const on = () => setPage(pageFromHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    if (!loaded) return;
    document.body.dataset.ready = '1';
    performance.mark('agora:data'); // the first render with the node's data (measured by the browser test)
  }, [loaded]);
  const meta = state.meta.chain;
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  return (
    <>
      <header>
        <div class="brand">
          Agora <span class="muted">swarm dashboard</span>
        </div>
        <nav>
          {PAGES.map((p) => (
            <a key={p.id} href={`#/${p.id}`} class={p.id === page ? 'active' : ''}>
              {p.title}
            </a>
          ))}
        </nav>
        <div class="status small">
          <span class={`dot ${connected ? 'on' : 'off'}`} title={connected ? 'live' : 'reconnecting'} />
          {meta ? `chain ${meta.chainId} · block ${meta.block}` : 'connecting…'}
          {meta?.message ? <span class="muted"> · {meta.message}</span> : null}
        </div>
      </header>
      <main data-page={current.id}>
        {loaded ? <current.Page s={state} /> : <p class="muted">connecting to the node…</p>}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
