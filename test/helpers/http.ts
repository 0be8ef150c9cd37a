// A raw HTTP client for tests: exact headers (duplicates allowed), chosen source address, no redirects.
import { request } from 'node:http';

/** A response as the test sees it. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Send one request; `headers` as [name, value] pairs keeps duplicates and order. */
export function send(
  url: string,
  opts: {
    method?: string;
    rawPath?: string;
    body?: string;
    headers?: [string, string][] | Record<string, string>;
    localAddress?: string;
  } = {},
): Promise<RawResponse> {
  const u = new URL(url);
  const pairs = Array.isArray(opts.headers) ? opts.headers : Object.entries(opts.headers ?? {});
  const flat: string[] = [];
  if (!pairs.some(([k]) => k.toLowerCase() === 'host')) flat.push('Host', u.host);
  for (const [k, v] of pairs) flat.push(k, v);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: opts.rawPath ?? u.pathname + u.search,
        method: opts.method ?? 'GET',
        headers: flat,
        localAddress: opts.localAddress,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}
