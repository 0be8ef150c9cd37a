// The forwarded body of an auth request, read within a bound: only for policies with per-tool (`mcp`) sub-rules.
import type { IncomingMessage } from 'node:http';
import type { RequestBody } from '../request/description.js';

const EMPTY = new Uint8Array(0);

/** The request announces a body (Node's parser then delivers it, whatever the method: Traefik sends GET with one). */
export function announcesBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Read at most `max` bytes of the body. A larger one is not kept (memory stays bounded by `max` per
 * request; Node drains the rest once the answer is written) and comes back `cut`, as does Envoy's
 * partial body (`x-envoy-auth-partial-body: true`) and a body the proxy stopped sending.
 */
export function readBody(req: IncomingMessage, max: number): Promise<RequestBody> {
  if (req.headers['x-envoy-auth-partial-body'] === 'true')
    return Promise.resolve({ bytes: EMPTY, cut: 'partial body: Envoy allow_partial_message' });
  const over = { bytes: EMPTY, cut: `body over WARDEN_MCP_MAX_BODY (${max} bytes)` };
  if (Number(req.headers['content-length']) > max) return Promise.resolve(over);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (body: RequestBody) => {
      req.removeAllListeners('data');
      req.resume();
      resolve(body);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) stop(over);
      else chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(size > max ? over : { bytes: Buffer.concat(chunks, size), cut: null });
    });
    req.on('aborted', () => {
      resolve({ bytes: EMPTY, cut: 'body not received in full' });
    });
  });
}
