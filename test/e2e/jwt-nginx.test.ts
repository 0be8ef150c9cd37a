// JWT access tokens from a real OpenID provider (oidc-provider), through the deploy/nginx recipe on real nginx.
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProvider, type TestProvider } from '../helpers/oidc.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST, policy } from './harness/fixture.js';
import { send, sleep } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import type { Proxy } from './harness/proxy.js';
import { describeNeeding } from './harness/process.js';
import { ifStarted } from '../helpers/hooks.js';

describeNeeding(
  'JWT access tokens from oidc-provider through nginx (e2e)',
  NGINX_BIN ? null : 'nginx is not installed: the JWT e2e tests cannot run (apt-get install nginx)',
  () => {
    let idp: TestProvider;
    let w: TestWarden;
    let echo: Echo;
    let proxy: Proxy;
    const tokens: string[] = [];

    beforeAll(async () => {
      idp = await startProvider([
        { id: 'agent-rs', alg: 'RS256', groups: ['idp-devs'] },
        { id: 'agent-es', alg: 'ES256', groups: ['viewer', 'Domain Users'] },
        { id: 'agent-admin', alg: 'ES256', groups: ['idp-admins'] },
      ]);
      w = await startWarden({
        policy: {
          ...policy(),
          claims: { roles: 'groups', map: { 'idp-devs': 'developer', 'idp-admins': 'admin' } },
        },
        env: {
          WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
          WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: idp.audience }]),
        },
      });
      echo = await startEcho();
      proxy = await startNginx({ wardenPort: w.port, upstreamPort: echo.port });
    });
    afterAll(async () => {
      await ifStarted(proxy)?.stop();
      await ifStarted(echo)?.close();
      await ifStarted(w)?.close();
      await ifStarted(idp)?.close();
      // No token (its signature part) in any audit or operational line.
      const lines = [...(ifStarted(w)?.audit ?? []), ...(ifStarted(w)?.ops ?? [])].map((l) =>
        JSON.stringify(l),
      );
      for (const t of tokens) expect(lines.some((l) => l.includes(t.split('.')[2]!))).toBe(false);
    });

    const token = async (client: string) => {
      const t = await idp.token(client);
      tokens.push(t);
      return t;
    };
    async function through(path: string, bearer: string, extra: Record<string, string> = {}) {
      const seen = echo.seen.length;
      const mark = w.audit.length;
      const res = await send(proxy.port, path, {
        headers: { host: APP_HOST, authorization: `Bearer ${bearer}`, accept: 'application/json', ...extra },
      });
      for (let i = 0; i < 20 && w.audit.length === mark; i++) await sleep(25);
      return { res, upstream: echo.seen.slice(seen), last: w.audit.at(-1) };
    }

    it('issues RS256 and ES256 RFC 9068 access tokens', async () => {
      expect(decodeProtectedHeader(await token('agent-rs'))).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      expect(decodeProtectedHeader(await token('agent-es'))).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    });

    it('allows an RS256 token and the app sees the identity from its claims', async () => {
      const { res, upstream, last } = await through('/nodes/n1', await token('agent-rs'));
      expect(res.status, res.body).toBe(200);
      expect(upstream[0]!.headers).toMatchObject({
        'x-user-id': 'agent-rs',
        'x-user-roles': 'developer',
        'x-auth-method': 'jwt',
      });
      expect(last).toMatchObject({ decision: 'allow', authMethod: 'jwt', sub: 'agent-rs', dialect: 'nginx' });
    });

    it('allows an ES256 token by role and denies it where the role is not enough', async () => {
      const t = await token('agent-es');
      const ok = await through('/nodes/n1', t);
      expect(ok.res.status).toBe(200);
      expect(ok.upstream[0]!.headers['x-user-roles']).toBe('viewer');
      const denied = await through('/admin/users', t);
      expect(denied.res.status).toBe(403);
      expect(denied.upstream).toHaveLength(0);
      expect(denied.last).toMatchObject({ decision: 'forbidden', sub: 'agent-es', authMethod: 'jwt' });
    });

    it('maps an IdP group to a role (idp-admins → admin)', async () => {
      const { res, upstream } = await through('/admin/users', await token('agent-admin'));
      expect(res.status).toBe(200);
      expect(upstream[0]!.headers['x-user-roles']).toBe('admin');
    });

    it('a repeated token is answered from the cache, and a client cannot add its own identity headers', async () => {
      const t = await token('agent-rs');
      for (let i = 0; i < 3; i++) {
        const { res, upstream } = await through('/nodes/n1', t, {
          'x-user-id': 'admin',
          'x-user-roles': 'admin',
          'x-auth-method': 'api_key',
        });
        expect(res.status).toBe(200);
        expect(upstream[0]!.headers).toMatchObject({
          'x-user-id': 'agent-rs',
          'x-user-roles': 'developer',
          'x-auth-method': 'jwt',
        });
      }
    });

    it('refuses a tampered token with 401 and never reaches the app', async () => {
      const t = await token('agent-es');
      const [h, p] = t.split('.');
      const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, groups: ['idp-admins'] })).toString('base64url')}.${t.split('.')[2]}`;
      const { res, upstream, last } = await through('/admin/users', forged);
      expect(res.status).toBe(401);
      expect(upstream).toHaveLength(0);
      expect(last).toMatchObject({ decision: 'unauthenticated', cause: 'bad_signature', kid: 'es256-1' });
    });
  },
);
