import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { send } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { admin: ['*'], developer: ['api:*'], viewer: ['nodes:read'] },
  rateLimits: {
    tight: { limit: 3, window: '60s', by: 'identity' },
    perip: { limit: 2, window: '60s', by: 'ip' },
    bursty: { limit: 2, window: '60s', burst: 3, by: 'ip' },
  },
  rules: [
    { match: { path: '/health' }, public: true },
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'tight' },
    { match: { path: '/pub-limited' }, public: true, rateLimit: 'perip' },
    { match: { path: '/burst' }, public: true, rateLimit: 'bursty' },
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/admin/**' }, require: { all: ['admin:users', 'admin:audit'] } },
    { match: { path: '/internal/**' }, deny: true },
  ],
};
const dev = testKey('dev-1', ['developer']);
const dev2 = testKey('dev-2', ['developer']);
const viewer = testKey('viewer-1', ['viewer'], { name: 'Vera Viewer', email: 'vera@example.com' });
const expired = testKey('old-1', ['developer'], { expires: '2020-01-01T00:00:00Z' });
const fenced = testKey('fenced-1', ['developer'], { networks: ['10.0.0.0/8'] });
const unicode = testKey('yamada', ['developer'], { name: '山田 太郎', email: 'taro@example.com' });

let w: TestWarden;
beforeAll(async () => {
  w = await startWarden({
    policy,
    keys: [dev.entry, dev2.entry, viewer.entry, expired.entry, fenced.entry, unicode.entry],
    env: { WARDEN_LOGIN_URL: 'https://login.example.com/signin?app=1' },
  });
});
afterAll(() => w.close());

const fwd = (uri: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'X-Forwarded-Method': 'GET',
  'X-Forwarded-Proto': 'https',
  'X-Forwarded-Host': 'app.example.com',
  'X-Forwarded-Uri': uri,
  'X-Forwarded-For': '203.0.113.9',
  ...extra,
});
const traefik = (uri: string, extra: Record<string, string> = {}) =>
  send(`${w.url}/verify/traefik`, { headers: fwd(uri, extra) });
const lastAudit = () => w.audit[w.audit.length - 1]!;

describe('allow', () => {
  it('answers 200 with an empty, non-chunked body and every identity header', async () => {
    const r = await traefik('/api/nodes?x=1', { 'X-API-Key': viewer.key.replace('viewer', 'viewer') });
    expect(r.status).toBe(403); // viewer lacks api:read
    const ok = await traefik('/api/nodes?x=1', { 'X-API-Key': dev.key });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('');
    expect(ok.headers['content-length']).toBe('0');
    expect(ok.headers['transfer-encoding']).toBeUndefined();
    expect(ok.headers).toMatchObject({
      'x-user-id': 'dev-1',
      'x-user-roles': 'developer',
      'x-user-name': '',
      'x-user-email': '',
      'x-auth-method': 'api_key',
    });
  });

  it('accepts the key as Authorization: Bearer', async () => {
    const r = await traefik('/api/x', { Authorization: `Bearer ${dev.key}` });
    expect(r.status).toBe(200);
    expect(r.headers['x-user-id']).toBe('dev-1');
  });

  it('passes name and email, and marks public routes', async () => {
    const r = await traefik('/health');
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'x-user-id': '', 'x-user-roles': '', 'x-auth-method': 'public' });
    const v = await traefik('/health', { 'X-API-Key': viewer.key });
    expect(v.headers).toMatchObject({
      'x-user-id': 'viewer-1',
      'x-user-name': 'Vera Viewer',
      'x-user-email': 'vera@example.com',
    });
  });

  it('percent-encodes identity values outside printable ASCII (headers carry bytes, not Unicode)', async () => {
    const r = await traefik('/api/x', { 'X-API-Key': unicode.key });
    expect(r.status).toBe(200);
    expect(r.headers['x-user-name']).toBe('%E5%B1%B1%E7%94%B0%20%E5%A4%AA%E9%83%8E'.replace('%20', ' '));
    expect(decodeURIComponent(String(r.headers['x-user-name']))).toBe('山田 太郎');
  });

  it('writes one audit line with the contract fields and no secret', async () => {
    const before = w.audit.length;
    await traefik('/api/nodes', { 'X-API-Key': dev.key, 'X-Request-ID': 'req-42' });
    expect(w.audit.length).toBe(before + 1);
    const line = lastAudit();
    for (const f of [
      'time',
      'reqId',
      'decision',
      'reason',
      'status',
      'dialect',
      'method',
      'host',
      'path',
      'clientIp',
      'peer',
      'sub',
      'authMethod',
      'keyId',
      'rule',
      'durationMs',
    ]) {
      expect(line, f).toHaveProperty(f);
    }
    expect(line).toMatchObject({
      reqId: 'req-42',
      decision: 'allow',
      status: 200,
      dialect: 'traefik',
      method: 'GET',
      host: 'app.example.com',
      path: '/api/nodes',
      clientIp: '203.0.113.9',
      peer: '127.0.0.1',
      sub: 'dev-1',
      authMethod: 'api_key',
      keyId: 'dev-1',
      rule: 4,
    });
  });
});

describe('credentials', () => {
  it('401 with WWW-Authenticate and a small JSON body when none is sent', async () => {
    const r = await traefik('/api/x', { Accept: 'application/json' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer realm="warden"/);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-user-id']).toBeUndefined();
    expect(Buffer.byteLength(r.body)).toBeLessThanOrEqual(256);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized', reason: 'missing_credentials' });
  });

  it('gives unknown, expired, out-of-network, malformed and unsupported credentials one identical 401', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'X-API-Key': 'wdn_nope' }, 'unknown'],
      [{ 'X-API-Key': expired.key }, 'expired'],
      [{ 'X-API-Key': fenced.key }, 'network'],
      [{ 'X-API-Key': 'x'.repeat(5000) }, 'malformed'],
      [{ Authorization: 'Basic dXNlcjpwYXNz' }, 'unsupported'],
      [{ Authorization: 'Bearer aaa.bbb.ccc' }, 'unsupported'],
    ];
    const bodies = new Set<string>();
    for (const [headers, cause] of cases) {
      const r = await traefik('/api/x', headers);
      expect(r.status, cause).toBe(401);
      bodies.add(`${String(r.headers['www-authenticate'])}|${r.body}`);
      expect(lastAudit()).toMatchObject({
        decision: 'unauthenticated',
        reason: 'invalid_credentials',
        cause,
      });
    }
    expect(bodies.size).toBe(1);
    expect(JSON.parse(r0(bodies)).reason).toBe('invalid_credentials');
  });

  it('refuses two credentials at once (X-API-Key and a Bearer token), even if one is valid', async () => {
    const r = await traefik('/api/x', { 'X-API-Key': dev.key, Authorization: 'Bearer not-a-key' });
    expect(r.status).toBe(401);
    expect(lastAudit()).toMatchObject({ cause: 'malformed' });
  });

  it('refuses a duplicated credential header', async () => {
    const r = await send(`${w.url}/verify/traefik`, {
      headers: [...Object.entries(fwd('/api/x')), ['X-API-Key', dev.key], ['X-API-Key', 'other']],
    });
    expect(r.status).toBe(401);
  });

  it('never logs a key, even a wrong one', async () => {
    await traefik('/api/x', { 'X-API-Key': 'wdn_secret_wrong_key_value' });
    const all = JSON.stringify(w.audit) + JSON.stringify(w.ops);
    for (const k of [dev.key, viewer.key, expired.key, 'wdn_secret_wrong_key_value'])
      expect(all).not.toContain(k);
  });
});

function r0(s: Set<string>): string {
  return [...s][0]!.split('|')[1]!;
}

describe('forbidden', () => {
  it('403 names the required permissions', async () => {
    const r = await traefik('/admin/users', { 'X-API-Key': dev.key });
    expect(r.status).toBe(403);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(r.body)).toEqual({
      error: 'forbidden',
      reason: 'insufficient_permissions',
      required: ['admin:users', 'admin:audit'],
    });
  });

  it('deny rules and the default deny', async () => {
    expect(JSON.parse((await traefik('/internal/x', { 'X-API-Key': dev.key })).body).reason).toBe(
      'rule_deny',
    );
    expect(JSON.parse((await traefik('/nowhere', { 'X-API-Key': dev.key })).body).reason).toBe(
      'default_deny',
    );
  });
});

describe('rate limits', () => {
  it('429 with Retry-After and RateLimit headers once an identity exceeds its limit, per identity', async () => {
    for (let i = 0; i < 3; i++)
      expect((await traefik('/limited/a', { 'X-API-Key': dev2.key })).status).toBe(200);
    const r = await traefik('/limited/a', { 'X-API-Key': dev2.key });
    expect(r.status).toBe(429);
    const retry = Number(r.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(r.headers['ratelimit-policy']).toBe('"tight";q=3;w=60');
    expect(r.headers['ratelimit']).toBe(`"tight";r=0;t=${retry}`);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(lastAudit()).toMatchObject({
      decision: 'limited',
      reason: 'rate_limited',
      status: 429,
      rateLimit: 'tight',
    });
    // another identity still has its own budget
    expect((await traefik('/limited/a', { 'X-API-Key': dev.key })).status).toBe(200);
  });

  it('limits by client IP', async () => {
    const ip = (a: string) => traefik('/pub-limited', { 'X-Forwarded-For': a });
    expect((await ip('198.51.100.1')).status).toBe(200);
    expect((await ip('198.51.100.1')).status).toBe(200);
    expect((await ip('198.51.100.1')).status).toBe(429);
    expect((await ip('198.51.100.2')).status).toBe(200);
  });

  it('burst allows extra requests above the limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await traefik('/burst', { 'X-Forwarded-For': '192.0.2.50' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('browser navigation', () => {
  const page = { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
  it('Traefik/Caddy: 302 to the login URL with the original absolute URL as rd', async () => {
    const r = await traefik('/api/page?q=1&b=2', page);
    expect(r.status).toBe(302);
    const loc = new URL(String(r.headers.location));
    expect(loc.origin + loc.pathname).toBe('https://login.example.com/signin');
    expect(loc.searchParams.get('app')).toBe('1');
    expect(loc.searchParams.get('rd')).toBe('https://app.example.com/api/page?q=1&b=2');
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it('nginx: 401 carrying the Location', async () => {
    const r = await send(`${w.url}/verify/nginx`, {
      headers: {
        'X-Original-URL': 'https://app.example.com/api/page',
        'X-Original-Method': 'GET',
        'X-Forwarded-For': '203.0.113.9',
        ...page,
      },
    });
    expect(r.status).toBe(401);
    expect(new URL(String(r.headers.location)).searchParams.get('rd')).toBe(
      'https://app.example.com/api/page',
    );
  });

  it('API clients, XHR and non-navigation fetches get the plain 401', async () => {
    for (const h of [
      { Accept: 'application/json' },
      { ...page, 'X-Requested-With': 'XMLHttpRequest' },
      { ...page, 'Sec-Fetch-Mode': 'cors' },
    ]) {
      const r = await traefik('/api/page', h);
      expect(r.status).toBe(401);
      expect(r.headers.location).toBeUndefined();
    }
    expect((await traefik('/api/page', { ...page, 'Sec-Fetch-Mode': 'navigate' })).status).toBe(302);
    expect((await traefik('/api/page', { ...page, 'X-Forwarded-Method': 'POST' })).status).toBe(401);
  });

  it('a bad key in a browser is still sent to sign in, never let through', async () => {
    const r = await traefik('/api/page', { ...page, 'X-API-Key': 'bad' });
    expect(r.status).toBe(302);
  });
});

describe('connection headers', () => {
  /** Raw requests on one socket, in order; resolves with each response head and whether the socket closed after the last. */
  function onOneSocket(requests: string[]): Promise<{ heads: string[]; closed: boolean }> {
    const u = new URL(w.url);
    return new Promise((resolve, reject) => {
      const s = connect(Number(u.port), u.hostname);
      const heads: string[] = [];
      let buf = '';
      let closed = false;
      const next = () =>
        heads.length < requests.length
          ? s.write(requests[heads.length]!)
          : setTimeout(() => {
              s.destroy();
              resolve({ heads, closed });
            }, 200);
      s.on('connect', next);
      s.on('data', (d) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + length) break;
          heads.push(head);
          buf = buf.slice(end + 4 + length);
          next();
        }
      });
      s.on('close', () => {
        closed = true;
        resolve({ heads, closed });
      });
      s.on('error', reject);
    });
  }
  const request = (key: string, extra = '') =>
    `GET /verify/traefik HTTP/1.1\r\nHost: warden\r\n${Object.entries(
      fwd('/api/x', { 'X-Forwarded-For': '198.51.100.77' }),
    )
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}X-API-Key: ${key}\r\n${extra}\r\n`;

  it('an answer on a persistent HTTP/1.1 connection carries no Connection or Keep-Alive header (nothing for the proxy to parse)', async () => {
    const { heads, closed } = await onOneSocket([request(dev.key), request('wrong-key'), request(dev.key)]);
    expect(heads.map((h) => h.split('\r\n')[0])).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 401 Unauthorized',
      'HTTP/1.1 200 OK',
    ]);
    for (const h of heads) expect(h).not.toMatch(/\r\n(connection|keep-alive):/i);
    expect(closed).toBe(false);
  });

  it('a connection the client closes is answered with Connection: close, and closed', async () => {
    const { heads, closed } = await onOneSocket([request(dev.key, 'Connection: close\r\n')]);
    expect(heads[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(heads[0]).toMatch(/\r\nconnection: close/i);
    expect(closed).toBe(true);
  });
});
