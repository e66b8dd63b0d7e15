/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it), for listeners whose address
 * must be known before they listen (a requester's coordinator address, handed to the others as
 * their bootstrap address before its job runs).
 */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
