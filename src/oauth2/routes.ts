// The /oauth2 Hono routes: sign-in (login-routes.ts), sign-out, userinfo, public config, back-channel logout.
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { claimsMapping } from '../auth/claims.js';
import { AuthError } from '../auth/errors.js';
import { sessionIdentity, type OpenSession } from '../session/sessions.js';
import { verifyLogoutToken } from './backchannel.js';
import { loginRoutes } from './login-routes.js';
import { errorPage, logoutPage } from './pages.js';
import { MAX_FORM_BYTES, readForm, requestInfo, type OAuthEnv } from './request.js';
import { crossSite, csrfCookie, csrfPair, csrfValid, html, redirect, type SignIn } from './sign-in.js';

const JSON_HEADERS = { 'cache-control': 'no-store' };

/** The /oauth2 application. */
export function oauth2Routes(s: SignIn): Hono<OAuthEnv> {
  const app = new Hono<OAuthEnv>();
  // A chunked body without Content-Length is cut off too, not read whole.
  app.post(
    '*',
    bodyLimit({
      maxSize: MAX_FORM_BYTES,
      onError: (c) =>
        c.html(
          errorPage('Request too large', 'The form sent was too large. Reload the page and try again.'),
          413,
        ),
    }),
  );
  loginRoutes(app, s);
  app.get('/logout', (c) => logoutForm(s, c));
  app.post('/logout', (c) => logout(s, c));
  app.get('/userinfo', (c) => userinfo(s, c));
  app.get('/config', (c) => publicConfig(s, c));
  app.post('/backchannel-logout', (c) => backchannelLogout(s, c));
  app.notFound(() => html(errorPage('Page not found', 'There is no sign-in page at this address.'), 404));
  app.onError(() =>
    html(
      errorPage('Something went wrong', 'warden could not complete this step. Try again in a moment.'),
      500,
    ),
  );
  return app;
}

/** GET /logout: the sign-out page, naming who is signed in when the session is readable. */
async function logoutForm(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const open = await s.sessions.open(c.req.header('cookie'), s.now()).catch(() => null);
  const who =
    open && !(open instanceof AuthError)
      ? open.record.name || open.record.claims?.name || open.record.sub
      : null;
  const csrf = await csrfPair(s, csrfCookie(c.req.header('cookie')));
  return html(logoutPage({ csrf: csrf.token, who: typeof who === 'string' ? who : null }), 200, [
    csrf.setCookie,
  ]);
}

/** POST /logout: end the session (and at the provider, when it supports that), then back to sign-in. */
async function logout(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const info = requestInfo(c, s);
  const form = await readForm(c);
  if (
    crossSite(s, c.req.header('origin'), c.req.header('sec-fetch-site')) ||
    !form ||
    !(await csrfValid(s, form.csrf, c.req.header('cookie')))
  ) {
    s.audit.admin({ event: 'cross_site_refused', endpoint: 'logout', clientIp: info.ip });
    return html(
      errorPage(
        'Request refused',
        'This sign-out form was sent from another site or has expired. Open the sign-out page yourself and try again.',
        { href: 'logout', label: 'Go to sign-out' },
      ),
      403,
    );
  }
  const now = s.now();
  const open = await s.sessions.open(c.req.header('cookie'), now);
  const signedOut = `${s.publicUrl}/oauth2/login?signed_out=1`;
  const next =
    open && !(open instanceof AuthError)
      ? await endSession(s, open, { now, signedOut, ip: info.ip })
      : signedOut;
  return redirect(next, [s.sessions.clearCookie()], 303);
}

/** End an open session; resolves to where the browser goes next: the provider's end-session URL, else `signedOut`. */
async function endSession(
  s: SignIn,
  open: OpenSession,
  o: { now: number; signedOut: string; ip: string | null },
): Promise<string> {
  await s.sessions.end(open.key);
  s.audit.admin({ event: 'sign_out', provider: open.record.provider, sub: open.record.sub, clientIp: o.ip });
  const provider = s.providers.get(open.record.provider);
  const idToken = open.record.idToken ? await s.sessions.unsealSecret(open.record.idToken, o.now) : undefined;
  const idp = provider ? await provider.endSessionUrl(o.signedOut, idToken) : null;
  return idp ?? o.signedOut;
}

/** GET /userinfo: the session's identity as JSON, or 401. */
async function userinfo(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const open = await s.sessions.open(c.req.header('cookie'), s.now());
  if (!open || open instanceof AuthError)
    return c.json({ error: 'unauthorized', reason: 'no_session' }, 401, JSON_HEADERS);
  const id = sessionIdentity(open.record, claimsMapping(s.state.current.docs.policy), s.sources);
  if (id instanceof AuthError)
    return c.json({ error: 'unauthorized', reason: 'no_session' }, 401, JSON_HEADERS);
  return c.json(
    {
      sub: id.sub,
      name: id.name,
      email: id.email,
      roles: id.roles,
      method: 'session',
      provider: open.record.provider,
      expiresAt: new Date(open.record.expiresAt).toISOString(),
    },
    200,
    JSON_HEADERS,
  );
}

/** GET /config: the public sign-in URLs and providers, for applications that build their own sign-in links. */
function publicConfig(s: SignIn, c: Context<OAuthEnv>): Response {
  return c.json(
    {
      loginUrl: s.loginUrl,
      logoutUrl: `${s.publicUrl}/oauth2/logout`,
      userinfoUrl: `${s.publicUrl}/oauth2/userinfo`,
      providers: [...s.providers.values()].map((p) => ({
        id: p.settings.id,
        name: p.name,
        startUrl: `${s.publicUrl}/oauth2/start?provider=${encodeURIComponent(p.settings.id)}`,
      })),
      devUsers: s.devUsers.enabled,
    },
    200,
    { 'cache-control': 'public, max-age=60' },
  );
}

/** POST /backchannel-logout: a provider's logout token ends the sessions it names. */
async function backchannelLogout(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const form = await readForm(c);
  const outcome = form?.logout_token
    ? await verifyLogoutToken(s, form.logout_token)
    : { error: 'missing logout_token' };
  if ('error' in outcome) {
    s.audit.admin({ event: 'backchannel_logout', outcome: 'refused', cause: outcome.error });
    return c.json({ error: 'invalid_request' }, 400, JSON_HEADERS);
  }
  s.audit.admin({
    event: 'backchannel_logout',
    outcome: 'ended',
    provider: outcome.provider,
    by: outcome.by,
    sub: outcome.sub ?? null,
  });
  return c.body(null, 200, JSON_HEADERS);
}
