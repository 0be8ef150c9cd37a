// Header presets through real Caddy: the Caddyfile with `warden recipe caddy`'s lines for the authelia
// preset and an extra header gives the app warden's values, never a client's copy in any spelling.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policySchema } from '../../src/config/policy-schema.js';
import { caddyIdentityBlock } from '../../src/tooling/recipe-command.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { CADDY_BIN, CADDY_SITE_HOST, startCaddy } from './harness/caddy.js';
import { startEcho, type Echo } from './harness/echo.js';
import { OTHER_PRESET_HEADERS, spellings } from './harness/fixture.js';
import { send } from './harness/net.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { DEPLOY_DIR } from './harness/render.js';
import { expectNoSecrets, keySecrets } from './harness/secrets.js';
import { ifStarted } from '../helpers/hooks.js';

const CADDYFILE = readFileSync(join(DEPLOY_DIR, 'caddy/Caddyfile'), 'utf8');
const BLOCK = /^([ \t]*)# --- identity headers: generated[^]*?# --- end of identity headers ---$/m;
const viewer = testKey('viewer', ['viewer'], { name: 'Vera Viewer', email: 'vera@example.com' });

/** The Caddyfile with its identity block and copy_headers as `warden recipe caddy` prints them for `policy`. */
function caddyfileFor(policy: unknown, copy: string[]): string {
  const parsed = policySchema.parse(policy);
  return CADDYFILE.replace(BLOCK, (_m, indent: string) =>
    caddyIdentityBlock(parsed)
      .split('\n')
      .map((l) => indent + l)
      .join('\n'),
  ).replace(/^(\s*)copy_headers [^\n]+$/m, `$1copy_headers ${copy.join(' ')}`);
}

describe('warden recipe caddy', () => {
  it('is what deploy/caddy/Caddyfile ships for the default policy', () => {
    expect(
      caddyfileFor({}, ['X-User-ID', 'X-User-Roles', 'X-User-Name', 'X-User-Email', 'X-Auth-Method']),
    ).toBe(CADDYFILE);
  });
});

describeNeeding(
  'authelia header preset through Caddy (e2e)',
  CADDY_BIN ? null : 'caddy is not installed (apt-get install caddy)',
  () => {
    const policy = {
      headers: { preset: 'authelia', extra: { 'X-Tenant': 'tenant_id' } },
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
      const copy = [
        'Remote-User',
        'Remote-Groups',
        'Remote-Name',
        'Remote-Email',
        'X-Auth-Method',
        'X-Tenant',
      ];
      proxy = await startCaddy({
        wardenPort: w.port,
        upstreamPort: echo.port,
        caddyfile: caddyfileFor(policy, copy),
      });
    });
    afterAll(async () => {
      await ifStarted(proxy)?.stop();
      await ifStarted(echo)?.close();
      await ifStarted(w)?.close();
      if (ifStarted(w)) expectNoSecrets(w, keySecrets(viewer), 2);
    });

    it("gives the app warden's Remote-* values and no client copy in any spelling", async () => {
      const forged: Record<string, string> = {};
      for (const name of [
        ...OTHER_PRESET_HEADERS,
        'X-User-ID',
        'X-Tenant',
        'X-Auth-Method',
        'X-Warden-Assertion',
      ])
        for (const spelled of spellings(name)) forged[spelled] = 'forged';
      for (const [path, headers] of [
        ['/nodes/1', { 'x-api-key': viewer.key }],
        ['/public/x', {}],
      ] as const) {
        const seen = echo.seen.length;
        const res = await send(proxy.port, path, {
          headers: { host: `${CADDY_SITE_HOST}:${proxy.port}`, ...headers, ...forged },
        });
        expect(res.status, `${path}: ${res.body}`).toBe(200);
        const app = echo.seen.slice(seen);
        expect(app).toHaveLength(1);
        const raw = app[0]!.rawHeaders;
        for (let i = 0; i < raw.length; i += 2)
          expect(raw[i + 1], `${path}: the app got ${raw[i]}`).not.toBe('forged');
        if (path === '/nodes/1') expect(app[0]!.headers['remote-user']).toBe('viewer');
      }
    });
  },
);
