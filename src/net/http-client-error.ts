/**
 * The answer to a request Node's HTTP parser refuses before any route sees it (headers over 16 KiB,
 * malformed HTTP, a request that did not arrive in time), for fastify's `clientErrorHandler`: a JSON
 * error with a code, `Connection: close`, and no body to a HEAD. Fastify's default (a bare 431 or
 * 400) said neither, so a keep-alive client sent its next request on the closed socket and lost it,
 * and the body of the answer to a HEAD broke the client's parser (fuzz findings 12 and 25). Each
 * server writes the body in its own error form (`body`, given the kind and the status's reason
 * phrase).
 */
import type { Socket } from 'node:net';

export type ClientErrorKind = 'headers-too-large' | 'timeout' | 'bad-request';

export function httpClientErrorHandler(
  body: (kind: ClientErrorKind, reason: string) => unknown,
): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, kind]: [number, string, ClientErrorKind] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'headers-too-large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'timeout']
          : [400, 'Bad Request', 'bad-request'];
    const text = JSON.stringify(body(kind, reason));
    const raw = (err as { rawPacket?: unknown }).rawPacket;
    const head = Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${head ? '' : text}`,
      );
    }
    socket.destroy();
  };
}
