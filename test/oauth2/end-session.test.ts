// Sign-out that continues to the IdP's end-session endpoint (RP-initiated logout), when the provider asks for it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { logout, signIn, startSignIn, USERS, verifyAs, type SignInSetup } from './helpers.js';

let setup: SignInSetup;
beforeAll(async () => {
  setup = await startSignIn({ provider: { endSession: true } });
});
afterAll(async () => {
  await setup?.close();
});

it('ends the warden session, then sends the browser to the IdP with the ID token hint and the way back', async () => {
  const { cookie } = await signIn(setup, USERS.alice);
  const idToken = setup.idp.lastIdTokenClaims();
  const out = await logout(setup, cookie!);
  expect(out.status).toBe(303);
  const to = new URL(String(out.headers.location));
  expect(`${to.origin}${to.pathname}`).toBe(`${setup.idp.issuer}/session/end`);
  expect(to.searchParams.get('client_id')).toBe('warden-web');
  expect(to.searchParams.get('post_logout_redirect_uri')).toBe(`${setup.publicUrl}/oauth2/login?signed_out=1`);
  const hint = to.searchParams.get('id_token_hint')!;
  expect(JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()).sid).toBe(idToken!.sid);
  // The IdP accepts the request (it shows its own sign-out confirmation).
  const idp = await fetch(to, { redirect: 'manual' });
  expect(idp.status).toBe(200);
  expect((await verifyAs(setup, { cookie: cookie!, accept: 'application/json' })).status).toBe(401);
});
