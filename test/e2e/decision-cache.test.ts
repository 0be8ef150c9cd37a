// The opt-in decision cache through real nginx: warden marks reusable decisions, the recipe's
// proxy_cache reuses them per credential, method, host and URI, and a revoked key stops within the cache time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send as rawSend } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST } from './harness/fixture.js';
import { send, sleep } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { expectNoSecrets, keySecrets } from './harness/secrets.js';
import { ifStarted } from '../helpers/hooks.js';

const CACHE_SECONDS = 2;
const viewer = testKey('viewer', ['viewer']);
const other = testKey('other', ['viewer']);
const nobody = testKey('nobody', ['nobody']);
const ops = testKey('ops', ['ops']);

describeNeeding(
  'decision cache through nginx (e2e)',
  NGINX_BIN
    ? null
    : 'nginx is not installed: the decision cache e2e tests cannot run (apt-get install nginx)',
  () => {
    let w: TestWarden;
    let echo: Echo;
    let proxy: Proxy;

    beforeAll(async () => {
      w = await startWarden({
        policy: {
          roles: { viewer: ['nodes:read'], nobody: [], ops: ['warden:admin'] },
          rateLimits: { some: { limit: 1000, window: '60s', by: 'identity' } },
          rules: [
            {
              match: { path: '/cached/**' },
              require: ['nodes:read'],
              cache: { allow: `${CACHE_SECONDS}s`, deny: `${CACHE_SECONDS}s` },
            },
            {
              match: { path: '/limited/**' },
              require: ['nodes:read'],
              rateLimit: 'some',
              cache: { allow: '5s' },
            },
            {
              match: { path: '/fenced/**' },
              require: ['nodes:read'],
              networks: ['127.0.0.0/8'],
              cache: { allow: '5s' },
            },
            { match: { path: '/fresh/**' }, require: ['nodes:read'] },
          ],
        },
        keys: [viewer.entry, other.entry, nobody.entry, ops.entry],
        env: { WARDEN_TRUSTED_PROXIES: '127.0.0.1/32' },
      });
      echo = await startEcho();
      proxy = await startNginx({ wardenPort: w.port, upstreamPort: echo.port, decisionCache: true });
    });
    afterAll(async () => {
      await ifStarted(proxy)?.stop();
      await ifStarted(echo)?.close();
      await ifStarted(w)?.close();
      if (ifStarted(w)) expectNoSecrets(w, keySecrets(viewer, other, nobody, ops), 5);
    });

    /** One request through nginx; how many decisions warden took for it (0: answered from nginx's cache). */
    async function through(path: string, headers: Record<string, string> = {}) {
      const before = w.audit.length;
      const seen = echo.seen.length;
      const res = await send(proxy.port, path, {
        headers: { host: APP_HOST, accept: 'application/json', ...headers },
      });
      await sleep(30);
      return {
        status: res.status,
        asked: w.audit.length - before,
        upstream: echo.seen.slice(seen),
        last: w.audit.at(-1),
      };
    }

    it('reuses an allow for the same key and URL, with the identity headers, and asks again for another URL or key', async () => {
      const first = await through('/cached/a', { 'x-api-key': viewer.key });
      expect(first).toMatchObject({ status: 200, asked: 1 });
      const again = await through('/cached/a', { 'x-api-key': viewer.key });
      expect(again).toMatchObject({ status: 200, asked: 0 });
      expect(again.upstream[0]!.headers).toMatchObject({
        'x-user-id': 'viewer',
        'x-user-roles': 'viewer',
        'x-auth-method': 'api_key',
      });
      expect((await through('/cached/b', { 'x-api-key': viewer.key })).asked).toBe(1);
      const otherKey = await through('/cached/a', { 'x-api-key': other.key });
      expect(otherKey).toMatchObject({ status: 200, asked: 1 });
      expect(otherKey.upstream[0]!.headers['x-user-id']).toBe('other');
    });

    it('never serves one credential’s allow to a request without it or with a wrong one', async () => {
      await through('/cached/c', { 'x-api-key': viewer.key });
      expect(await through('/cached/c')).toMatchObject({ status: 401, asked: 1 });
      expect(await through('/cached/c')).toMatchObject({ status: 401, asked: 1 });
      expect(await through('/cached/c', { 'x-api-key': 'wdn_wrong' })).toMatchObject({
        status: 401,
        asked: 1,
      });
      expect(await through('/cached/c', { authorization: `Bearer ${viewer.key}` })).toMatchObject({
        status: 200,
        asked: 1,
      });
    });

    it('reuses an opted-in 403, and never a decision that depends on a rate limit, a network or an uncached rule', async () => {
      expect(await through('/cached/d', { 'x-api-key': nobody.key })).toMatchObject({
        status: 403,
        asked: 1,
      });
      expect(await through('/cached/d', { 'x-api-key': nobody.key })).toMatchObject({
        status: 403,
        asked: 0,
      });
      for (const path of ['/limited/x', '/fenced/x', '/fresh/x']) {
        expect(await through(path, { 'x-api-key': viewer.key }), path).toMatchObject({
          status: 200,
          asked: 1,
        });
        expect(await through(path, { 'x-api-key': viewer.key }), path).toMatchObject({
          status: 200,
          asked: 1,
        });
      }
    });

    it('stops a revoked key within the cache time', async () => {
      expect(await through('/cached/rev', { 'x-api-key': viewer.key })).toMatchObject({
        status: 200,
        asked: 1,
      });
      const revoked = await rawSend(`${w.url}/admin/revocations`, {
        method: 'POST',
        headers: { 'X-API-Key': ops.key, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'key', id: 'viewer' }),
      });
      expect(revoked.status).toBe(201);
      const at = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - at < (CACHE_SECONDS + 3) * 1000) {
        status = (await through('/cached/rev', { 'x-api-key': viewer.key })).status;
        if (status === 200) await sleep(100);
      }
      expect(status).toBe(401);
      expect(Date.now() - at).toBeLessThanOrEqual((CACHE_SECONDS + 1) * 1000);
    });
  },
);
