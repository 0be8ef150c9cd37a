// Roles refreshed with the IdP's refresh token on an interval; a refresh the IdP refuses ends the session.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FakeClock } from '../helpers/clock.js';
import { signIn, startSignIn, USERS, verifyAs, type SignInSetup } from './helpers.js';
import { ifStarted } from '../helpers/hooks.js';

let setup: SignInSetup;
/** warden's clock: the refresh interval passes when the test says so. */
const clock = new FakeClock();
beforeAll(async () => {
  setup = await startSignIn({ env: { WARDEN_SESSION_REFRESH: '1s' }, clock });
});
afterAll(async () => {
  await ifStarted(setup)?.close();
});

async function rolesEventually(cookie: string, want: string | number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const r = await verifyAs(setup, { cookie, accept: 'application/json' });
    last = typeof want === 'number' ? r.status : r.headers['x-user-roles'];
    if (last === want) return;
    await new Promise((done) => setTimeout(done, 150));
  }
  throw new Error(`expected ${want}, last saw ${String(last)}`);
}

it('picks up new IdP groups after the refresh interval, and ends the session when the IdP refuses the refresh', async () => {
  const bob = USERS.bob;
  const groups = bob.groups;
  try {
    const { cookie } = await signIn(setup, bob);
    expect((await verifyAs(setup, { cookie: cookie! })).headers['x-user-roles']).toBe('viewer');
    // An administrator adds Bob to the developers group at the IdP.
    bob.groups = ['idp-devs'];
    expect((await verifyAs(setup, { cookie: cookie! })).headers['x-user-roles']).toBe('viewer');
    clock.advance(1100);
    await rolesEventually(cookie!, 'developer');
    // The IdP revokes the grant: the next refresh is refused and the session ends.
    setup.idp.refuseTokenRequests(true);
    clock.advance(1100);
    await rolesEventually(cookie!, 401);
    expect(
      setup.w.audit.some(
        (l) => l.event === 'session_ended' && l.cause === 'refresh_refused' && l.sub === 'bob',
      ),
    ).toBe(true);
  } finally {
    bob.groups = groups;
    setup.idp.refuseTokenRequests(false);
  }
});
