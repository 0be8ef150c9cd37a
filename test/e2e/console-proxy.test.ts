// The web console behind the nginx and Caddy recipes (WARDEN_CONSOLE=true): /console/ goes straight to
// warden, which checks access itself; sign-in on the app's host, CSP, assets, an unbuffered live feed.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../../src/console/routes.js';
import { KEYS, page, signIn, startConsole, type ConsoleSetup } from '../console/helpers.js';
import { send as sendUrl } from '../helpers/http.js';
import { ifStarted } from '../helpers/hooks.js';
import { CADDY_BIN, startCaddy } from './harness/caddy.js';
import { startEcho, type Echo } from './harness/echo.js';
import {
  IDENTITY_HEADERS,
  METHOD_OVERRIDE_HEADERS,
  OTHER_PRESET_HEADERS,
  ROUTING_HEADERS,
  spellings,
} from './harness/fixture.js';
import { CLIENT_ADDRESS, freePort, openEventStream, send } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import type { Proxy } from './harness/proxy.js';
import { expectNoSecrets, keySecrets } from './harness/secrets.js';

/** The site the proxy serves in these tests: a loopback URL, so that the console's helpers reach it as a browser would. */
const SITE_HOST = '127.0.0.1';

/** Start the recipe of `kind` serving SITE_HOST, with warden and the app at the given ports. */
function startRecipe(kind: 'nginx' | 'caddy', wardenPort: number, upstreamPort: number): Promise<Proxy> {
  return kind === 'nginx'
    ? startNginx({ wardenPort, upstreamPort, serverName: SITE_HOST })
    : startCaddy({
        wardenPort,
        upstreamPort,
        env: (port) => ({ WARDEN_SITE: `http://${SITE_HOST}:${port}` }),
      });
}

for (const [kind, bin] of [
  ['nginx', NGINX_BIN],
  ['caddy', CADDY_BIN],
] as const) {
  describeNeeding(
    `the web console behind the ${kind} recipe (e2e)`,
    bin
      ? null
      : `${kind} is not installed: the console-through-${kind} tests cannot run (apt-get install ${kind})`,
    () => {
      let echo: Echo;
      let proxy: Proxy;
      let s: ConsoleSetup;
      /** The console as the browser reaches it: through the proxy, on the app's site. */
      let site: ConsoleSetup;
      /** The same recipe with the echo app standing in for warden: what the recipe forwards on /console/. */
      let probe: Proxy;
      const secrets = keySecrets(...Object.values(KEYS));

      beforeAll(async () => {
        echo = await startEcho();
        const wardenPort = await freePort();
        proxy = await startRecipe(kind, wardenPort, echo.port);
        const url = `http://${SITE_HOST}:${proxy.port}`;
        s = await startConsole({ env: { PORT: String(wardenPort), WARDEN_PUBLIC_URL: url } });
        site = { ...s, url };
        probe = await startRecipe(kind, echo.port, echo.port);
      });

      afterAll(async () => {
        await ifStarted(probe)?.stop();
        await ifStarted(proxy)?.stop();
        await ifStarted(echo)?.close();
        const setup = ifStarted(s);
        if (!setup) return;
        try {
          expectNoSecrets({ ...setup.w, auditFile: setup.auditFile }, secrets, 3);
        } finally {
          await setup.close();
        }
      });

      const viewerOf = (body: string) => /<p class="who">([^<]*)/.exec(body)?.[1];

      it("sends a browser without a session to sign in on the app's host, and back to the console page", async () => {
        const path = '/console/audit?decision=forbidden';
        const anonymous = await page(site, path);
        expect(anonymous.status, proxy.log().slice(-2000)).toBe(302);
        expect(anonymous.headers.location).toBe(`${site.url}/oauth2/login?rd=${encodeURIComponent(path)}`);
        // An API client gets 401, not a redirect.
        const api = await sendUrl(`${site.url}/console/`, { headers: { accept: 'application/json' } });
        expect(api.status).toBe(401);
        expect(api.headers.location).toBeUndefined();

        // Sign in through the proxy's /oauth2/ route, as a person does, and come back.
        const signedIn = await signIn(site, 'admin', path);
        secrets.push(signedIn.session);
        expect(new URL(signedIn.location, site.url).toString()).toBe(`${site.url}${path}`);
        const res = await page(site, path, signedIn.cookie);
        expect(res.status, res.body.slice(0, 300)).toBe(200);
        expect(viewerOf(res.body)).toBe('admin user (admin) · ');
        expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      });

      it("serves the console to an API key granting warden:console, with warden's CSP, and every asset it loads", async () => {
        const res = await page(site, '/console/', undefined, { 'x-api-key': KEYS.watcher.key });
        expect(res.status, res.body.slice(0, 300)).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
        // warden's own security headers, once each: not repeated (nor weakened) by the proxy's.
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.headers['referrer-policy']).toBe('same-origin');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
        expect(viewerOf(res.body)).toBe('watch-1 (read only)');
        const assets = [...res.body.matchAll(/(?:src|href)="(\/console\/assets\/[^"]+)"/g)].map((m) => m[1]!);
        // The overview loads the chart library, its stylesheet, the console's stylesheet and script.
        expect(assets.length).toBeGreaterThanOrEqual(4);
        for (const asset of assets) {
          const got = await page(site, asset);
          expect(got.status, asset).toBe(200);
          expect(got.headers['content-type'], asset).toMatch(/^text\/(css|javascript)/);
          expect(got.body.length, asset).toBeGreaterThan(100);
        }
        // Not through auth_request / forward_auth: the console itself refuses a key without the permission.
        const dev = await page(site, '/console/', undefined, { 'x-api-key': KEYS.dev.key });
        expect(dev.status).toBe(403);
      });

      it('streams live decisions through the proxy as they happen, the connection staying open', async () => {
        const live = await openEventStream(proxy.port, '/console/events', {
          host: `${SITE_HOST}:${proxy.port}`,
          'x-api-key': KEYS.watcher.key,
        });
        try {
          expect(live.status).toBe(200);
          expect(live.headers['content-type']).toMatch(/^text\/event-stream/);
          // warden asks any nginx not to buffer the feed; nginx takes X-Accel-* for itself, Caddy passes it on.
          expect(live.headers['x-accel-buffering']).toBe(kind === 'nginx' ? undefined : 'no');
          // The first event arrives while the stream is open: a buffering proxy would hold it back.
          await live.next((e) => e.startsWith('event: hello'));
          expect(live.ended()).toBe(false);
          // A decision made for a request through the same proxy reaches the open feed.
          const app = await send(proxy.port, '/api/live', {
            headers: { host: `${SITE_HOST}:${proxy.port}`, 'x-api-key': KEYS.dev.key },
          });
          expect(app.status, app.body).toBe(200);
          const ev = await live.next((e) => e.startsWith('event: decision') && e.includes('/api/live'));
          expect(JSON.parse(ev.slice(ev.indexOf('data: ') + 6))).toMatchObject({
            path: '/api/live',
            status: 200,
            identity: 'dev-1',
            decision: 'allow',
          });
          expect(live.ended()).toBe(false);
        } finally {
          live.close();
        }
      });

      it('a client-sent X-User-ID or X-Forwarded-For does not change who the console serves', async () => {
        const forged = {
          'x-user-id': 'ops-1',
          'x-user-roles': 'ops',
          'x-auth-method': 'api_key',
          'x-forwarded-for': '6.6.6.6',
          'x-real-ip': '6.6.6.6',
        };
        const watcher = await page(site, '/console/', undefined, {
          'x-api-key': KEYS.watcher.key,
          ...forged,
        });
        expect(watcher.status).toBe(200);
        expect(viewerOf(watcher.body)).toBe('watch-1 (read only)');
        // No credential but the forged headers: nobody, sent to sign in.
        const nobody = await page(site, '/console/', undefined, forged);
        expect(nobody.status).toBe(302);
        expect(String(nobody.headers.location)).toMatch(new RegExp(`^${site.url}/oauth2/login\\?rd=`));
        // A key without the permission stays that key, seen from the proxy's connection, not from 6.6.6.6.
        const mark = s.w.audit.length;
        const dev = await page(site, '/console/keys', undefined, { 'x-api-key': KEYS.dev.key, ...forged });
        expect(dev.status).toBe(403);
        expect(s.w.audit.slice(mark)).toContainEqual(
          expect.objectContaining({ event: 'admin_denied', sub: 'dev-1', peer: '127.0.0.1' }),
        );
      });

      it('forwards the credentials to warden and clears on /console/ what the recipe clears toward the app', async () => {
        const forged: Record<string, string> = {};
        for (const name of [
          ...IDENTITY_HEADERS,
          'X-Warden-Assertion',
          ...METHOD_OVERRIDE_HEADERS,
          ...ROUTING_HEADERS,
          ...OTHER_PRESET_HEADERS,
        ])
          for (const spelled of spellings(name)) forged[spelled] = 'forged';
        const before = echo.seen.length;
        const res = await send(probe.port, '/console/events?x=1', {
          method: 'POST',
          headers: {
            host: `${SITE_HOST}:${probe.port}`,
            'content-length': '0',
            'x-api-key': 'the-key',
            authorization: 'Bearer the-token',
            cookie: 'warden=the-session',
            'x-forwarded-for': '198.51.100.1',
            ...forged,
          },
        });
        expect(res.status, res.body).toBe(200);
        const seen = echo.seen.slice(before);
        expect(seen).toHaveLength(1);
        // Straight to "warden" (here the echo), never through the auth subrequest first.
        expect(seen[0]!.url).toBe('/console/events?x=1');
        expect(seen[0]!.method).toBe('POST');
        const raw = seen[0]!.rawHeaders;
        for (let i = 0; i < raw.length; i += 2) expect(raw[i + 1], `warden got ${raw[i]}`).not.toBe('forged');
        expect(seen[0]!.headers).toMatchObject({
          'x-api-key': 'the-key',
          authorization: 'Bearer the-token',
          cookie: 'warden=the-session',
          'x-forwarded-for': CLIENT_ADDRESS,
        });
      });
    },
  );
}
