/**
 * The live stream's unit (pure, used by the server and the page): a patch holds only the entries
 * that changed since the previous one, by section and key (`null` deletes an entry), and a version
 * number so that the page can tell a gap (then it reloads the snapshot).
 */
import { type DashboardState, type Patch, SECTIONS, type Section } from './types.ts';

export function emptyState(): DashboardState {
  return Object.fromEntries(SECTIONS.map((s) => [s, {}])) as unknown as DashboardState;
}

/** A new state with the patch's entries set or removed (the input is not changed). */
export function applyPatch(state: DashboardState, patch: Patch): DashboardState {
  const next = { ...state };
  for (const s of SECTIONS) {
    const changes = patch[s];
    if (!changes) continue;
    const section: Record<string, unknown> = { ...state[s] };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete section[k];
      else section[k] = v;
    }
    (next as Record<Section, unknown>)[s] = section;
  }
  return next;
}

export function isEmptyPatch(p: Patch): boolean {
  return SECTIONS.every((s) => !p[s] || Object.keys(p[s] as object).length === 0);
}
