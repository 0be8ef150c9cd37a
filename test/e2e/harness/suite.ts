// The end-to-end tests every proxy recipe must pass: client → real proxy → warden → echo upstream.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEcho, type Echo, type EchoedRequest } from './echo.js';
import { closeAndScan } from './secrets.js';
import {
  APP_HOST,
  BAD_KEY,
  IDENTITY_HEADERS,
  KEYS,
  LOGIN_URL,
  METHOD_OVERRIDE_HEADERS,
  OTHER_PRESET_HEADERS,
  policy,
  ROUTING_HEADERS,
  spellings,
  RULE,
  startE2eWarden,
  TIGHT_LIMIT,
  type E2eWarden,
} from './fixture.js';
import { CLIENT_ADDRESS, establishedTo, send, sleep, type ClientResponse } from './net.js';
import { describeNeeding } from './process.js';
import type { Proxy } from './proxy.js';
import { ifStarted } from '../../helpers/hooks.js';

/** How a proxy recipe differs in what the client sees. */
export interface ProxyTraits {
  /** Caddy relays warden's deny body; nginx's auth_request drops it and the recipe answers its own JSON. */
  relaysDenyBody: boolean;
}

/** One proxy under test. */
export interface ProxyUnderTest {
  kind: Proxy['kind'];
  /** The binary's path, null when not installed. */
  bin: string | null;
  start(opts: { wardenPort: number; upstreamPort: number }): Promise<Proxy>;
  traits: ProxyTraits;
}

const IDENTITY_NAMES: string[] = IDENTITY_HEADERS.map((h) => h.toLowerCase());

/** Header names an upstream framework may read as one of the identity headers (`X_User_ID` ≈ `X-User-ID`). */
function identityAlias(name: string): string | null {
  const n = name.toLowerCase().replace(/[_.]/g, '-');
  return IDENTITY_NAMES.includes(n) ? n : null;
}

/** Register the suite; skipped with a warning when the binary is missing, failing instead when CI=true. */
export function defineProxySuite(p: ProxyUnderTest): void {
  const missing = p.bin
    ? null
    : `${p.kind} is not installed: the ${p.kind} end-to-end tests cannot run (install it, e.g. apt-get install ${p.kind})`;
  describeNeeding(`${p.kind} recipe (e2e)`, missing, () => proxyTests(p));
}

function proxyTests(p: ProxyUnderTest): void {
  let w: E2eWarden;
  let echo: Echo;
  let proxy: Proxy;

  beforeAll(async () => {
    w = await startE2eWarden();
    echo = await startEcho();
    proxy = await p.start({ wardenPort: w.port, upstreamPort: echo.port });
  });

  afterAll(async () => {
    await ifStarted(proxy)?.stop();
    await ifStarted(echo)?.close();
    await closeAndScan(ifStarted(w));
  });

  /** Send through the proxy with the recipe's Host; returns the response, the upstream's view and warden's audit lines. */
  async function through(path: string, headers: Record<string, string> = {}, method = 'GET') {
    const mark = w.audit.length;
    const seenBefore = echo.seen.length;
    const res = await send(proxy.port, path, { method, headers: { host: APP_HOST, ...headers } });
    // The audit line is written before warden answers; allow a beat for the stream anyway.
    for (let i = 0; i < 20 && w.audit.length === mark; i++) await sleep(25);
    const upstream: EchoedRequest[] = echo.seen.slice(seenBefore);
    const audit = w.audit.slice(mark);
    return { res, upstream, audit, last: audit.at(-1) };
  }

  function failureContext(res: ClientResponse): string {
    return `status ${res.status}, body ${res.body.slice(0, 300)}\nproxy log:\n${proxy.log().slice(-2000)}`;
  }

  it('allows a permitted key and sends warden identity headers to the upstream', async () => {
    const { res, upstream, last } = await through('/nodes/n1?x=1', { 'x-api-key': KEYS.dev.key });
    expect(res.status, failureContext(res)).toBe(200);
    expect(upstream).toHaveLength(1);
    const h = upstream[0]!.headers;
    expect(h['x-user-id']).toBe('dev');
    expect(h['x-user-roles']).toBe('developer');
    expect(h['x-auth-method']).toBe('api_key');
    expect(upstream[0]!.url).toBe('/nodes/n1?x=1');
    // The key is warden's business, not the app's.
    expect(h['x-api-key']).toBeUndefined();
    expect((res.json().headers as Record<string, unknown>)['x-user-id']).toBe('dev');
    expect(last).toMatchObject({
      decision: 'allow',
      status: 200,
      dialect: p.kind,
      sub: 'dev',
      keyId: 'dev',
      authMethod: 'api_key',
      path: '/nodes/n1',
      host: APP_HOST,
      method: 'GET',
      clientIp: CLIENT_ADDRESS,
      peer: '127.0.0.1',
      rule: RULE.nodes,
    });
    // The proxy picks the request id (nginx's $request_id, Caddy's request UUID): warden's audit line and the app see the same one.
    const reqId = h['x-request-id'];
    expect(reqId).toMatch(/^[0-9a-f-]{32,36}$/);
    expect(last?.reqId).toBe(reqId);
  });

  it('keeps its connections to warden open between requests', async () => {
    for (let i = 0; i < 5; i++) {
      const { res } = await through('/public/keepalive', {});
      expect(res.status).toBe(200);
    }
    const open = establishedTo(w.port);
    // Each request closed its client connection; an idle, established connection to warden remains.
    if (open !== null)
      expect(open, 'established connections to warden after the requests').toBeGreaterThanOrEqual(1);
  });

  it('passes the original method: a POST is judged as a POST', async () => {
    const { res, last } = await through(
      '/nodes/n1',
      { 'x-api-key': KEYS.viewer.key, 'content-length': '0' },
      'POST',
    );
    expect(res.status).toBe(200);
    expect(last).toMatchObject({ method: 'POST', path: '/nodes/n1', decision: 'allow' });
  });

  it('answers 401 with WWW-Authenticate to an API client without a key', async () => {
    const { res, upstream, last } = await through('/nodes/n1', { accept: 'application/json' });
    expect(res.status, failureContext(res)).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="warden"/);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ error: 'unauthorized' });
    expect(res.json().reason).toBe('missing_credentials');
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({
      decision: 'unauthenticated',
      reason: 'missing_credentials',
      status: 401,
      clientIp: CLIENT_ADDRESS,
    });
  });

  it('answers 401 to a bad key, naming invalid_token', async () => {
    const { res, upstream, last } = await through('/nodes/n1', {
      accept: 'application/json',
      'x-api-key': BAD_KEY,
    });
    expect(res.status, failureContext(res)).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.json()).toMatchObject({ error: 'unauthorized' });
    expect(res.json().reason).toBe('invalid_credentials');
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({ decision: 'unauthenticated', reason: 'invalid_credentials', status: 401 });
  });

  it('answers 403 with a JSON body when the key lacks the permission', async () => {
    const { res, upstream, last } = await through('/admin/users', { 'x-api-key': KEYS.viewer.key });
    expect(res.status, failureContext(res)).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ error: 'forbidden' });
    // nginx drops warden's body; its recipe answers the reason from X-Warden-Reason.
    expect(res.json()).toEqual({
      error: 'forbidden',
      reason: 'insufficient_permissions',
      required: ['admin:users'],
    });
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({
      decision: 'forbidden',
      reason: 'insufficient_permissions',
      status: 403,
      sub: 'viewer',
      rule: RULE.admin,
    });
  });

  it('answers 429 with Retry-After at the client once the limit is spent', async () => {
    const headers = { 'x-api-key': KEYS.limited.key };
    for (let i = 0; i < TIGHT_LIMIT; i++) {
      const ok = await through(`/limited/${i}`, headers);
      expect(ok.res.status, failureContext(ok.res)).toBe(200);
    }
    const { res, upstream, last } = await through('/limited/over', headers);
    expect(res.status, failureContext(res)).toBe(429);
    const retry = Number(res.headers['retry-after']);
    expect(
      Number.isInteger(retry) && retry >= 1 && retry <= 60,
      `Retry-After ${res.headers['retry-after']}`,
    ).toBe(true);
    expect(res.headers['ratelimit-policy']).toBe(`"tight";q=${TIGHT_LIMIT};w=60`);
    expect(res.headers['ratelimit']).toMatch(/^"tight";r=0;t=\d+$/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ error: 'rate_limited', reason: 'rate_limited' });
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({
      decision: 'limited',
      reason: 'rate_limited',
      status: 429,
      sub: 'limited',
      rateLimit: 'tight',
    });
  });

  it('never lets client-sent identity headers (or _ and . variants) reach the upstream', async () => {
    const spoofed = {
      'X-User-ID': 'root',
      'X-User-Roles': 'admin',
      'X-User-Email': 'root@evil.example',
      'X-Auth-Method': 'session',
      X_User_ID: 'root',
      X_User_Roles: 'admin',
      'X-User_Roles': 'admin',
      x_auth_method: 'session',
      'X.User.ID': 'root',
      'X.User.Roles': 'admin',
    };
    const auth = await through('/nodes/n2', { 'x-api-key': KEYS.viewer.key, ...spoofed });
    expect(auth.res.status, failureContext(auth.res)).toBe(200);
    const anon = await through('/public/page', spoofed);
    expect(anon.res.status, failureContext(anon.res)).toBe(200);

    const expected: Record<string, Record<string, string>> = {
      auth: {
        'x-user-id': 'viewer',
        'x-user-roles': 'viewer',
        'x-user-name': 'Vera Viewer',
        'x-user-email': '',
        'x-auth-method': 'api_key',
      },
      anon: {
        'x-user-id': '',
        'x-user-roles': '',
        'x-user-name': '',
        'x-user-email': '',
        'x-auth-method': 'public',
      },
    };
    for (const [label, r] of [
      ['auth', auth],
      ['anon', anon],
    ] as const) {
      expect(r.upstream, label).toHaveLength(1);
      const raw = r.upstream[0]!.rawHeaders;
      const got: Record<string, string[]> = {};
      for (let i = 0; i < raw.length; i += 2) {
        const alias = identityAlias(raw[i]!);
        if (alias === null) continue;
        // Only the canonical spelling may arrive, once, with warden's value (or empty / absent when warden's is empty).
        expect(raw[i]!.toLowerCase(), `${label}: upstream got header ${raw[i]}`).toBe(alias);
        (got[alias] ??= []).push(raw[i + 1]!);
      }
      for (const name of IDENTITY_NAMES) {
        const want = expected[label]![name]!;
        if (want === '') expect(got[name] ?? [''], `${label}: ${name}`).toEqual(['']);
        else expect(got[name], `${label}: ${name}`).toEqual([want]);
      }
    }
    expect(auth.last).toMatchObject({ decision: 'allow', sub: 'viewer' });
    expect(anon.last).toMatchObject({ decision: 'allow', reason: 'public', sub: null, authMethod: 'public' });
  });

  it('never lets a client-sent X-Warden-Assertion reach the upstream', async () => {
    const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJyb290In0.';
    for (const [path, headers] of [
      ['/nodes/n3', { 'x-api-key': KEYS.viewer.key }],
      ['/public/a', {}],
    ] as const) {
      const r = await through(path, { ...headers, 'X-Warden-Assertion': forged, X_Warden_Assertion: forged });
      expect(r.res.status, failureContext(r.res)).toBe(200);
      const raw = r.upstream[0]!.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) expect(raw[i + 1], `upstream got ${raw[i]}`).not.toBe(forged);
    }
  });

  it('clears what the client must not steer: method overrides, routing headers, other presets, its X-Forwarded-For', async () => {
    const forged: Record<string, string> = {};
    for (const name of [
      ...METHOD_OVERRIDE_HEADERS,
      ...ROUTING_HEADERS,
      ...OTHER_PRESET_HEADERS,
      'X-Warden-Assertion',
    ])
      for (const spelled of spellings(name)) forged[spelled] = 'forged';
    for (const [path, headers] of [
      ['/nodes/n6', { 'x-api-key': KEYS.viewer.key }],
      ['/public/steer', {}],
    ] as const) {
      const r = await through(path, { ...headers, ...forged, 'x-forwarded-for': '198.51.100.1' }, 'POST');
      expect(r.res.status, `${path}: ${failureContext(r.res)}`).toBe(200);
      expect(r.last, path).toMatchObject({ decision: 'allow', method: 'POST', clientIp: CLIENT_ADDRESS });
      expect(r.upstream, path).toHaveLength(1);
      const raw = r.upstream[0]!.rawHeaders;
      for (let i = 0; i < raw.length; i += 2)
        expect(raw[i + 1], `${path}: the app got ${raw[i]}`).not.toBe('forged');
      // The app's X-Forwarded-For holds the address the proxy saw, no entry the client wrote.
      expect(r.upstream[0]!.headers['x-forwarded-for'], path).toBe(CLIENT_ADDRESS);
    }
  });

  it('ignores a spoofed X-Forwarded-For: the client IP stays the address the proxy saw', async () => {
    for (const xff of ['6.6.6.6', '6.6.6.6, 127.0.0.1']) {
      const vip = await through('/vip/lounge', {
        'x-api-key': KEYS.viewer.key,
        'x-forwarded-for': xff,
        'x-real-ip': '6.6.6.6',
      });
      expect(vip.res.status, failureContext(vip.res)).toBe(403);
      expect(vip.upstream).toHaveLength(0);
      expect(vip.last).toMatchObject({
        decision: 'forbidden',
        reason: 'network_not_allowed',
        clientIp: CLIENT_ADDRESS,
        peer: '127.0.0.1',
        rule: RULE.vip,
      });

      const ok = await through('/nodes/n3', { 'x-api-key': KEYS.viewer.key, 'x-forwarded-for': xff });
      expect(ok.res.status, failureContext(ok.res)).toBe(200);
      expect(ok.last).toMatchObject({ decision: 'allow', clientIp: CLIENT_ADDRESS });
    }
  });

  it('ignores client-sent forwarded-context headers of either family', async () => {
    const { res, upstream, last } = await through('/admin/users', {
      'x-api-key': KEYS.viewer.key,
      'x-original-url': `http://${APP_HOST}/public/x`,
      'x-original-uri': '/public/x',
      'x-original-method': 'OPTIONS',
      'x-forwarded-uri': '/public/x',
      'x-forwarded-method': 'OPTIONS',
      'x-forwarded-host': 'other.example.com',
    });
    expect(res.status, failureContext(res)).toBe(403);
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({
      decision: 'forbidden',
      reason: 'insufficient_permissions',
      path: '/admin/users',
      method: 'GET',
      host: APP_HOST,
      rule: RULE.admin,
    });
  });

  it('sends a browser navigation to the login URL with the original URL as rd', async () => {
    const path = '/nodes/n4?tab=a%20b&x=1';
    const original = `http://${APP_HOST}${path}`;
    const { res, upstream, last } = await through(path, {
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    });
    expect(res.status, failureContext(res)).toBe(302);
    const location = res.headers.location ?? '';
    expect(location).toBe(`${LOGIN_URL}?rd=${encodeURIComponent(original)}`);
    expect(new URL(location).searchParams.get('rd')).toBe(original);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(upstream).toHaveLength(0);
    expect(last).toMatchObject({
      decision: 'unauthenticated',
      reason: 'missing_credentials',
      path: '/nodes/n4',
    });

    const api = await through(path, { accept: 'application/json' });
    expect(api.res.status).toBe(401);
    expect(api.res.headers.location).toBeUndefined();
    const xhr = await through(path, { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' });
    expect(xhr.res.status).toBe(401);
    expect(xhr.res.headers.location).toBeUndefined();
  });

  it('keeps the port the client named in the original URL, so sign-in comes back to it', async () => {
    const path = '/nodes/n4?x=1';
    const { res, last } = await through(path, {
      host: `${APP_HOST}:8443`,
      accept: 'text/html',
      'sec-fetch-mode': 'navigate',
    });
    expect(res.status, failureContext(res)).toBe(302);
    expect(new URL(res.headers.location ?? '').searchParams.get('rd')).toBe(`http://${APP_HOST}:8443${path}`);
    // The policy's host is the host alone.
    expect(last).toMatchObject({ decision: 'unauthenticated', host: APP_HOST, path: '/nodes/n4' });
    const ok = await through('/nodes/n4', { host: `${APP_HOST}:8443`, 'x-api-key': KEYS.viewer.key });
    expect(ok.res.status, failureContext(ok.res)).toBe(200);
    // A request line naming the host, with a Host (and port) that disagrees: the port is not taken from it.
    const other = await through(`http://${APP_HOST}${path}`, {
      host: 'other.example.net:8443',
      accept: 'text/html',
      'sec-fetch-mode': 'navigate',
    });
    expect(other.res.status, failureContext(other.res)).toBe(302);
    expect(new URL(other.res.headers.location ?? '').searchParams.get('rd')).toBe(
      `http://${APP_HOST}${path}`,
    );
  });

  it('judges the host the proxy routes on, not a Host header that disagrees with the request line', async () => {
    const { res, last } = await through(`http://${APP_HOST}/admin/users`, {
      host: 'other.example.net',
      'x-api-key': KEYS.viewer.key,
    });
    expect(res.status, failureContext(res)).toBe(403);
    expect(last).toMatchObject({ host: APP_HOST, path: '/admin/users' });
  });

  it('judges path tricks as the path they resolve to', async () => {
    const viewer = { 'x-api-key': KEYS.viewer.key };
    for (const [raw, canonical] of [
      ['/public/../admin', '/admin'],
      ['/public/./../admin/users', '/admin/users'],
      ['/%61dmin/users', '/admin/users'],
      ['/ADMIN/users', '/ADMIN/users'],
      ['//admin//users', '/admin/users'],
    ] as const) {
      const { res, upstream, last } = await through(raw, viewer);
      expect(res.status, `${raw}: ${failureContext(res)}`).toBe(403);
      expect(upstream, raw).toHaveLength(0);
      // Denied by the /admin rule itself, not by falling through to the default.
      expect(last, raw).toMatchObject({
        decision: 'forbidden',
        reason: 'insufficient_permissions',
        path: canonical,
        rule: RULE.admin,
      });
    }
    // The other way round: a protected prefix that dot segments would resolve away. The upstream
    // receives the raw path and may resolve it differently (RFC order) or route on it literally.
    for (const raw of [
      '/admin//../public/x',
      '/admin/../public/x',
      '/admin/.//../public/x',
      '/admin/%2e%2e/public/x',
    ]) {
      const { res, upstream } = await through(raw, {});
      expect(res.status, `${raw}: ${failureContext(res)}`).not.toBe(200);
      expect(upstream, raw).toHaveLength(0);
    }
    const admin = await through('/public/../admin/users', { 'x-api-key': KEYS.admin.key });
    expect(admin.res.status).toBe(200);
    expect(admin.last).toMatchObject({ decision: 'allow', path: '/admin/users', sub: 'admin' });
  });

  it('refuses an encoded slash or double encoding as bad_path', async () => {
    for (const raw of [
      '/admin%2Fusers',
      '/public%2F..%2Fadmin',
      '/public/%252e%252e/admin',
      '/public/..%5Cadmin',
    ]) {
      const { res, upstream, last } = await through(raw, { 'x-api-key': KEYS.admin.key });
      expect(res.status, `${raw}: ${failureContext(res)}`).toBe(403);
      expect(upstream, raw).toHaveLength(0);
      expect(last, raw).toMatchObject({ decision: 'malformed', reason: 'bad_path', status: 403 });
      expect(res.json()).toEqual({ error: 'forbidden', reason: 'bad_path' });
    }
  });

  it('applies a rewritten policy file without a restart', async () => {
    const headers = { 'x-api-key': KEYS.dev.key };
    const before = await through('/reload/x', headers);
    expect(before.res.status).toBe(403);
    expect(before.last).toMatchObject({ reason: 'rule_deny', rule: RULE.reload });

    const waitFor = async (status: number) => {
      let last: Awaited<ReturnType<typeof through>> | null = null;
      for (let i = 0; i < 50; i++) {
        last = await through('/reload/x', headers);
        if (last.res.status === status) return last;
        await sleep(100);
      }
      throw new Error(
        `policy reload not seen within 5 s (last status ${last?.res.status}); ops log: ${JSON.stringify(w.ops.slice(-3))}`,
      );
    };
    w.writePolicy(policy(true));
    const after = await waitFor(200);
    expect(after.upstream).toHaveLength(1);
    expect(after.last).toMatchObject({ decision: 'allow', reason: 'public', rule: RULE.reload });
    expect(w.ops.some((l) => l.event === 'policy_reloaded')).toBe(true);

    w.writePolicy(policy(false));
    await waitFor(403);
  });
}
