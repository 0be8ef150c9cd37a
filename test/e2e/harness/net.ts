// Loopback networking for e2e tests: free ports, waiting for a listener, a client that picks its source address.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';

/** Source address of the test client: not the proxy's 127.0.0.1, so the trusted-proxy logic is exercised. */
export const CLIENT_ADDRESS = '127.0.0.2';

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolve once `host:port` accepts a TCP connection; reject after `timeoutMs` or when `failed()` says the server died. */
export async function waitForPort(
  port: number,
  opts: { host?: string; timeoutMs?: number; failed?: () => string | null } = {},
): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const why = opts.failed?.();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host, port });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(Math.min(50 * (attempt + 1), 250));
  }
  throw new Error(`nothing listening on ${host}:${port} after ${opts.timeoutMs ?? 10_000} ms`);
}

/** Wait `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A response as the client saw it, redirects not followed. */
export interface ClientResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header names and values as sent, for spotting duplicates. */
  rawHeaders: string[];
  body: string;
  json(): Record<string, unknown>;
}

/**
 * One request through the proxy, from {@link CLIENT_ADDRESS}; `path` is sent exactly as given (no
 * normalisation), with `body` if given (set its content-type; content-length is added).
 */
export function send(
  port: number,
  path: string,
  opts: {
    method?: string;
    headers?: Record<string, string | string[]>;
    localAddress?: string;
    body?: string;
  } = {},
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers: {
          connection: 'close',
          ...(opts.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(opts.body)) }),
          ...opts.headers,
        },
        localAddress: opts.localAddress ?? CLIENT_ADDRESS,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body,
            json: () => JSON.parse(body),
          });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * Established TCP connections (IPv4) whose far end is 127.0.0.1:`port`, from /proc/net/tcp;
 * null where that file does not exist (not Linux).
 */
export function establishedTo(port: number): number | null {
  let table: string;
  try {
    table = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return null;
  }
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[2] === remote && cols[3] === '01') n++;
  }
  return n;
}

/** Run `start` on a free port, again on another if the port was taken meanwhile (at most `attempts` times). */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start(await freePort());
    } catch (e) {
      if (i >= attempts || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

/** A text/event-stream response being read: the events so far, and a way to wait for the next ones. */
export interface EventStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Each event's text (its `event:` and `data:` lines), in arrival order. */
  events: string[];
  /** True once the response or its connection ended. */
  ended(): boolean;
  /** The first event (already read, or still to come) for which `match` holds; rejects after `timeoutMs` or at the end. */
  next(match: (event: string) => boolean, timeoutMs?: number): Promise<string>;
  close(): void;
}

/** Open an event stream through the proxy from {@link CLIENT_ADDRESS}, resolving once the response headers arrive. */
export function openEventStream(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        headers: { accept: 'text/event-stream', ...headers },
        localAddress: CLIENT_ADDRESS,
        agent: false,
      },
      (res) => {
        const events: string[] = [];
        const waiting = new Set<() => void>();
        let buf = '';
        let done = false;
        const wakeAll = () => {
          for (const w of [...waiting]) w();
        };
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          for (let i = buf.indexOf('\n\n'); i !== -1; i = buf.indexOf('\n\n')) {
            events.push(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
          wakeAll();
        });
        res.on('close', () => {
          done = true;
          wakeAll();
        });
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          ended: () => done,
          next: (match, timeoutMs = 2000) =>
            new Promise((found, fail) => {
              const check = () => {
                const hit = events.find(match);
                if (hit !== undefined || done) {
                  waiting.delete(check);
                  clearTimeout(timer);
                  if (hit !== undefined) found(hit);
                  else
                    fail(new Error(`the stream ended before the event; events: ${JSON.stringify(events)}`));
                }
              };
              const timer = setTimeout(() => {
                waiting.delete(check);
                fail(new Error(`no such event within ${timeoutMs} ms; events: ${JSON.stringify(events)}`));
              }, timeoutMs);
              waiting.add(check);
              check();
            }),
          close: () => req.destroy(),
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
