// deploy/caddy/Caddyfile over https with a certificate made here by openssl: the security headers,
// HSTS included, on the app's answers and on warden's 401, 403 and 429.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CADDY_BIN, CADDY_SITE_HOST, startCaddy } from './harness/caddy.js';
import { startEcho, type Echo } from './harness/echo.js';
import { KEYS, SECRETS, startE2eWarden, TIGHT_LIMIT, type E2eWarden } from './harness/fixture.js';
import { CLIENT_ADDRESS } from './harness/net.js';
import { selfSignedCert } from './harness/tls.js';
import { describeNeeding, findBinary } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { DEPLOY_DIR } from './harness/render.js';
import { expectNoSecrets } from './harness/secrets.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { ifStarted } from '../helpers/hooks.js';

const OPENSSL = findBinary('openssl');
const SECURITY_HEADERS = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
};

/** The recipe with the test's certificate instead of one from an ACME CA, and no :80 redirect listener. */
function caddyfileWithCertificate(dir: string): string {
  const text = readFileSync(join(DEPLOY_DIR, 'caddy/Caddyfile'), 'utf8');
  const out = text
    .replace('admin {$CADDY_ADMIN:localhost:2019}', '$&\n\tauto_https disable_redirects')
    .replace('bind {$WARDEN_BIND:}', `$&\n\ttls ${join(dir, 'app.crt')} ${join(dir, 'app.key')}`);
  if (out === text || !out.includes('tls ') || !out.includes('auto_https'))
    throw new Error('deploy/caddy/Caddyfile changed: the test cannot add its certificate');
  return out;
}

describeNeeding(
  'Caddy recipe over TLS (e2e)',
  !CADDY_BIN
    ? 'caddy is not installed (apt-get install caddy)'
    : !OPENSSL
      ? 'openssl is not installed'
      : null,
  () => {
    let dir: string;
    let cert: Buffer;
    let w: E2eWarden;
    let echo: Echo;
    let caddy: Proxy;

    beforeAll(async () => {
      dir = makeDir('warden-caddy-tls-');
      cert = selfSignedCert(OPENSSL!, dir, CADDY_SITE_HOST);
      w = await startE2eWarden();
      echo = await startEcho();
      caddy = await startCaddy({
        wardenPort: w.port,
        upstreamPort: echo.port,
        caddyfile: caddyfileWithCertificate(dir),
        env: (port) => ({ WARDEN_SITE: `https://${CADDY_SITE_HOST}:${port}` }),
      });
    });

    afterAll(async () => {
      await ifStarted(caddy)?.stop();
      await ifStarted(echo)?.close();
      const warden = ifStarted(w);
      if (warden) {
        await warden.close();
        try {
          expectNoSecrets(warden, SECRETS, 2);
        } finally {
          removeDir(warden.dir);
        }
      }
      if (dir) removeDir(dir);
    });

    function httpsGet(path: string, headers: Record<string, string> = {}) {
      return new Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>(
        (resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: caddy.port,
              path,
              servername: CADDY_SITE_HOST,
              ca: cert,
              headers: { host: `${CADDY_SITE_HOST}:${caddy.port}`, connection: 'close', ...headers },
              localAddress: CLIENT_ADDRESS,
              agent: false,
            },
            (res) => {
              res.resume();
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
    }

    it("sends the security headers on the app's answers and on warden's 401, 403 and 429", async () => {
      const answers = [
        await httpsGet('/nodes/1', { 'x-api-key': KEYS.viewer.key }),
        await httpsGet('/nodes/1', { accept: 'application/json' }),
        await httpsGet('/admin/users', { 'x-api-key': KEYS.viewer.key }),
      ];
      for (let i = 0; i <= TIGHT_LIMIT; i++)
        answers.push(await httpsGet(`/limited/${i}`, { 'x-api-key': KEYS.limited.key }));
      expect(answers.map((r) => r.status)).toEqual([
        200,
        401,
        403,
        ...Array<number>(TIGHT_LIMIT).fill(200),
        429,
      ]);
      for (const r of answers)
        for (const [name, value] of Object.entries(SECURITY_HEADERS))
          expect(r.headers[name], `${r.status} ${name}`).toBe(value);
    });
  },
);
