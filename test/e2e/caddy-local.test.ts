// deploy/caddy/Caddyfile as deploy/caddy/README.md's "Local try" runs it: plain http on a loopback port, admin on loopback.
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CADDY_BIN, startCaddy } from './harness/caddy.js';
import { startEcho, type Echo } from './harness/echo.js';
import { KEYS, SECRETS, startE2eWarden, TIGHT_LIMIT, type E2eWarden } from './harness/fixture.js';
import { freePort, send } from './harness/net.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { DEPLOY_DIR } from './harness/render.js';
import { expectNoSecrets } from './harness/secrets.js';
import { removeDir } from '../helpers/tmp.js';
import { ifStarted } from '../helpers/hooks.js';

/** The README's variables for a local try, on the test's ports. */
const localEnv = (port: number, adminPort: number) => ({
  WARDEN_SITE: `http://localhost:${port}`,
  WARDEN_BIND: '127.0.0.1',
  CADDY_ADMIN: `localhost:${adminPort}`,
});

function getAdmin(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/config/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describeNeeding(
  'Caddy recipe, local try (e2e)',
  CADDY_BIN ? null : 'caddy is not installed (apt-get install caddy)',
  () => {
    let w: E2eWarden;
    let echo: Echo;
    let caddy: Proxy;
    let adminPort: number;

    beforeAll(async () => {
      w = await startE2eWarden();
      echo = await startEcho();
      adminPort = await freePort();
      caddy = await startCaddy({
        wardenPort: w.port,
        upstreamPort: echo.port,
        env: (port) => localEnv(port, adminPort),
      });
    });

    afterAll(async () => {
      await ifStarted(caddy)?.stop();
      await ifStarted(echo)?.close();
      const warden = ifStarted(w);
      if (!warden) return;
      await warden.close();
      try {
        expectNoSecrets(warden, SECRETS, 2);
      } finally {
        removeDir(warden.dir);
      }
    });

    it('listens on loopback only, with its admin endpoint on loopback', () => {
      const r = spawnSync(CADDY_BIN!, ['adapt', '--config', join(DEPLOY_DIR, 'caddy/Caddyfile')], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ...localEnv(caddy.port, adminPort) },
      });
      expect(r.status, r.stderr).toBe(0);
      const config = JSON.parse(r.stdout) as {
        admin: { listen: string };
        apps: { http: { servers: Record<string, { listen: string[] }> } };
      };
      expect(Object.values(config.apps.http.servers).map((s) => s.listen)).toEqual([
        [`127.0.0.1:${caddy.port}`],
      ]);
      expect(config.admin.listen).toBe(`localhost:${adminPort}`);
    });

    it('asks warden over plain http and passes an allowed request to the app', async () => {
      const host = `localhost:${caddy.port}`;
      const denied = await send(caddy.port, '/nodes/n1', { headers: { host, accept: 'application/json' } });
      expect(denied.status).toBe(401);
      expect(denied.json()).toMatchObject({ error: 'unauthorized', reason: 'missing_credentials' });
      const before = echo.seen.length;
      const ok = await send(caddy.port, '/nodes/n1', { headers: { host, 'x-api-key': KEYS.viewer.key } });
      expect(ok.status, ok.body).toBe(200);
      expect(echo.seen.slice(before).map((r) => r.headers['x-user-id'])).toEqual(['viewer']);
      expect(await getAdmin(adminPort)).toBe(200);
    });

    it("sends the security headers (no HSTS over http) on the app's answers and warden's denies", async () => {
      const host = `localhost:${caddy.port}`;
      const get = (path: string, headers: Record<string, string> = {}) =>
        send(caddy.port, path, { headers: { host, ...headers } });
      const answers = [
        await get('/nodes/h', { 'x-api-key': KEYS.viewer.key }),
        await get('/nodes/h', { accept: 'application/json' }),
        await get('/admin/users', { 'x-api-key': KEYS.viewer.key }),
      ];
      for (let i = 0; i <= TIGHT_LIMIT; i++)
        answers.push(await get(`/limited/${i}`, { 'x-api-key': KEYS.limited.key }));
      expect(answers.map((r) => r.status)).toEqual([
        200,
        401,
        403,
        ...Array<number>(TIGHT_LIMIT).fill(200),
        429,
      ]);
      for (const r of answers) {
        expect(r.headers['x-frame-options'], String(r.status)).toBe('DENY');
        expect(r.headers['x-content-type-options'], String(r.status)).toBe('nosniff');
        expect(r.headers['referrer-policy'], String(r.status)).toBe('strict-origin-when-cross-origin');
        expect(r.headers['strict-transport-security'], String(r.status)).toBeUndefined();
      }
    });
  },
);
