// A provider that cannot be discovered: logged for operators, a "try again" page for people, no crash.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../e2e/harness/net.js';
import { send } from '../helpers/http.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import { SECRET, signInPolicy } from './helpers.js';
import { ifStarted } from '../helpers/hooks.js';

let w: TestWarden;
beforeAll(async () => {
  const nobody = await freePort();
  w = await startWarden({
    policy: signInPolicy(),
    env: {
      WARDEN_PUBLIC_URL: 'http://127.0.0.1:9',
      WARDEN_SESSION_SECRET: SECRET,
      WARDEN_OIDC_PROVIDERS: JSON.stringify([
        {
          id: 'down',
          name: 'Acme SSO',
          issuer: `http://127.0.0.1:${nobody}`,
          clientId: 'c',
          clientSecret: 'secret-not-logged',
        },
      ]),
    },
  });
});
afterAll(() => ifStarted(w)?.close());

it('logs the failed discovery without secrets and answers sign-in attempts with a 503 page', async () => {
  for (let i = 0; i < 40 && !w.ops.some((l) => l.event === 'oidc_discovery_failed'); i++)
    await new Promise((r) => setTimeout(r, 50));
  const line = w.ops.find((l) => l.event === 'oidc_discovery_failed');
  expect(line).toMatchObject({ provider: 'down', level: 40 });
  expect(JSON.stringify(w.ops)).not.toContain('secret-not-logged');
  const res = await send(`${w.url}/oauth2/start?provider=down&rd=/`);
  expect(res.status).toBe(503);
  expect(res.body).toContain('Acme SSO cannot be reached right now. Try again in a minute.');
  expect((await send(`${w.url}/healthz`)).status).toBe(200);
  // Readiness reports it without taking warden out of service: keys, tokens and sessions still work.
  const ready = await send(`${w.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(JSON.parse(ready.body).details.oidc).toBe('sign-in unavailable until discovered: down');
});
