// Sign-out that continues to the IdP's end-session endpoint (RP-initiated logout), when the provider asks for it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { signInWithoutBrowser } from '../helpers/oidc.js';
import {
  beginSignIn,
  logout,
  setCookies,
  signIn,
  signInPolicy,
  startSignIn,
  USERS,
  verifyAs,
  type SignInSetup,
} from './helpers.js';
import { ifStarted } from '../helpers/hooks.js';

let setup: SignInSetup;
beforeAll(async () => {
  // With an extra identity header from an ID token claim (the policy's headers.extra).
  setup = await startSignIn({
    provider: { endSession: true },
    policy: { ...signInPolicy(), headers: { extra: { 'X-Login-Email': 'email' } } },
  });
});
afterAll(async () => {
  await ifStarted(setup)?.close();
});

it('ends the warden session, then sends the browser to the IdP with the ID token hint and the way back', async () => {
  const { cookie } = await signIn(setup, USERS.alice);
  const idToken = setup.idp.lastIdTokenClaims();
  expect((await verifyAs(setup, { cookie: cookie! })).headers['x-login-email']).toBe('alice@example.com');
  const out = await logout(setup, cookie!);
  expect(out.status).toBe(303);
  const to = new URL(String(out.headers.location));
  expect(`${to.origin}${to.pathname}`).toBe(`${setup.idp.issuer}/session/end`);
  expect(to.searchParams.get('client_id')).toBe('warden-web');
  expect(to.searchParams.get('post_logout_redirect_uri')).toBe(
    `${setup.publicUrl}/oauth2/login?signed_out=1`,
  );
  const hint = to.searchParams.get('id_token_hint')!;
  expect(JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()).sid).toBe(idToken!.sid);
  // The IdP accepts the request (it shows its own sign-out confirmation).
  const idp = await fetch(to, { redirect: 'manual' });
  expect(idp.status).toBe(200);
  expect((await verifyAs(setup, { cookie: cookie!, accept: 'application/json' })).status).toBe(401);
});

it('signing out at the IdP ends the warden session through the IdP back-channel logout', async () => {
  const jar = new Map<string, string>();
  const { authorizationUrl, flowCookie } = await beginSignIn(setup);
  const callback = await signInWithoutBrowser(
    authorizationUrl,
    `${setup.publicUrl}/oauth2/callback`,
    USERS.bob,
    jar,
  );
  const res = await send(callback, { headers: { cookie: flowCookie } });
  const cookie = `warden=${setCookies(res).get('warden')}`;
  expect((await verifyAs(setup, { cookie })).headers['x-user-id']).toBe('bob');
  // Bob signs out at the IdP itself (its own confirmation form).
  const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const page = await fetch(`${setup.idp.issuer}/session/end`, { headers: { cookie: cookies() } });
  const html = await page.text();
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
  const action = /action="([^"]+)"/.exec(html)![1]!;
  const confirm = await fetch(new URL(action, setup.idp.issuer), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
  });
  expect(confirm.status).toBe(303);
  // The IdP has posted a logout token naming Bob's IdP session to warden before answering.
  expect(
    setup.w.audit.some(
      (l) => l.event === 'backchannel_logout' && l.outcome === 'ended' && l.by === 'sid' && l.sub === 'bob',
    ),
  ).toBe(true);
  expect((await verifyAs(setup, { cookie, accept: 'application/json' })).status).toBe(401);
});
