/**
 * Long-running parts of a node (chain watcher, libp2p host, status API, role loops) are `Startable`,
 * and the daemon starts and stops them together, as js-libp2p does with its services.
 */
export interface Startable {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts services in order; if one fails, stops the ones already started (reverse order) and rethrows. */
export async function startAll(services: readonly Startable[]): Promise<void> {
  const started: Startable[] = [];
  for (const s of services) {
    try {
      await s.start();
      started.push(s);
    } catch (e) {
      await stopAll(started);
      throw e;
    }
  }
}

/** Stops services in reverse order; every one is asked to stop even if another fails. */
export async function stopAll(services: readonly Startable[]): Promise<Error[]> {
  const errors: Error[] = [];
  for (const s of [...services].reverse()) {
    try {
      await s.stop();
    } catch (e) {
      errors.push(new Error(`stopping ${s.name} failed: ${(e as Error).message}`, { cause: e }));
    }
  }
  return errors;
}
