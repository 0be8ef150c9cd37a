// Browser sign-in behind Traefik: what forwardAuth sends (the browser's cookie included) and the recipe's /oauth2/ router.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEPLOY_DIR } from '../e2e/harness/render.js';
import { send } from '../helpers/http.js';
import { traefikAuthRequest, type TraefikClientRequest } from '../helpers/traefik-forward-auth.js';
import { devSignIn, startSignIn, type SignInSetup } from '../oauth2/helpers.js';
import { ifStarted } from '../helpers/hooks.js';

const dynamic = parse(readFileSync(join(DEPLOY_DIR, 'traefik/dynamic.yaml'), 'utf8')).http;
let setup: SignInSetup;
beforeAll(async () => {
  setup = await startSignIn({ devUsers: true });
});
afterAll(() => ifStarted(setup)?.close());

async function viaTraefik(c: Partial<TraefikClientRequest> & { requestUri: string }) {
  const client: TraefikClientRequest = {
    method: 'GET',
    host: 'app.example.com',
    tls: true,
    remoteIp: '203.0.113.7',
    headers: [],
    ...c,
  };
  const auth = traefikAuthRequest(`${setup.w.url}/verify/traefik`, client, {
    trustForwardHeader: false,
    trustedIPs: [],
  });
  return send(`${setup.w.url}/`, {
    method: auth.method,
    rawPath: auth.rawPath,
    headers: auth.headers,
    localAddress: '127.0.0.1',
  });
}

it("the recipe serves /oauth2/ on the app's host from warden, without the warden middleware", () => {
  const router = dynamic.routers['warden-sign-in'];
  expect(router.rule).toBe('Host(`app.example.com`) && PathPrefix(`/oauth2/`)');
  expect(router.middlewares).not.toContain('warden');
  expect(dynamic.services[router.service].loadBalancer.servers[0].url).toBe('http://warden:8080');
  // The app's router sends the browser's headers to warden: authRequestHeaders is not set.
  expect(dynamic.middlewares.warden.forwardAuth.authRequestHeaders).toBeUndefined();
});

it('a browser without a session gets the 302 to sign in; with its session cookie, the session identity', async () => {
  const anonymous = await viaTraefik({
    requestUri: '/nodes/n1?x=1',
    headers: [
      ['Accept', 'text/html'],
      ['Sec-Fetch-Mode', 'navigate'],
    ],
  });
  expect(anonymous.status).toBe(302);
  expect(anonymous.headers.location).toBe(
    `${setup.publicUrl}/oauth2/login?rd=${encodeURIComponent('https://app.example.com/nodes/n1?x=1')}`,
  );
  const { cookie } = await devSignIn(setup, 'viewer', 'viewer-demo-pass');
  const signedIn = await viaTraefik({
    requestUri: '/nodes/n1',
    headers: [
      ['Accept', 'text/html'],
      ['Cookie', `theme=dark; ${cookie}`],
    ],
  });
  expect(signedIn.status).toBe(200);
  expect(signedIn.headers).toMatchObject({
    'x-user-id': 'viewer',
    'x-user-roles': 'viewer',
    'x-auth-method': 'session',
  });
});
