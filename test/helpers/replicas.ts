// Requests the Redis suites send to several wardens: Traefik-dialect checks, revocations, readiness.
import { send, type RawResponse } from './http.js';
import type { TestWarden } from './warden.js';

/** The headers Traefik's ForwardAuth sends for GET https://app.example.com<uri> from `ip`. */
export function traefikHeaders(uri: string, ip: string, key?: string): Record<string, string> {
  return {
    'X-Forwarded-Method': 'GET',
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'app.example.com',
    'X-Forwarded-Uri': uri,
    'X-Forwarded-For': ip,
    ...(key ? { 'X-API-Key': key } : {}),
  };
}

/** Ask a warden as Traefik would; the status it answers. */
export function verifyStatus(w: TestWarden, uri: string, key?: string, ip = '203.0.113.7'): Promise<number> {
  return send(`${w.url}/verify/traefik`, { headers: traefikHeaders(uri, ip, key) }).then((r) => r.status);
}

/** Revoke a key id through a warden's admin API with `adminKey`; the status it answers. */
export async function revokeKey(
  w: TestWarden,
  adminKey: string,
  id: string,
  reason: string,
): Promise<number> {
  const r = await fetch(`${w.url}/admin/revocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': adminKey },
    body: JSON.stringify({ type: 'key', id, reason }),
  });
  await r.arrayBuffer();
  return r.status;
}

/** True when the warden's /readyz answers 200. */
export function isReady(w: TestWarden): Promise<boolean> {
  return fetch(`${w.url}/readyz`).then(
    async (r) => (await r.arrayBuffer(), r.status === 200),
    () => false,
  );
}

/** Call a warden's admin API as `key` (a JSON body when given); the raw answer. */
export function adminCall(
  w: TestWarden,
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<RawResponse> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return send(`${w.url}/admin${path}`, {
    method,
    headers: {
      ...(key === null ? {} : { 'X-API-Key': key }),
      ...(text !== undefined
        ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }
        : {}),
    },
    ...(text !== undefined ? { body: text } : {}),
  });
}

/** Ask a warden as Traefik would; the whole answer. */
export function verifyAnswer(
  w: TestWarden,
  uri: string,
  key?: string,
  ip = '203.0.113.7',
): Promise<RawResponse> {
  return send(`${w.url}/verify/traefik`, { headers: traefikHeaders(uri, ip, key) });
}
