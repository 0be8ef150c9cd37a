// Two replicas sharing one Redis: the redis audit sink, /admin/audit, its export and /admin/overview across both.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { ifStarted } from '../helpers/hooks.js';

const policy = {
  roles: { ops: ['warden:admin'], viewer: ['warden:console'], dev: ['api:*'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const admin = testKey('ops-1', ['ops']);
const viewer = testKey('viewer-1', ['viewer']);
const dev = testKey('dev-1', ['dev']);
const keys = [admin, viewer, dev].map((k) => k.entry);

type Line = Record<string, unknown>;
type Page = { source: string; lines: Line[]; next: string | null; scanned: number; partial: boolean };

const ask = (w: TestWarden, path: string, key?: string, ip = '203.0.113.10') =>
  send(`${w.url}/verify/traefik`, { headers: traefikHeaders(path, ip, key) });
const get = (w: TestWarden, path: string, key = viewer.key) =>
  send(`${w.url}${path}`, { headers: { 'X-API-Key': key } });
const page = async (w: TestWarden, query: string): Promise<Page> => {
  const r = await get(w, `/admin/audit?${query}`);
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as Page;
};
const SECRET = '/secret/%3Cscript%3E%22x%22';
const decisions = (p: Page) => p.lines.filter((l) => l.event === 'decision');

redisDescribe('audit search and overview across replicas', () => {
  let redis: RedisServer;
  let a: TestWarden;
  let b: TestWarden;
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, WARDEN_AUDIT_SINKS: 'stdout,redis' };
    a = await startWarden({ policy, keys, env: { ...env, WARDEN_REPLICA_ID: 'a' } });
    b = await startWarden({ policy, keys, env: { ...env, WARDEN_REPLICA_ID: 'b' } });
    for (let i = 0; i < 5; i++) expect((await ask(a, `/api/items/${i}`, dev.key)).status).toBe(200);
    for (let i = 0; i < 3; i++)
      expect((await ask(b, '/api/items', undefined, '198.51.100.9')).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await ask(b, '/secret/<script>"x"', dev.key)).status).toBe(403);
    await within(1000, async () => decisions(await page(a, 'limit=100')).length === 10);
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('shows every replica’s decisions on either, newest first, exactly as each wrote them', async () => {
    const p = await page(b, 'limit=100');
    expect(p.source).toBe('redis');
    const seen = decisions(p);
    expect(new Set(seen.map((l) => l.replica))).toEqual(new Set(['a', 'b']));
    // Newest first in the order lines reached the stream: each replica's own lines strictly by time;
    // across replicas, batches interleave, so a line may follow one up to a second older.
    for (const replica of ['a', 'b']) {
      const own = seen.filter((l) => l.replica === replica).map((l) => Date.parse(l.time as string));
      expect([...own].sort((x, y) => y - x)).toEqual(own);
    }
    const times = seen.map((l) => Date.parse(l.time as string));
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThanOrEqual(times[i - 1]! + 1000);
    const written = [...a.audit, ...b.audit].filter((l) => l.event === 'decision');
    expect(new Set(seen.map((l) => l.hash))).toEqual(new Set(written.map((l) => l.hash)));
  });

  it('filters by decision, identity, IP, status, path and rule', async () => {
    expect(decisions(await page(a, 'decision=unauthenticated')).map((l) => l.clientIp)).toEqual([
      '198.51.100.9',
      '198.51.100.9',
      '198.51.100.9',
    ]);
    expect(decisions(await page(a, 'identity=dev-1')).length).toBe(7);
    expect(decisions(await page(a, 'identity=dev-1&status=403')).map((l) => l.replica)).toEqual(['b', 'b']);
    expect(decisions(await page(a, 'ip=198.51.100.0/24')).length).toBe(3);
    // The canonical path keeps `<`, `>` and `"` percent-encoded.
    expect(decisions(await page(a, 'path=/secret/')).map((l) => l.path)).toEqual([SECRET, SECRET]);
    expect(decisions(await page(a, 'rule=0&decision=allow')).length).toBe(5);
    expect(decisions(await page(a, 'rule=default')).length).toBe(2);
  });

  it('pages with a cursor', async () => {
    const first = await page(a, 'identity=dev-1&limit=4');
    expect(first.lines.length).toBe(4);
    const second = await page(a, `identity=dev-1&limit=4&cursor=${first.next ?? ''}`);
    expect(second.lines.length).toBe(3);
    expect(second.next).toBeNull();
  });

  it('exports the filtered set as JSONL and CSV', async () => {
    const want = (await page(a, 'identity=dev-1')).lines;
    const jsonl = await get(a, '/admin/audit/export?format=jsonl&identity=dev-1');
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(jsonl.headers['content-disposition']).toMatch(/^attachment; filename="warden-audit-.*\.jsonl"$/);
    expect(
      jsonl.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Line),
    ).toEqual(want);
    const csv = await get(a, '/admin/audit/export?format=csv&identity=dev-1&status=403');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const rows = csv.body.split('\r\n');
    expect(rows[0]).toBe('time,decision,status,identity,client IP,method,host,path,rule,reason,replica,seq');
    expect(rows.length).toBe(4);
    expect(rows[1]).toContain(
      `,forbidden,403,dev-1,203.0.113.10,GET,app.example.com,${SECRET},,default_deny,b,`,
    );
  });

  it('counts the overview across both replicas', async () => {
    // Each reader shares its own minutes first: asking a, then b, gives b both.
    expect((await get(a, '/admin/overview')).status).toBe(200);
    const r = await get(b, '/admin/overview');
    expect(r.status).toBe(200);
    const o = JSON.parse(r.body) as {
      source: string;
      replicas: string[];
      totals: Record<string, number>;
      minutes: { total: number }[];
      latency: { p50: number; p95: number; p99: number } | null;
      top: { identities: { value: string; count: number }[]; clientIps: unknown[]; paths: unknown[] };
    };
    expect(o.source).toBe('redis');
    expect(o.replicas).toEqual(['a', 'b']);
    expect(o.totals).toMatchObject({ allow: 5, unauthenticated: 3, forbidden: 2 });
    expect(o.minutes.length).toBe(60);
    expect(o.minutes.reduce((n, m) => n + m.total, 0)).toBe(10);
    expect(o.latency?.p99).toBeGreaterThanOrEqual(o.latency?.p50 ?? Infinity);
    expect(o.top.identities).toEqual([{ value: 'dev-1', count: 2 }]);
    expect(o.top.clientIps).toEqual([
      { value: '198.51.100.9', count: 3 },
      { value: '203.0.113.10', count: 2 },
    ]);
    expect(o.top.paths).toEqual([
      { value: '/api/items', count: 3 },
      { value: SECRET, count: 2 },
    ]);
  });

  it('lets warden:console read but not act; others get 401 or 403', async () => {
    expect((await get(a, '/admin/audit', admin.key)).status).toBe(200);
    expect((await get(a, '/admin/overview', viewer.key)).status).toBe(200);
    expect((await get(a, '/admin/revocations', viewer.key)).status).toBe(403);
    const act = await send(`${a.url}/admin/revocations`, {
      method: 'POST',
      headers: { 'X-API-Key': viewer.key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'key', id: 'dev-1' }),
    });
    expect(act.status).toBe(403);
    const dev403 = await get(a, '/admin/audit', dev.key);
    expect(dev403.status).toBe(403);
    expect(JSON.parse(dev403.body)).toMatchObject({ required: ['warden:console', 'warden:admin'] });
    expect((await send(`${a.url}/admin/audit/export`)).status).toBe(401);
  });

  it('refuses a malformed filter with its field', async () => {
    const cases: [string, string][] = [
      ['from=yesterday', 'from'],
      [`identity=${'x'.repeat(10 * 1024)}`, 'identity'],
      ['decision=maybe', 'decision'],
      ['status=abc', 'status'],
      ['ip=300.1.1.1', 'ip'],
      ['limit=0', 'limit'],
      ['cursor=zzz', 'cursor'],
      ['path=api', 'path'],
    ];
    for (const [query, field] of cases) {
      const r = await get(a, `/admin/audit?${query}`);
      expect(r.status, query).toBe(400);
      expect(JSON.parse(r.body), query).toMatchObject({ error: 'bad_request', field });
    }
    expect((await get(a, '/admin/audit/export?format=xml')).status).toBe(400);
  });

  it('searches this replica’s file without the redis sink, and says so; no searchable sink → 404', async () => {
    const f = await startWarden({
      policy,
      keys,
      env: { WARDEN_AUDIT_SINKS: 'file', WARDEN_AUDIT_FILE: join(a.dir, 'file-audit.jsonl') },
    });
    const none = await startWarden({ policy, keys, env: { WARDEN_AUDIT_SINKS: 'stdout' } });
    try {
      await ask(f, '/api/x', dev.key);
      await within(1000, async () => decisions(await page(f, '')).length === 1);
      expect((await page(f, '')).source).toBe('file');
      expect((await get(none, '/admin/audit')).status).toBe(404);
    } finally {
      await f.close();
      await none.close();
    }
  });
});
