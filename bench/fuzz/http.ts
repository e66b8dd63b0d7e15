/** HTTP for the server targets: one request over a keep-alive agent; a dropped connection is a crash. */
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

export type HttpReply = { status: number; body: string; headers: IncomingHttpHeaders };

/** One HTTP request; a network failure (the server died or reset the connection) rejects. */
export function httpRequest(
  url: string,
  method: string,
  path: string,
  body: Uint8Array | undefined,
  headers: Record<string, string>,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        agent,
        headers: { ...headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (e) => reject(new Error(`the server dropped the request: ${e.message}`)));
    req.end(body);
  });
}
