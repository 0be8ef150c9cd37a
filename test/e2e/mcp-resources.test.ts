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
    },
  );
}
