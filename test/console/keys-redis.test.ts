// The keys page with keys stored in Redis: file and stored keys, expiry and last use, never a key or its hash;
// with Redis down the page says stored keys cannot be listed and still shows the file's.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { redisDescribe, startRedis, within, type RedisServer } from '../helpers/redis.js';
import { KEYS, page, startConsole, through, type ConsoleSetup } from './helpers.js';

redisDescribe('console keys page with WARDEN_KEYS_STORE=redis', () => {
  let redis: RedisServer;
  let s: ConsoleSetup;
  beforeAll(async () => {
    redis = await startRedis();
    s = await startConsole({ env: { REDIS_URL: redis.url, WARDEN_KEYS_STORE: 'redis' } });
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

  it('with Redis down the page says so and still lists the keys file', async () => {
    await redis.stop();
    try {
      const res = await page(s, '/console/keys', undefined, { 'x-api-key': KEYS.watcher.key });
      expect(res.status).toBe(200);
      expect(res.body).toContain('Redis did not answer: stored keys cannot be listed now.');
      expect(res.body).toContain('<td class="mono">dev-1</td>');
    } finally {
      await redis.restart();
    }
  });
});
