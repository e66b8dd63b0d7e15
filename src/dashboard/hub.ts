/**
 * The dashboard's live state on the server: adapters put entries (by section and key), the hub
 * keeps the current state and, once per event-loop turn, sends subscribers one patch with only
 * the entries whose JSON changed. Sections with a cap (recent transactions and events) drop their
 * oldest entries.
 */
import { emptyState } from './patch.ts';
import type { DashboardState, Patch, Section } from './types.ts';

type Entry<S extends Section> = DashboardState[S][string];
export type Listener = (patch: Patch) => void;

export class DashboardHub {
  readonly #state: DashboardState = emptyState();
  /** JSON of every entry, to tell a real change from a re-put of the same value. */
  readonly #json = new Map<string, string>();
  readonly #pending = new Map<Section, Map<string, unknown>>();
  readonly #listeners = new Set<Listener>();
  readonly #caps: Partial<Record<Section, number>>;
  #version = 0;
  #scheduled = false;

  constructor(opts: { caps?: Partial<Record<Section, number>> } = {}) {
    this.#caps = opts.caps ?? { txs: 300, events: 400 };
  }

  get version(): number {
    return this.#version;
  }

  snapshot(): { v: number; state: DashboardState } {
    return { v: this.#version, state: structuredClone(this.#state) };
  }

  get<S extends Section>(section: S, key: string): Entry<S> | undefined {
    return this.#state[section][key] as Entry<S> | undefined;
  }

  entries<S extends Section>(section: S): [string, Entry<S>][] {
    return Object.entries(this.#state[section]) as [string, Entry<S>][];
  }

  put<S extends Section>(section: S, key: string, value: Entry<S>): void {
    const id = `${section}\u0000${key}`;
    const json = JSON.stringify(value);
    if (this.#json.get(id) === json) return;
    this.#json.set(id, json);
    const sec = this.#state[section] as Record<string, unknown>;
    sec[key] = JSON.parse(json);
    this.#mark(section, key, sec[key]);
    const cap = this.#caps[section];
    if (cap !== undefined) {
      const keys = Object.keys(sec);
      for (const old of keys.slice(0, Math.max(0, keys.length - cap))) this.remove(section, old);
    }
  }

  /** Puts `section[key]` = old value with `fields` replaced (or `init` with them when there is none). */
  update<S extends Section>(section: S, key: string, init: () => Entry<S>, fields: Partial<Entry<S>>): void {
    const cur = this.get(section, key) ?? init();
    this.put(section, key, { ...(cur as object), ...(fields as object) } as Entry<S>);
  }

  remove(section: Section, key: string): void {
    const sec = this.#state[section] as Record<string, unknown>;
    if (!(key in sec)) return;
    delete sec[key];
    this.#json.delete(`${section}\u0000${key}`);
    this.#mark(section, key, null);
  }

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  #mark(section: Section, key: string, value: unknown): void {
    const m = this.#pending.get(section) ?? new Map<string, unknown>();
    this.#pending.set(section, m);
    m.set(key, value);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends the pending changes now (normally called once per event-loop turn). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const patch = { v: ++this.#version } as Patch;
    for (const [section, m] of this.#pending) {
      (patch as Record<string, unknown>)[section] = Object.fromEntries(m);
    }
    this.#pending.clear();
    for (const l of this.#listeners) {
      try {
        l(patch);
      } catch {
        this.#listeners.delete(l); // a broken subscriber (closed stream) does not stop the others
      }
    }
  }
}
