// Client-certificate identities through real nginx terminating mutual TLS (certificates made here with openssl):
// a verified subject the keys file names is an identity; an unverified, foreign or missing certificate is not,
// and neither is a client's own X-SSL-Client-* header.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { startWarden, type LogLine, type TestWarden } from '../helpers/warden.js';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST } from './harness/fixture.js';
import { onFreePort, sleep } from './harness/net.js';
import { launchNginx, NGINX_BIN } from './harness/nginx.js';
import { describeNeeding, findBinary } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { renderRecipe } from './harness/render.js';
import { ifStarted } from '../helpers/hooks.js';

const OPENSSL = findBinary('openssl', ['/usr/bin/openssl']);
const missing = !NGINX_BIN
  ? 'nginx is not installed (apt-get install nginx)'
  : !OPENSSL
    ? 'openssl is not installed (apt-get install openssl)'
    : null;

/** A CA and certificates signed by it, made with the openssl CLI. */
function pki(dir: string) {
  const ssl = (...args: string[]) => execFileSync(OPENSSL!, args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) => {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/O=${name}/CN=${name}`,
    );
  };
  const leaf = (name: string, subj: string, issuer: string, ext: string) => {
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subj,
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('ca');
  ca('rogue-ca');
  leaf(
    'server',
    `/CN=${APP_HOST}`,
    'ca',
    `subjectAltName=DNS:${APP_HOST},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
  );
  leaf('agent', '/O=Acme/CN=agent-1', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', '/O=Acme/CN=stranger', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('forged', '/O=Acme/CN=agent-1', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f));
  return { ca: read('ca.pem'), cert: (n: string) => ({ cert: read(`${n}.pem`), key: read(`${n}.key`) }) };
}

describeNeeding('client certificates through nginx mutual TLS (e2e)', missing, () => {
  let w: TestWarden;
  let echo: Echo;
  let proxy: Proxy;
  let certs: ReturnType<typeof pki>;
  // The certificates nginx reads: removed once it has stopped.
  let dir: string;

  beforeAll(async () => {
    dir = makeDir('warden-mtls-');
    certs = pki(dir);
    w = await startWarden({
      policy: {
        roles: { agent: ['api:read'] },
        rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
      },
      keys: [{ id: 'agent-1', certSubject: 'CN=agent-1, O=Acme', roles: ['agent'] }],
      env: { WARDEN_TRUSTED_PROXIES: '127.0.0.1/32', WARDEN_CLIENT_CERT: 'nginx' },
    });
    echo = await startEcho();
    // The recipe as is; only the listener becomes TLS with client verification, as the docs say.
    proxy = await onFreePort((port) =>
      launchNginx({
        kind: 'nginx',
        port,
        include: 'warden/warden.conf',
        prepare(d) {
          execFileSync('mkdir', ['-p', join(d, 'warden')]);
          renderRecipe('nginx/warden.conf', join(d, 'warden/warden.conf'), [
            {
              from: /listen 80;(\s+return 444;)/,
              to: `listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${dir}/server.pem;\n    ssl_certificate_key ${dir}/server.key;$1`,
            },
            { from: /listen 80;/, to: `listen 127.0.0.1:${port} ssl;` },
            {
              from: 'server_name app.example.com;',
              to: `server_name app.example.com;\n    ssl_certificate ${dir}/server.pem;\n    ssl_certificate_key ${dir}/server.key;\n    ssl_client_certificate ${dir}/ca.pem;\n    ssl_verify_client optional;`,
            },
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
    await ifStarted(w)?.close();
    if (ifStarted(dir)) removeDir(dir);
  });

  async function get(
    path: string,
    client: { cert?: Buffer; key?: Buffer } = {},
    headers: Record<string, string> = {},
  ): Promise<{ status: number; upstream: typeof echo.seen; last: LogLine | undefined }> {
    const mark = w.audit.length;
    const seen = echo.seen.length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: proxy.port,
          path,
          servername: APP_HOST,
          ca: certs.ca,
          ...client,
          headers: { host: APP_HOST, accept: 'application/json', ...headers },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end();
    });
    for (let i = 0; i < 20 && w.audit.length === mark; i++) await sleep(25);
    return { status, upstream: echo.seen.slice(seen), last: w.audit.at(-1) };
  }

  it('maps a verified certificate whose subject the keys file names to its identity', async () => {
    const r = await get('/api/x', certs.cert('agent'));
    expect(r.status, proxy.log()).toBe(200);
    expect(r.upstream[0]!.headers).toMatchObject({
      'x-user-id': 'agent-1',
      'x-user-roles': 'agent',
      'x-auth-method': 'mtls',
    });
    expect(r.last).toMatchObject({ decision: 'allow', sub: 'agent-1', authMethod: 'mtls', keyId: 'agent-1' });
  });

  it('gives 401 without a certificate or with one the keys file does not name; a subject copied onto another CA never passes', async () => {
    expect((await get('/api/x')).status).toBe(401);
    expect((await get('/api/x', certs.cert('stranger'))).status).toBe(401);
    // ssl_verify_client optional: nginx itself refuses a certificate it cannot verify (400), before warden.
    const forged = await get('/api/x', certs.cert('forged'));
    expect(forged.status).toBe(400);
    expect(forged.upstream).toHaveLength(0);
  });

  it("never takes a client's own verification headers", async () => {
    const spoof = {
      'X-SSL-Client-Verify': 'SUCCESS',
      'X-SSL-Client-S-DN': 'CN=agent-1,O=Acme',
      'ssl-client-verify': 'SUCCESS',
      'ssl-client-subject-dn': 'CN=agent-1,O=Acme',
    };
    expect((await get('/api/x', {}, spoof)).status).toBe(401);
    expect((await get('/api/x', certs.cert('stranger'), spoof)).status).toBe(401);
    // …nor does the app: it gets nginx's own result.
    const ok = await get('/api/x', certs.cert('agent'), { ...spoof, 'X-SSL-Client-S-DN': 'CN=admin' });
    expect(ok.status).toBe(200);
    expect(ok.upstream[0]!.headers).toMatchObject({
      'x-ssl-client-verify': 'SUCCESS',
      'x-ssl-client-s-dn': 'CN=agent-1,O=Acme',
    });
    expect(ok.upstream[0]!.headers['ssl-client-verify']).toBeUndefined();
  });
});

describe('client certificates: what warden takes from the proxy', () => {
  let w: TestWarden;
  beforeAll(async () => {
    w = await startWarden({
      policy: {
        roles: { agent: ['api:read'] },
        rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
      },
      keys: [{ id: 'agent-1', certSubject: 'CN=agent-1,O=Acme', roles: ['agent'] }],
      env: { WARDEN_CLIENT_CERT: 'nginx' },
    });
  });
  afterAll(() => w.close());
  const ask = (headers: [string, string][]) =>
    send(`${w.url}/verify/nginx`, {
      headers: [
        ['X-Original-URL', 'https://app.example.com/api/x'],
        ['X-Original-Method', 'GET'],
        ['X-Forwarded-For', '203.0.113.4'],
        ...headers,
      ],
    }).then((r) => r.status);

  it('only SUCCESS, only once, only the configured family, a subject in any attribute order', async () => {
    expect(
      await ask([
        ['X-SSL-Client-Verify', 'SUCCESS'],
        ['X-SSL-Client-S-DN', 'O=Acme,CN=agent-1'],
      ]),
    ).toBe(200);
    expect(
      await ask([
        ['X-SSL-Client-Verify', 'FAILED:certificate has expired'],
        ['X-SSL-Client-S-DN', 'CN=agent-1,O=Acme'],
      ]),
    ).toBe(401);
    expect(
      await ask([
        ['X-SSL-Client-Verify', 'NONE'],
        ['X-SSL-Client-S-DN', 'CN=agent-1,O=Acme'],
      ]),
    ).toBe(401);
    expect(
      await ask([
        ['X-SSL-Client-Verify', 'success'],
        ['X-SSL-Client-S-DN', 'CN=agent-1,O=Acme'],
      ]),
    ).toBe(401);
    expect(
      await ask([
        ['X-SSL-Client-Verify', 'SUCCESS'],
        ['X-SSL-Client-S-DN', 'CN=agent-1,O=Acme'],
        ['X-SSL-Client-S-DN', 'CN=other'],
      ]),
    ).toBe(401);
    expect(
      await ask([
        ['ssl-client-verify', 'SUCCESS'],
        ['ssl-client-subject-dn', 'CN=agent-1,O=Acme'],
      ]),
    ).toBe(401);
    expect(
      await ask([['X-Forwarded-Tls-Client-Cert-Info', encodeURIComponent('Subject="CN=agent-1,O=Acme"')]]),
    ).toBe(401);
  });
});
