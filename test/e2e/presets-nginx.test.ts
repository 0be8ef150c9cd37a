// Header presets through real nginx: warden-protect.conf rendered by `warden recipe nginx` for the
// authelia and oauth2-proxy presets (and an extra claim header) gives the app those names, never a client's copies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policySchema } from '../../src/config/policy-schema.js';
import { HEADER_PRESETS } from '../../src/http/respond.js';
import { nginxProtect } from '../../src/tooling/recipe-command.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST } from './harness/fixture.js';
import { send } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { expectNoSecrets, keySecrets } from './harness/secrets.js';
import { ifStarted } from '../helpers/hooks.js';

const ROOT = join(import.meta.dirname, '..', '..');
const viewer = testKey('viewer', ['viewer'], { name: 'Vera Viewer', email: 'vera@example.com' });

describe('warden recipe nginx', () => {
  it('is what deploy/nginx/warden-protect.conf ships for the default policy', () => {
    expect(nginxProtect(policySchema.parse({}))).toBe(
      readFileSync(join(ROOT, 'deploy/nginx/warden-protect.conf'), 'utf8'),
    );
  });
});

for (const preset of ['authelia', 'oauth2-proxy'] as const) {
  describeNeeding(
    `${preset} header preset through nginx (e2e)`,
    NGINX_BIN ? null : 'nginx is not installed (apt-get install nginx)',
    () => {
      const names = HEADER_PRESETS[preset];
      const policy = {
        headers: { preset, extra: { 'X-Tenant': 'tenant_id' } },
        roles: { viewer: ['nodes:read'] },
        rules: [
          { match: { path: '/public/**' }, public: true },
          { match: { path: '/nodes/**' }, require: ['nodes:read'] },
        ],
      };
      let w: TestWarden;
      let echo: Echo;
      let proxy: Proxy;
      beforeAll(async () => {
        w = await startWarden({
          policy,
          keys: [viewer.entry],
          env: { WARDEN_TRUSTED_PROXIES: '127.0.0.1/32' },
        });
        echo = await startEcho();
        // Installed as the docs say: the protect include is `warden recipe nginx`'s output for this policy.
        proxy = await startNginx({
          wardenPort: w.port,
          upstreamPort: echo.port,
          protect: nginxProtect(policySchema.parse(policy)),
        });
      });
      afterAll(async () => {
        await ifStarted(proxy)?.stop();
        await ifStarted(echo)?.close();
        await ifStarted(w)?.close();
        if (ifStarted(w)) expectNoSecrets(w, keySecrets(viewer), 2);
      });

      const spoof = {
        [names.id]: 'root',
        [names.roles]: 'admin',
        'X-User-ID': 'root',
        'X-User-Roles': 'admin',
        'Remote-User': 'root',
        'X-Auth-Request-User': 'root',
        'X-Tenant': 'evil',
        'X-Warden-Assertion': 'forged',
      };
      const through = async (path: string, headers: Record<string, string>) => {
        const seen = echo.seen.length;
        const res = await send(proxy.port, path, { headers: { host: APP_HOST, ...headers } });
        return { status: res.status, app: echo.seen.slice(seen)[0]?.headers ?? {} };
      };

      it(`gives the app the ${preset} names with warden's values`, async () => {
        const r = await through('/nodes/1', { 'x-api-key': viewer.key, ...spoof });
        expect(r.status).toBe(200);
        expect(r.app[names.id.toLowerCase()]).toBe('viewer');
        expect(r.app[names.roles.toLowerCase()]).toBe('viewer');
        expect(r.app[names.email.toLowerCase()]).toBe('vera@example.com');
        expect(r.app['x-auth-method']).toBe('api_key');
      });

      it("never passes a client's copy of any preset's names, the extra header or the assertion", async () => {
        for (const [path, headers] of [
          ['/nodes/2', { 'x-api-key': viewer.key }],
          ['/public/x', {}],
        ] as const) {
          const r = await through(path, { ...headers, ...spoof });
          expect(r.status).toBe(200);
          for (const [name, value] of Object.entries(spoof))
            expect(r.app[name.toLowerCase()], `${path} ${name}`).not.toBe(value);
        }
      });
    },
  );
}
