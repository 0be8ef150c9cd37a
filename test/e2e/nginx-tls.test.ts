// deploy/nginx/warden-tls.conf through real nginx with a certificate made here by openssl: TLS 1.2+
// only, 301 from plain http, and the security headers on the app's answers and warden's deny pages.
import { mkdirSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST, KEYS, SECRETS, startE2eWarden, TIGHT_LIMIT, type E2eWarden } from './harness/fixture.js';
import { CLIENT_ADDRESS, freePort, onFreePort, send } from './harness/net.js';
import { launchNginx, NGINX_BIN } from './harness/nginx.js';
import { selfSignedCert } from './harness/tls.js';
import { describeNeeding, findBinary } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { renderRecipe } from './harness/render.js';
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

interface TlsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

describeNeeding(
  'nginx TLS recipe (e2e)',
  !NGINX_BIN
    ? 'nginx is not installed (apt-get install nginx)'
    : !OPENSSL
      ? 'openssl is not installed'
      : null,
  () => {
    let dir: string;
    let cert: Buffer;
    let w: E2eWarden;
    let echo: Echo;
    let proxy: Proxy;
    let httpPort: number;

    beforeAll(async () => {
      dir = makeDir('warden-tls-');
      cert = selfSignedCert(OPENSSL!, dir, APP_HOST);
      w = await startE2eWarden();
      echo = await startEcho();
      httpPort = await freePort();
      proxy = await onFreePort((port) =>
        launchNginx({
          kind: 'nginx',
          port,
          include: 'warden/warden-tls.conf',
          prepare(d) {
            mkdirSync(join(d, 'warden'));
            renderRecipe('nginx/warden-tls.conf', join(d, 'warden/warden-tls.conf'), [
              { from: /listen 80;/, to: `listen 127.0.0.1:${httpPort};` },
              { from: /listen 443 ssl;/, to: `listen 127.0.0.1:${port} ssl;` },
              { from: '/etc/nginx/warden/tls/app.example.com.crt', to: join(dir, 'app.crt') },
              { from: '/etc/nginx/warden/tls/app.example.com.key', to: join(dir, 'app.key') },
              { from: 'server 127.0.0.1:3000;', to: `server 127.0.0.1:${echo.port};` },
            ]);
            renderRecipe('nginx/warden-upstream.conf', join(d, 'warden/warden-upstream.conf'), [
              { from: 'server 127.0.0.1:8080', to: `server 127.0.0.1:${w.port}` },
            ]);
            for (const f of ['warden-auth.conf', 'warden-protect.conf', 'warden-decisions.conf'])
              renderRecipe(`nginx/${f}`, join(d, `warden/${f}`), []);
          },
        }),
      );
    });

    afterAll(async () => {
      await ifStarted(proxy)?.stop();
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

    function httpsGet(path: string, headers: Record<string, string> = {}): Promise<TlsResponse> {
      return new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: proxy.port,
            path,
            servername: APP_HOST,
            ca: cert,
            headers: { host: APP_HOST, connection: 'close', ...headers },
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
      });
    }

    /** The TLS version nginx agrees to when the client offers only `min`..`max`, or the error. */
    function handshake(min: 'TLSv1' | 'TLSv1.2' | 'TLSv1.3', max: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3') {
      return new Promise<string>((resolve) => {
        const s = connect({
          host: '127.0.0.1',
          port: proxy.port,
          servername: APP_HOST,
          ca: cert,
          minVersion: min,
          maxVersion: max,
          // Let the client offer old versions at all: the refusal must be nginx's.
          ciphers: 'DEFAULT@SECLEVEL=0',
        });
        s.on('secureConnect', () => {
          resolve(s.getProtocol() ?? 'none');
          s.end();
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
      });
    }

    it('redirects plain http to the same URL over https with a 301', async () => {
      const r = await send(httpPort, '/nodes/1?x=1', { headers: { host: APP_HOST } });
      expect(r.status).toBe(301);
      expect(r.headers.location).toBe(`https://${APP_HOST}/nodes/1?x=1`);
      expect(echo.seen).toHaveLength(0);
    });

    it('speaks TLS 1.2 and 1.3 only', async () => {
      expect(await handshake('TLSv1.2', 'TLSv1.2')).toBe('TLSv1.2');
      expect(await handshake('TLSv1.3', 'TLSv1.3')).toBe('TLSv1.3');
      expect(await handshake('TLSv1', 'TLSv1.1')).toBe('error ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    });

    it("sends the security headers on the app's answers and on warden's 401, 403 and 429", async () => {
      const answers: [string, TlsResponse][] = [
        ['200', await httpsGet('/nodes/1', { 'x-api-key': KEYS.viewer.key })],
        ['401', await httpsGet('/nodes/1', { accept: 'application/json' })],
        ['403', await httpsGet('/admin/users', { 'x-api-key': KEYS.viewer.key })],
      ];
      for (let i = 0; i < TIGHT_LIMIT; i++)
        expect((await httpsGet(`/limited/${i}`, { 'x-api-key': KEYS.limited.key })).status).toBe(200);
      answers.push(['429', await httpsGet('/limited/over', { 'x-api-key': KEYS.limited.key })]);
      for (const [status, r] of answers) {
        expect(String(r.status), status).toBe(status);
        for (const [name, value] of Object.entries(SECURITY_HEADERS))
          expect(r.headers[name], `${status} ${name}`).toBe(value);
      }
      expect(answers.find(([s]) => s === '429')?.[1].headers['retry-after']).toMatch(/^\d+$/);
      expect(w.audit.at(-1)).toMatchObject({ decision: 'limited', path: '/limited/over' });
    });
  },
);
