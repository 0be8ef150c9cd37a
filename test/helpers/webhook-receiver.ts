// A real HTTP audit receiver for tests: records every POST, answers as told (status, delay).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LogLine } from './warden.js';

/** One POST as the receiver saw it. */
export interface ReceivedPost {
  at: number;
  status: number;
  headers: IncomingHttpHeaders;
  /** The NDJSON body, one parsed object per line. */
  events: LogLine[];
}

/** A running receiver. */
export interface WebhookReceiver {
  url: string;
  posts: ReceivedPost[];
  /** Events of the POSTs answered 2xx, in arrival order. */
  accepted(): LogLine[];
  /** How to answer the n-th POST (0-based): status, and a delay before answering. */
  respond: (n: number) => { status: number; delayMs?: number };
  close(): Promise<void>;
}

/** Start a receiver on 127.0.0.1 (on `port` if given); by default every POST gets 204. */
export async function startReceiver(
  respond: WebhookReceiver['respond'] = () => ({ status: 204 }),
  port = 0,
): Promise<WebhookReceiver> {
  const posts: ReceivedPost[] = [];
  let received = 0;
  const timers = new Set<NodeJS.Timeout>();
  const r: WebhookReceiver = {
    url: '',
    posts,
    respond,
    accepted: () => posts.filter((p) => p.status >= 200 && p.status < 300).flatMap((p) => p.events),
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const { status, delayMs = 0 } = r.respond(received++);
      const post: ReceivedPost = {
        at: Date.now(),
        status,
        headers: req.headers,
        events: body
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      };
      const answer = () => {
        // Recorded once answered: a POST the sender gave up on before the answer is not a delivery.
        if (!res.destroyed) posts.push(post);
        res.writeHead(status, { 'content-length': '0' }).end();
      };
      if (delayMs === 0) answer();
      else {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, delayMs);
        timers.add(t);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`;
  return r;
}
