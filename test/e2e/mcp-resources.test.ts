// An MCP server as an OAuth protected resource behind the nginx and Caddy recipes: metadata, challenges, bound tokens.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import { CADDY_BIN, startCaddy } from './harness/caddy.js';
import { startEcho, type Echo } from './harness/echo.js';
import { APP_HOST } from './harness/fixture.js';
import { send } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';

const RESOURCE = `https://${APP_HOST}/mcp`;
const METADATA = '/.well-known/oauth-protected-resource/mcp';
const CHALLENGE = `Bearer resource_metadata="https://${APP_HOST}${METADATA}", scope="mcp:tools"`;

for (const [kind, bin, start] of [
  ['nginx', NGINX_BIN, startNginx],
  ['caddy', CADDY_BIN, startCaddy],
] as const) {
  describeNeeding(
    `an MCP server as a protected resource behind the ${kind} recipe (e2e)`,
    bin ? null : `${kind} is not installed: the MCP resource e2e tests cannot run`,
    () => {
      let idp: TestIssuer | undefined;
      let w: TestWarden | undefined;
      let echo: Echo | undefined;
      let proxy: Proxy | undefined;

      beforeAll(async () => {
        const issuer = await startIssuer([await makeKey('ES256')]);
        idp = issuer;
        w = await startWarden({
          policy: {
            roles: { agent: ['mcp:use'] },
            resources: [
              {
                id: 'memory',
                url: RESOURCE,
                authorizationServers: [issuer.issuer],
                scopes: ['mcp:tools'],
                name: 'Memory',
              },
            ],
            rules: [
              {
                match: { path: '/mcp/**' },
                resource: 'memory',
                require: ['mcp:use'],
                scopes: ['mcp:tools'],
              },
            ],
          },
          env: {
            WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
            WARDEN_JWT_ISSUERS: JSON.stringify([
              { issuer: issuer.issuer, audience: 'https://api.example.com' },
            ]),
          },
        });
        echo = await startEcho();
        proxy = await start({ wardenPort: w.port, upstreamPort: echo.port });
      });
      afterAll(async () => {
        await proxy?.stop();
        await echo?.close();
        await w?.close();
        await idp?.close();
      });

      it('serves the protected resource metadata from warden, on the app host, to anyone', async () => {
        const seen = echo!.seen.length;
        const res = await send(proxy!.port, METADATA, {
          headers: { host: APP_HOST, authorization: 'Bearer not-looked-at' },
        });
        expect(res.status, res.body).toBe(200);
        expect(res.headers['access-control-allow-origin']).toBe('*');
        expect(res.headers['cache-control']).toBe('public, max-age=300');
        expect(res.json()).toEqual({
          resource: RESOURCE,
          authorization_servers: [idp!.issuer],
          scopes_supported: ['mcp:tools'],
          bearer_methods_supported: ['header'],
          resource_name: 'Memory',
        });
        const unknown = await send(proxy!.port, '/.well-known/oauth-protected-resource/other', {
          headers: { host: APP_HOST },
        });
        expect(unknown.status).toBe(404);
        // Answered by warden, never the app.
        expect(echo!.seen.length).toBe(seen);
      });

      const call = (headers: Record<string, string>) =>
        send(proxy!.port, '/mcp', {
          method: 'POST',
          headers: {
            host: APP_HOST,
            accept: 'application/json, text/event-stream',
            'content-length': '0',
            ...headers,
          },
        });
      const token = (claims: Record<string, unknown>) =>
        idp!.mint({ sub: 'agent-1', aud: RESOURCE, groups: ['agent'], ...claims });

      it('challenges a client without a token: 401 with resource_metadata and the scopes', async () => {
        const res = await call({});
        expect(res.status, res.body).toBe(401);
        expect(res.headers['www-authenticate']).toBe(CHALLENGE);
      });

      it('passes a token bound to the resource with the scope, and the app sees who called', async () => {
        const seen = echo!.seen.length;
        const res = await call({ authorization: `Bearer ${await token({ scope: 'mcp:tools' })}` });
        expect(res.status, res.body).toBe(200);
        expect(echo!.seen.slice(seen)[0]?.headers).toMatchObject({
          'x-user-id': 'agent-1',
          'x-auth-method': 'jwt',
        });
      });

      it('refuses a token for another audience with error="invalid_token"', async () => {
        const res = await call({
          authorization: `Bearer ${await token({ aud: 'https://api.example.com', scope: 'mcp:tools' })}`,
        });
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe(
          `${CHALLENGE}, error="invalid_token", error_description="the token is not meant for this audience"`,
        );
      });

      it('passes the 403 insufficient_scope challenge on to the client', async () => {
        const res = await call({ authorization: `Bearer ${await token({ scope: 'openid' })}` });
        expect(res.status).toBe(403);
        expect(res.headers['www-authenticate']).toBe(
          `Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="https://${APP_HOST}${METADATA}"`,
        );
        expect(res.json()).toEqual({
          error: 'forbidden',
          reason: 'insufficient_scope',
          required: ['mcp:tools'],
        });
        // Any other 403 has none (nginx sends no header for an empty value).
        const roles = await call({
          authorization: `Bearer ${await token({ scope: 'mcp:tools', groups: [] })}`,
        });
        expect(roles.status).toBe(403);
        expect(roles.json()).toMatchObject({ reason: 'insufficient_permissions' });
        expect(roles.headers['www-authenticate']).toBeUndefined();
      });
    },
  );
}
