// /verify/envoy against what Envoy's ext_authz HTTP service sends: the check request Envoy builds
// from a client request (envoy/source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc,
// documented under ext_authz.proto `http_service`, `path_prefix` and `allowed_headers`):
//  - the check request has the client request's own method, its :path with path_prefix put in
//    front (the query kept), Content-Length: 0 and no body;
//  - of the client's headers only Host (:authority), Authorization and those named in
//    allowed_headers (Envoy Gateway: headersToExtAuth) are copied; nothing else arrives;
//  - only a 200 answer allows; any other status goes to the client with the answer's headers
//    (Location, WWW-Authenticate, Retry-After) and body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { join } from 'node:path';
import { find, K8S_DIR, parseManifests } from '../deploy/manifests.js';

const policy = {
  roles: { developer: ['api:*'] },
  rateLimits: { tight: { limit: 1, window: '60s', by: 'identity' } },
  rules: [
    { match: { path: '/public/**' }, public: true },
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/tight/**' }, require: ['api:read'], rateLimit: 'tight' },
    { match: { path: '/envoy/**' }, require: ['api:read'] },
  ],
  default: 'deny',
};
const dev = testKey('dev-1', ['developer']);
const LOGIN = 'https://login.example.com/signin';

/** The headers the SecurityPolicy in deploy/kubernetes/gateway-api lets through (headersToExtAuth). */
function allowedHeaders(): string[] {
  const sp = find(
    parseManifests(join(K8S_DIR, 'gateway-api/security-policy.yaml')),
    'SecurityPolicy',
    'demo-app-warden',
  );
  return (sp.spec.extAuth.headersToExtAuth as string[]).map((h) => h.toLowerCase());
}

/** A client request as it reaches Envoy's ext_authz filter (after the HTTP connection manager appended X-Forwarded-For and set X-Forwarded-Proto). */
interface ClientRequest {
  method: string;
  path: string;
  authority: string;
  headers: Record<string, string>;
}

/** The check request Envoy sends to warden for `c`, with `prefix` as path_prefix and `allowed` as allowed_headers. */
function envoyCheck(
  c: ClientRequest,
  prefix: string,
  allowed: string[],
): { method: string; rawPath: string; headers: [string, string][] } {
  const always = ['authorization'];
  const headers: [string, string][] = [
    ['host', c.authority],
    ['content-length', '0'],
  ];
  for (const [name, value] of Object.entries(c.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'host') continue;
    if (always.includes(lower) || allowed.includes(lower)) headers.push([lower, value]);
  }
  return { method: c.method, rawPath: prefix + c.path, headers };
}

let w: TestWarden;
let bare: TestWarden;
beforeAll(async () => {
  const env = { WARDEN_TRUSTED_PROXIES: '10.0.0.0/8,127.0.0.1/32', WARDEN_LOGIN_URL: LOGIN };
  w = await startWarden({ policy, keys: [dev.entry], env });
  bare = await startWarden({ policy, keys: [dev.entry], env: { ...env, WARDEN_PROXY: 'envoy' } });
});
afterAll(async () => {
  await w.close();
  await bare.close();
});

async function ask(target: TestWarden, c: ClientRequest, prefix = '/verify/envoy') {
  const check = envoyCheck(c, prefix, allowedHeaders());
  const r = await send(`${target.url}/`, check);
  return { ...r, audit: target.audit.at(-1)! };
}

const client = (path: string, headers: Record<string, string> = {}, method = 'GET'): ClientRequest => ({
  method,
  path,
  authority: 'app.example.com',
  headers: {
    'x-forwarded-for': '203.0.113.9',
    'x-forwarded-proto': 'https',
    'user-agent': 'curl/8',
    ...headers,
  },
});

describe('Envoy ext_authz HTTP: the check request Envoy sends', () => {
  it('the Envoy Gateway recipe forwards what warden reads: X-Forwarded-For, -Proto, X-API-Key, and the browser hints', () => {
    const allowed = allowedHeaders();
    for (const h of [
      'x-forwarded-for',
      'x-forwarded-proto',
      'x-api-key',
      'accept',
      'sec-fetch-mode',
      'x-requested-with',
      'x-request-id',
    ])
      expect(allowed, h).toContain(h);
    // Never the other dialects' context headers: a client's copy would be denied (bad_forwarded_context).
    for (const h of [
      'x-forwarded-uri',
      'x-forwarded-method',
      'x-original-url',
      'x-original-uri',
      'x-original-method',
    ])
      expect(allowed, h).not.toContain(h);
  });

  it('allows with 200, judging the original method, host, path (prefix removed) and client', async () => {
    const r = await ask(w, client('/api/nodes?page=2', { 'x-api-key': dev.key }, 'POST'));
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect(r.headers['x-user-id']).toBe('dev-1');
    expect(r.audit).toMatchObject({
      dialect: 'envoy',
      method: 'POST',
      host: 'app.example.com',
      path: '/api/nodes',
      clientIp: '203.0.113.9',
      decision: 'allow',
    });
  });

  it('takes Authorization: Bearer even with no allowed headers at all (Envoy always sends it)', async () => {
    const check = envoyCheck(client('/api/x', { authorization: `Bearer ${dev.key}` }), '/verify/envoy', [
      'x-forwarded-for',
    ]);
    const r = await send(`${w.url}/`, check);
    expect(r.status).toBe(200);
  });

  it('denies with a status other than 200, so Envoy refuses: 401, 403, 429, and 302 with an absolute Location', async () => {
    const anon = await ask(w, client('/api/x', { accept: 'application/json' }));
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toMatch(/^Bearer /);
    const forbidden = await ask(w, client('/other', { 'x-api-key': dev.key }));
    expect(forbidden.status).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({ error: 'forbidden', reason: 'default_deny' });
    await ask(w, client('/tight/1', { 'x-api-key': dev.key }));
    const limited = await ask(w, client('/tight/2', { 'x-api-key': dev.key }));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const browser = await ask(
      w,
      client('/api/x?tab=1', { accept: 'text/html', 'sec-fetch-mode': 'navigate' }),
    );
    expect(browser.status).toBe(302);
    const location = String(browser.headers.location);
    // Envoy hands the Location to the browser as is: it must be absolute, with the original URL as rd.
    expect(new URL(location).origin).toBe(new URL(LOGIN).origin);
    expect(new URL(location).searchParams.get('rd')).toBe('https://app.example.com/api/x?tab=1');
    for (const d of [anon, forbidden, limited, browser])
      expect(d.headers['x-user-id'], String(d.status)).toBeUndefined();
  });

  it('judges the raw path Envoy forwards: encodings are canonicalised or refused, never decoded by a proxy first', async () => {
    const dots = await ask(w, client('/public/%2e%2e/api/x'));
    expect(dots.status).toBe(401);
    expect(dots.audit).toMatchObject({ path: '/api/x' });
    const slash = await ask(w, client('/api%2fx', { 'x-api-key': dev.key }));
    expect(JSON.parse(slash.body).reason).toBe('bad_path');
  });

  it('denies a check request without X-Forwarded-For (allowed_headers left out): no client IP, no decision', async () => {
    const check = envoyCheck(client('/public/x'), '/verify/envoy', []);
    const r = await send(`${w.url}/`, check);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).reason).toBe('bad_forwarded_context');
  });

  it('with WARDEN_PROXY=envoy and path_prefix /verify, every path after /verify is the original one, /envoy/… included', async () => {
    const ok = await ask(bare, client('/api/x', { 'x-api-key': dev.key }), '/verify');
    expect(ok.status).toBe(200);
    expect(ok.audit).toMatchObject({ dialect: 'envoy', path: '/api/x' });
    // Judged as /envoy/public/x (protected), not as /public/x with the /envoy prefix taken for warden's.
    const tricky = await ask(bare, client('/envoy/public/x', { accept: 'application/json' }), '/verify');
    expect(tricky.status).toBe(401);
    expect(tricky.audit).toMatchObject({ dialect: 'envoy', path: '/envoy/public/x' });
    const root = await ask(bare, client('/', { 'x-api-key': dev.key }), '/verify');
    expect(root.audit).toMatchObject({ path: '/', reason: 'default_deny' });
  });
});
