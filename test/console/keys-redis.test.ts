// The console over Redis: the keys page with stored keys (expiry, last use, never a key or its hash), the audit
// page and the overview on the shared stream; with Redis down each page says so and shows this replica's data.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { KEYS, page, startConsole, through, type ConsoleSetup } from './helpers.js';

redisDescribe('console with WARDEN_KEYS_STORE=redis and the redis audit sink', () => {
  let redis: RedisServer;
  let s: ConsoleSetup;
  beforeAll(async () => {
    redis = await startRedis();
    s = await startConsole({
      env: { REDIS_URL: redis.url, WARDEN_KEYS_STORE: 'redis', WARDEN_AUDIT_SINKS: 'stdout,file,redis' },
    });
  });
  afterAll(async () => {
    await s.close();
    await redis.stop();
  });

  it('lists stored keys beside the file keys with their last use; never the key', async () => {
    const made = await send(`${s.url}/admin/keys`, {
      method: 'POST',
      headers: { 'x-api-key': KEYS.ops.key, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'stored-1', roles: ['developer'], name: 'CI runner', expires: '30d' }),
    });
    expect(made.status).toBe(201);
    const key = JSON.parse(made.body).key as string;
    expect((await through(s, '/api/x', { 'x-api-key': key })).status).toBe(200);
    await within(3000, async () => {
      const res = await page(s, '/console/keys', undefined, { 'x-api-key': KEYS.watcher.key });
      const row = /<tr><td class="mono">stored-1<\/td>[\s\S]*?<\/tr>/.exec(res.body)?.[0] ?? '';
      return (
        row.includes('<td>store</td>') &&
        row.includes('CI runner') &&
        (row.match(/<time /g) ?? []).length === 2
      );
    });
    const res = await page(s, '/console/keys', undefined, { 'x-api-key': KEYS.ops.key });
    expect(res.body).toContain('<td class="mono">dev-1</td><td>keys file</td>');
    expect(res.body).toContain('aria-label="Revoke… stored-1"');
    expect(res.body).not.toContain(key);
    for (const k of Object.values(KEYS)) expect(res.body).not.toContain(String(k.entry.sha256));
  });

  it('the audit page searches the shared Redis stream and says so; the overview counts every replica', async () => {
    expect((await through(s, '/api/shared-seen', { 'x-api-key': KEYS.dev.key })).status).toBe(200);
    await within(3000, async () => {
      const res = await page(s, '/console/audit?path=/api/shared-seen', undefined, {
        'x-api-key': KEYS.watcher.key,
      });
      return res.body.includes('path">/api/shared-seen<');
    });
    const audit = await page(s, '/console/audit?path=/api/shared-seen', undefined, {
      'x-api-key': KEYS.watcher.key,
    });
    expect(audit.body).toContain('Searching the Redis audit stream, shared by every replica.');
    expect(audit.body).not.toContain('Other replicas write their own files');
    const overview = await page(s, '/console/', undefined, { 'x-api-key': KEYS.watcher.key });
    expect(overview.body).toMatch(
      /Showing every replica sharing its counts through Redis \(1: [^)]+\), last hour/,
    );
  });

  it('with Redis down each page says so and shows what this replica has', async () => {
    await redis.stop();
    try {
      const res = await page(s, '/console/keys', undefined, { 'x-api-key': KEYS.watcher.key });
      expect(res.status).toBe(200);
      expect(res.body).toContain('Redis did not answer: stored keys cannot be listed now.');
      expect(res.body).toContain('<td class="mono">dev-1</td>');
      const audit = await page(s, '/console/audit?path=/api/shared-seen', undefined, {
        'x-api-key': KEYS.watcher.key,
      });
      expect(audit.status).toBe(200);
      expect(audit.body).toContain('Searching this replica&#39;s audit file');
      expect(audit.body).toContain('The shared audit stream could not be read');
      expect(audit.body).toContain('path">/api/shared-seen<');
    } finally {
      await redis.restart();
    }
  });
});
