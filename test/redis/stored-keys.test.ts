// Keys stored in Redis (WARDEN_KEYS_STORE=redis): the admin keys API across two replicas on a real redis-server.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/apikey.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { FakeClock } from '../helpers/clock.js';
import { ifStarted } from '../helpers/hooks.js';
import { send, type RawResponse } from '../helpers/http.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { adminCall, verifyStatus } from '../helpers/replicas.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { ops: ['warden:admin'], dev: ['api:*'], viewer: ['api:read'] },
  rateLimits: { api: { limit: 1000, window: '60s', by: 'identity' } },
  // A flood of guesses from one IP is counted here, not banned: the test counts what reaches Redis.
  bans: { failures: 100_000, window: '5m', ban: '15m' },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const admin = testKey('ops-1', ['ops']);
const dev = testKey('dev-1', ['dev']);

/** Call a warden's admin API with the admin key (or `key`). */
const call = (w: TestWarden, method: string, path: string, body?: unknown, key = admin.key) =>
  adminCall(w, key, method, path, body);

const json = (r: RawResponse) => JSON.parse(r.body) as Record<string, unknown>;

/** Create a stored key through `w`; the key. */
async function create(w: TestWarden, body: Record<string, unknown>): Promise<string> {
  const r = await call(w, 'POST', '/keys', body);
  expect(r.status, r.body).toBe(201);
  return json(r).key as string;
}

/** No log line of these wardens holds the key or its hash. */
function neverLogged(ws: TestWarden[], key: string): void {
  const secret = [key, hashKey(key)];
  for (const w of ws)
    for (const line of [...w.audit, ...w.ops]) {
      const text = JSON.stringify(line);
      for (const s of secret) expect(text.includes(s), text).toBe(false);
    }
}

redisDescribe('keys stored in Redis, two replicas', () => {
  let redis: RedisServer;
  let a: TestWarden;
  let b: TestWarden;
  const clock = new FakeClock();
  beforeAll(async () => {
    redis = await startRedis();
    const env = { REDIS_URL: redis.url, WARDEN_KEYS_STORE: 'redis' };
    a = await startWarden({ policy, keys: [admin.entry, dev.entry], env, clock });
    b = await startWarden({ policy, keys: [admin.entry, dev.entry], env, clock });
    // A first request warms each replica up: the 100 ms below measure the store, not a cold start.
    for (const w of [a, b]) {
      await verifyStatus(w, '/api/x', dev.key);
      await call(w, 'GET', '/keys?limit=1');
    }
  });
  afterAll(async () => {
    await ifStarted(a)?.close();
    await ifStarted(b)?.close();
    await ifStarted(redis)?.stop();
  });

  it('creates a key on A that B accepts within 100 ms; the key is shown once and never stored or logged', async () => {
    const r = await call(a, 'POST', '/keys', { id: 'agent-1', roles: ['viewer'], name: 'Agent One' });
    expect(r.status, r.body).toBe(201);
    const body = json(r);
    const key = body.key as string;
    expect(key).toMatch(/^wdn_[A-Za-z0-9_-]{43}$/);
    expect(body.entry).toEqual({
      id: 'agent-1',
      name: 'Agent One',
      email: null,
      roles: ['viewer'],
      expires: null,
      networks: null,
      rateLimit: null,
      createdAt: new Date(clock.now()).toISOString(),
    });
    const took = await within(1000, async () => (await verifyStatus(b, '/api/x', key)) === 200, 1);
    console.log(`a key created on A worked on B after ${took} ms`);
    expect(took).toBeLessThanOrEqual(100);
    expect(b.audit.at(-1)).toMatchObject({ decision: 'allow', keyId: 'agent-1', authMethod: 'api_key' });
    expect(a.audit.find((l) => l.event === 'key_created' && l.id === 'agent-1')).toMatchObject({
      by: 'ops-1',
      store: 'redis',
    });
    // Redis holds the hash, never the key.
    const dump = await redis.cli('--scan');
    expect(dump.includes(key)).toBe(false);
    const shown = await call(a, 'GET', '/keys/agent-1');
    expect(shown.body.includes(hashKey(key))).toBe(false);
    neverLogged([a, b], key);
  });

  it('deletes a key on A that B (which had it cached) refuses within 100 ms, as an unknown key', async () => {
    const key = await create(a, { id: 'agent-del', roles: ['viewer'] });
    await within(1000, async () => (await verifyStatus(b, '/api/x', key)) === 200, 1);
    const r = await call(a, 'DELETE', '/keys/agent-del');
    expect(r.status).toBe(200);
    const took = await within(1000, async () => (await verifyStatus(b, '/api/x', key)) === 401, 1);
    console.log(`a key deleted on A was refused on B after ${took} ms`);
    expect(took).toBeLessThanOrEqual(100);
    expect(b.audit.at(-1)).toMatchObject({ decision: 'unauthenticated', cause: 'unknown' });
    expect(a.audit.find((l) => l.event === 'key_removed' && l.id === 'agent-del')).toMatchObject({
      by: 'ops-1',
    });
    expect((await call(a, 'DELETE', '/keys/agent-del')).status).toBe(404);
    expect((await call(a, 'GET', '/keys/agent-del')).status).toBe(404);
  });

  it('counts usage per day on both replicas, written in batches, with lastUsed', async () => {
    const key = await create(a, { id: 'agent-use', roles: ['viewer'] });
    for (let i = 0; i < 3; i++) expect(await verifyStatus(a, '/api/x', key)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await verifyStatus(b, '/api/x', key)).toBe(200);
    const before = await redis.cli(
      'HGET',
      `warden:{keys}:usage:${new Date(clock.now()).toISOString().slice(0, 10)}`,
      'agent-use',
    );
    expect(before).toBe('');
    // One flush interval on the clock: each replica writes its batch with one pipeline.
    clock.advance(1000);
    const today = new Date(clock.now()).toISOString().slice(0, 10);
    await within(1000, async () => {
      const r = json(await call(a, 'GET', '/keys/agent-use'));
      return (r.usage as { day: string; requests: number }[])[0]?.requests === 5;
    });
    const shown = json(await call(a, 'GET', '/keys/agent-use'));
    const usage = shown.usage as { day: string; requests: number }[];
    expect(usage).toHaveLength(30);
    expect(usage[0]).toEqual({ day: today, requests: 5 });
    expect(usage.slice(1).every((d) => d.requests === 0)).toBe(true);
    expect(typeof shown.lastUsed).toBe('string');
    expect(shown).not.toHaveProperty('key');
    expect(shown).not.toHaveProperty('sha256');
    expect(Number(await redis.cli('TTL', `warden:{keys}:usage:${today}`))).toBeGreaterThan(30 * 86_400);
    // A later key of the same id starts afresh.
    expect((await call(a, 'DELETE', '/keys/agent-use')).status).toBe(200);
    await create(a, { id: 'agent-use', roles: ['viewer'] });
    const fresh = json(await call(b, 'GET', '/keys/agent-use'));
    expect(fresh.lastUsed).toBeNull();
    expect((fresh.usage as { requests: number }[])[0]?.requests).toBe(0);
  });

  it('lists entries a page at a time with a cursor, never a key or a hash', async () => {
    for (const id of ['list-a', 'list-b', 'list-c', 'list-d', 'list-e'])
      await create(a, { id, roles: ['viewer'] });
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const r = await call(b, 'GET', `/keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      const body = json(r) as { keys: { id: string }[]; cursor: string | null };
      expect(body.keys.length).toBeLessThanOrEqual(2);
      for (const k of body.keys) {
        expect(Object.keys(k).sort()).toEqual(
          ['createdAt', 'email', 'expires', 'id', 'name', 'networks', 'rateLimit', 'roles'].sort(),
        );
        seen.push(k.id);
      }
      cursor = body.cursor;
      if (cursor === null) break;
    }
    expect(seen.filter((id) => id.startsWith('list-'))).toEqual([
      'list-a',
      'list-b',
      'list-c',
      'list-d',
      'list-e',
    ]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rotates: the new key works at once, the old one until the grace ends, on both replicas', async () => {
    const old = await create(a, { id: 'agent-rot', roles: ['viewer'] });
    expect(await verifyStatus(b, '/api/x', old)).toBe(200);
    const r = await call(a, 'POST', '/keys/agent-rot/rotate', { grace: '1h' });
    expect(r.status, r.body).toBe(200);
    const fresh = json(r).key as string;
    expect(json(r).previousUntil).toBe(new Date(clock.now() + 3_600_000).toISOString());
    await within(1000, async () => (await verifyStatus(b, '/api/x', fresh)) === 200, 1);
    await within(1000, async () => {
      const ok = (await verifyStatus(b, '/api/x', old)) === 200;
      return ok && b.audit.at(-1)?.keyVersion === 'previous';
    });
    expect(a.audit.find((l) => l.event === 'key_rotated' && l.id === 'agent-rot')).toMatchObject({
      by: 'ops-1',
    });
    clock.advance(3_600_000);
    expect(await verifyStatus(b, '/api/x', old)).toBe(401);
    expect(b.audit.at(-1)).toMatchObject({ cause: 'expired', keyId: 'agent-rot' });
    expect(await verifyStatus(b, '/api/x', fresh)).toBe(200);
    // Without a body: the default grace of 24 h.
    const again = await call(a, 'POST', '/keys/agent-rot/rotate');
    expect(again.status).toBe(200);
    expect(json(again).previousUntil).toBe(new Date(clock.now() + 86_400_000).toISOString());
    expect((await call(a, 'POST', '/keys/nobody/rotate', {})).status).toBe(404);
    neverLogged([a, b], old);
    neverLogged([a, b], fresh);
  });

  it('a revocation of a stored key id refuses it on every replica, as today', async () => {
    const key = await create(a, { id: 'agent-rev', roles: ['viewer'] });
    expect(await verifyStatus(b, '/api/x', key)).toBe(200);
    const r = await call(a, 'POST', '/revocations', { type: 'key', id: 'agent-rev' });
    expect(r.status).toBe(201);
    expect(json(r)).toMatchObject({ knownId: true });
    await within(1000, async () => (await verifyStatus(b, '/api/x', key)) === 401, 1);
    expect(b.audit.at(-1)).toMatchObject({ cause: 'revoked', keyId: 'agent-rev' });
  });

  it('answers 400 naming the field for bad input, 401/403 without warden:admin', async () => {
    await create(a, { id: 'taken', roles: ['viewer'] });
    const many = Array.from({ length: 65 }, (_, i) => `r${i}`);
    const tenThousand = Array.from({ length: 10_000 }, (_, i) => `r${i}`);
    for (const [body, field] of [
      [{ id: 'taken', roles: ['viewer'] }, 'id'],
      [{ id: 'dev-1', roles: ['viewer'] }, 'id'],
      [{ id: 'bad id!', roles: ['viewer'] }, 'id'],
      [{ id: 'x1', roles: ['viewer', 'wizard'] }, 'roles.1'],
      [{ id: 'x1', roles: many }, 'roles'],
      [{ id: 'x1', roles: tenThousand }, 'roles'],
      [{ id: 'x1', roles: [] }, 'roles'],
      [{ id: 'x1', roles: ['viewer'], networks: ['10.0.0.0/33'] }, 'networks.0'],
      [{ id: 'x1', roles: ['viewer'], rateLimit: 'nope' }, 'rateLimit'],
      [{ id: 'x1', roles: ['viewer'], expires: 'tomorrow' }, 'expires'],
      [{ id: 'x1', roles: ['viewer'], expires: '2000-01-01T00:00:00Z' }, 'expires'],
      [{ id: 'x1', roles: ['viewer'], sha256: 'ab' }, 'body'],
    ] as const) {
      const r = await call(a, 'POST', '/keys', body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(json(r)).toMatchObject({ error: 'bad_request', field });
    }
    expect((await call(a, 'GET', '/keys?cursor=a%20b')).status).toBe(400);
    expect((await call(a, 'POST', '/keys/taken/rotate', { grace: 'soon' })).status).toBe(400);
    expect((await call(a, 'POST', '/keys', { id: 'x2', roles: ['viewer'] }, 'wdn_nope')).status).toBe(401);
    expect((await call(a, 'POST', '/keys', { id: 'x2', roles: ['viewer'] }, dev.key)).status).toBe(403);
    expect((await call(a, 'GET', '/keys', undefined, dev.key)).status).toBe(403);
    expect((await call(a, 'GET', '/keys/x2')).status).toBe(404);
  });

  it('warden keys create --store stores a key the replicas accept; an id in both file and Redis is reported', async () => {
    const env = {
      REDIS_URL: redis.url,
      WARDEN_KEYS_STORE: 'redis',
      WARDEN_POLICY: a.policyPath,
      WARDEN_API_KEYS: a.keysPath,
    };
    const args = ['keys', 'create', '--store', '--id', 'cli-1', '--roles', 'viewer'];
    const made = await runCli(args, env);
    expect(made.code, made.stderr).toBe(0);
    const key = /key \(shown once, store it now\): (wdn_\S+)/.exec(made.stdout)?.[1] ?? '';
    expect(await verifyStatus(b, '/api/x', key)).toBe(200);
    // explain --key asks Redis as /verify does when the keys file lacks the key.
    const url = ['--url', 'https://app.example.com/api/x', '--key'];
    const explained = await runCli(['explain', ...url, key, '--json'], env);
    expect(explained.code, explained.stderr).toBe(0);
    const e = JSON.parse(explained.stdout) as { outcome: { decision: string }; notes: string[] };
    expect(e.outcome.decision).toBe('allow');
    expect(e.notes).toContain('the key is stored in Redis (id cli-1)');
    const unknown = await runCli(['explain', ...url, 'wdn_nobody', '--json'], env);
    expect(JSON.parse(unknown.stdout)).toMatchObject({
      outcome: { decision: 'unauthenticated' },
      notes: expect.arrayContaining(['the key is neither in the keys file nor stored in Redis']),
    });
    const again = await runCli(args, env);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already stored');
    const fileId = await runCli(['keys', 'create', '--store', '--id', 'dev-1', '--roles', 'viewer'], env);
    expect(fileId.code).toBe(2);
    expect(fileId.stderr).toContain('--id');
    // The keys file gains cli-1 too: check warns, a reload warns, the stored key is refused.
    const both = join(a.dir, 'both.yaml');
    writeFileSync(both, stringify({ keys: [admin.entry, dev.entry, testKey('cli-1', ['viewer']).entry] }));
    const check = await runCli(['check'], { ...env, WARDEN_API_KEYS: both });
    expect(check.stdout).toMatch(/warning: keys cli-1: this id is in the keys file and stored in Redis/);
    writeFileSync(
      a.keysPath,
      stringify({ keys: [admin.entry, dev.entry, testKey('cli-1', ['viewer']).entry] }),
    );
    expect((await a.reload()).ok).toBe(true);
    await within(1000, () => a.ops.some((l) => l.event === 'keys_id_conflict'));
    expect(a.ops.find((l) => l.event === 'keys_id_conflict')).toMatchObject({ ids: ['cli-1'] });
    expect(await verifyStatus(a, '/api/x', key)).toBe(401);
    await within(1000, () => a.audit.at(-1)?.cause === 'id_conflict');
    expect(await verifyStatus(b, '/api/x', key)).toBe(200);
    neverLogged([a, b], key);
  });

  it('a flood of random keys reaches Redis at most once per distinct key per negative-cache time', async () => {
    // GETs of key hashes: every GET but those of the rate-limit lease script (one GET and one PTTL per run).
    const stat = async () => {
      const info = await redis.cli('INFO', 'commandstats');
      const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
      return calls('get') - calls('pttl');
    };
    const guesses = Array.from(
      { length: 200 },
      (_, i) => `wdn_guess_${i}_${Math.random().toString(36).slice(2)}`,
    );
    const before = await stat();
    for (let round = 0; round < 3; round++)
      await Promise.all(guesses.map(async (g) => expect(await verifyStatus(b, '/api/x', g)).toBe(401)));
    const during = (await stat()) - before;
    console.log(`${guesses.length * 3} guesses of ${guesses.length} keys: ${during} lookups in Redis`);
    expect(during).toBeLessThanOrEqual(guesses.length);
    const metrics = (await send(`${b.url}/metrics`)).body;
    const unknown = Number(/^warden_stored_key_lookups_total\{result="unknown"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(unknown).toBeGreaterThanOrEqual(guesses.length);
    // After the negative-cache time, each is asked once more.
    clock.advance(5000);
    await Promise.all(guesses.map(async (g) => expect(await verifyStatus(b, '/api/x', g)).toBe(401)));
    expect((await stat()) - before).toBeLessThanOrEqual(2 * guesses.length);
  });
});

redisDescribe('keys stored in Redis, Redis down', () => {
  let redis: RedisServer;
  let w: TestWarden;
  beforeAll(async () => {
    redis = await startRedis();
    w = await startWarden({
      policy: { ...policy, bans: { failures: 5, window: '5m', ban: '15m' } },
      keys: [admin.entry],
      env: { REDIS_URL: redis.url, WARDEN_KEYS_STORE: 'redis' },
    });
  });
  afterAll(async () => {
    await ifStarted(w)?.close();
    await ifStarted(redis)?.stop();
  });

  it('bans a client guessing keys, as for file keys', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push(await verifyStatus(w, '/api/x', `wdn_guess_${i}_${Math.random()}`, '198.51.100.9'));
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
  });

  it('keeps answering a cached key, refuses an unknown one (401, cause audited), never a 200', async () => {
    const key = await create(w, { id: 'cached-1', roles: ['viewer'] });
    const other = await create(w, { id: 'uncached-1', roles: ['viewer'] });
    expect(await verifyStatus(w, '/api/x', key)).toBe(200);
    await redis.stop();
    expect(await verifyStatus(w, '/api/x', key)).toBe(200);
    for (const k of [other, 'wdn_never_seen']) {
      const seen = w.audit.length;
      expect(await verifyStatus(w, '/api/x', k)).toBe(401);
      await within(1000, () => w.audit.length > seen);
      expect(w.audit.at(-1)).toMatchObject({
        decision: 'unauthenticated',
        reason: 'invalid_credentials',
        cause: 'keys_store_unavailable',
      });
    }
    const r = await call(w, 'POST', '/keys', { id: 'during-outage', roles: ['viewer'] });
    expect(r.status).toBe(503);
  });
});
