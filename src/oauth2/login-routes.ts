// /oauth2/login, /start and /callback: the sign-in page, the dev form, and the OIDC code flow.
import { createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { DevUsersFile } from '../config/sign-in-schema.js';
import { cookieValues, setCookie } from '../session/cookies.js';
import { newChecks, OidcErrors, ProviderUnavailable } from './oidc.js';
import { errorPage, loginPage } from './pages.js';
import { readForm, requestInfo, type OAuthEnv } from './request.js';
import {
  crossSite,
  csrfCookie,
  csrfPair,
  csrfValid,
  FLOW_TTL_MS,
  html,
  redirect,
  redirectTarget,
  type SignIn,
} from './sign-in.js';

/** The flow cookie of one sign-in attempt is named after its state, so parallel attempts (tabs) do not collide. */
function flowCookieName(state: string): string {
  return `warden_flow_${createHash('sha256').update(state).digest('base64url').slice(0, 12)}`;
}

/** Register the sign-in routes. */
export function loginRoutes(app: Hono<OAuthEnv>, s: SignIn): void {
  const providerList = () => [...s.providers.values()].map((p) => ({ id: p.settings.id, name: p.name }));

  async function showLogin(
    c: Context<OAuthEnv>,
    rd: string,
    status = 200,
    error?: string,
    username?: string,
  ): Promise<Response> {
    const csrf = await csrfPair(s, csrfCookie(c.req.header('cookie')));
    const body = loginPage({
      providers: providerList(),
      dev: s.devUsers.enabled,
      rd,
      csrf: csrf.token,
      signedOut: c.req.query('signed_out') === '1',
      ...(error ? { error } : {}),
      ...(username ? { username } : {}),
    });
    return html(body, status, [csrf.setCookie]);
  }

  app.get('/login', async (c) => {
    const info = requestInfo(c, s);
    const rd = redirectTarget(s, c.req.query('rd'), info.ip);
    // One provider and no dev form: nothing to choose, go straight on.
    if (s.providers.size === 1 && !s.devUsers.enabled && c.req.query('signed_out') !== '1') {
      return redirect(
        `${s.publicUrl}/oauth2/start?provider=${encodeURIComponent([...s.providers.keys()][0]!)}&rd=${encodeURIComponent(rd)}`,
      );
    }
    return showLogin(c, rd);
  });

  app.post('/login', async (c) => {
    const info = requestInfo(c, s);
    if (crossSite(s, c.req.header('origin'), c.req.header('sec-fetch-site'))) {
      s.audit.admin({ event: 'cross_site_refused', endpoint: 'login', clientIp: info.ip });
      return html(
        errorPage(
          'Request refused',
          'This sign-in form was sent from another site. Open the sign-in page yourself and try again.',
        ),
        403,
      );
    }
    if (!s.devUsers.enabled)
      return html(errorPage('Not available', 'Password sign-in is not enabled here.'), 404);
    const form = await readForm(c);
    if (!form)
      return html(
        errorPage('Request refused', 'The form could not be read. Reload the sign-in page and try again.'),
        400,
      );
    if (!(await csrfValid(s, form.csrf, c.req.header('cookie')))) {
      s.audit.admin({ event: 'cross_site_refused', endpoint: 'login', cause: 'csrf', clientIp: info.ip });
      return html(
        errorPage('Request refused', 'This sign-in form has expired. Reload the sign-in page and try again.'),
        403,
      );
    }
    const rd = redirectTarget(s, form.rd, info.ip);
    const runtime = s.state.current;
    const now = s.now();
    const banned = info.address && runtime.bans ? runtime.bans.refusal(info.address, now) : null;
    if (banned) {
      s.audit.admin({ event: 'sign_in_failed', method: 'dev', cause: 'banned', clientIp: info.ip });
      return tooManyAttempts('from your network', banned.retryAfterSec);
    }
    const username = typeof form.username === 'string' ? form.username.trim().toLowerCase().slice(0, 64) : '';
    const userBanned = runtime.bans?.spec.enabled ? await s.userBans.banned(username, now) : 0;
    if (userBanned > 0) {
      s.audit.admin({
        event: 'sign_in_failed',
        method: 'dev',
        cause: 'user_banned',
        user: username,
        clientIp: info.ip,
      });
      return tooManyAttempts('for this account', userBanned);
    }
    const user = await s.devUsers.check(username, typeof form.password === 'string' ? form.password : '');
    if (!user) {
      if (info.address && runtime.bans) await runtime.bans.recordFailure(info.address, 'unknown', now);
      if (runtime.bans) await s.userBans.recordFailure(username, runtime.bans.spec, now);
      s.audit.admin({
        event: 'sign_in_failed',
        method: 'dev',
        cause: 'bad_password',
        user: username.slice(0, 64),
        clientIp: info.ip,
      });
      return showLogin(c, rd, 401, 'Wrong username or password. Check both and try again.', username);
    }
    return startSession(s, user, rd, info.ip);
  });

  app.get('/start', async (c) => {
    const info = requestInfo(c, s);
    const provider = s.providers.get(c.req.query('provider') ?? '');
    if (!provider)
      return html(
        errorPage(
          'Unknown sign-in method',
          'This sign-in link names a provider that is not configured here.',
        ),
        400,
      );
    const rd = redirectTarget(s, c.req.query('rd'), info.ip);
    const checks = newChecks();
    let url: URL;
    try {
      url = await provider.authorizationUrl(s.callbackUrl, checks);
    } catch (e) {
      if (!(e instanceof ProviderUnavailable)) throw e;
      return html(
        errorPage(
          'Sign-in unavailable',
          `${provider.name} cannot be reached right now. Try again in a minute.`,
        ),
        503,
      );
    }
    const sealed = await s.flowSealer.seal(
      { p: provider.settings.id, s: checks.state, n: checks.nonce, v: checks.verifier, rd },
      s.now() + FLOW_TTL_MS,
    );
    const flow = setCookie(s.sessions.cookies, flowCookieName(checks.state), sealed, {
      maxAgeSec: FLOW_TTL_MS / 1000,
      path: '/oauth2/callback',
    });
    return redirect(url.toString(), [flow]);
  });

  app.get('/callback', async (c) => {
    const info = requestInfo(c, s);
    const state = c.req.query('state');
    const failed = (
      cause: string,
      status: number,
      title: string,
      message: string,
      extra: Record<string, unknown> = {},
    ) => {
      s.audit.admin({ event: 'sign_in_failed', method: 'oidc', cause, clientIp: info.ip, ...extra });
      return html(errorPage(title, message), status);
    };
    if (!state || state.length > 512)
      return failed(
        'missing_state',
        400,
        'Sign-in link not valid',
        'This sign-in response is incomplete. Start signing in again.',
      );
    const name = flowCookieName(state);
    const values = cookieValues(c.req.header('cookie'), name);
    const flow = values.length === 1 ? await s.flowSealer.unseal(values[0]!, s.now()) : null;
    if (
      !flow ||
      flow.s !== state ||
      typeof flow.p !== 'string' ||
      typeof flow.n !== 'string' ||
      typeof flow.v !== 'string' ||
      typeof flow.rd !== 'string'
    ) {
      return failed(
        'bad_state',
        400,
        'Sign-in link not valid',
        'This sign-in response does not belong to this browser, or it has expired. Start signing in again.',
      );
    }
    const clear = setCookie(s.sessions.cookies, name, '', { maxAgeSec: 0, path: '/oauth2/callback' });
    const provider = s.providers.get(flow.p);
    if (!provider)
      return failed(
        'unknown_provider',
        400,
        'Sign-in link not valid',
        'The sign-in method of this attempt is no longer configured. Start signing in again.',
      );
    // One use per state, across replicas: a replayed callback gets no second session.
    if (!(await s.usedStates.claim(createHash('sha256').update(state).digest('base64url'), FLOW_TTL_MS))) {
      return failed(
        'state_reused',
        400,
        'Sign-in link already used',
        'This sign-in response was already used. Start signing in again.',
        { provider: provider.settings.id },
      );
    }
    let result: Awaited<ReturnType<typeof provider.exchange>>;
    try {
      result = await provider.exchange(new URL(`${s.callbackUrl}${info.search}`), {
        state,
        nonce: flow.n,
        verifier: flow.v,
      });
    } catch (e) {
      const p = { provider: provider.settings.id };
      if (e instanceof OidcErrors.AuthorizationResponseError)
        return failed(
          'provider_refused',
          403,
          'Sign-in refused',
          `${provider.name} did not sign you in (${e.error}). Try again, or contact your administrator if you should have access.`,
          { ...p, error: e.error },
        );
      if (e instanceof ProviderUnavailable)
        return failed(
          'provider_unavailable',
          503,
          'Sign-in unavailable',
          `${provider.name} cannot be reached right now. Try again in a minute.`,
          p,
        );
      if (e instanceof OidcErrors.ResponseBodyError)
        return failed(
          'token_refused',
          400,
          'Sign-in failed',
          `${provider.name} refused to complete the sign-in. Start signing in again.`,
          { ...p, error: e.error },
        );
      if (e instanceof OidcErrors.ClientError)
        return failed(
          'bad_id_token',
          400,
          'Sign-in could not be verified',
          `The answer from ${provider.name} could not be verified. Start signing in again; if it keeps failing, contact your administrator.`,
          { ...p, code: e.code ?? 'unknown' },
        );
      return failed(
        'provider_unavailable',
        502,
        'Sign-in unavailable',
        `${provider.name} could not be reached. Try again in a minute.`,
        p,
      );
    }
    const now = s.now();
    const sessionData = {
      provider: provider.settings.id,
      sub: String(result.claims.sub),
      claims: result.claims,
      ...(typeof result.claims.sid === 'string' ? { idpSid: result.claims.sid } : {}),
      ...(result.refreshToken ? { refreshToken: await s.sessions.sealSecret(result.refreshToken, now) } : {}),
      ...(result.idToken ? { idToken: await s.sessions.sealSecret(result.idToken, now) } : {}),
    };
    const created = await s.sessions.create(sessionData, now);
    s.audit.admin({
      event: 'sign_in',
      method: 'oidc',
      provider: provider.settings.id,
      sub: sessionData.sub,
      clientIp: info.ip,
    });
    return redirect(flow.rd, [clear, created.setCookie]);
  });
}

/** 429 page with Retry-After for a banned client IP or user name. */
function tooManyAttempts(whose: string, seconds: number): Response {
  const res = html(
    errorPage(
      'Too many attempts',
      `Too many failed sign-ins ${whose}. Wait ${seconds} seconds, then try again.`,
      null,
    ),
    429,
  );
  res.headers.set('retry-after', String(seconds));
  return res;
}

/** Start a dev user's session and continue to `rd`. */
async function startSession(
  s: SignIn,
  user: DevUsersFile['users'][number],
  rd: string,
  ip: string | null,
): Promise<Response> {
  const created = await s.sessions.create(
    { provider: 'dev', sub: user.username, roles: [...user.roles], name: user.name, email: user.email },
    s.now(),
  );
  s.audit.admin({ event: 'sign_in', method: 'dev', provider: 'dev', sub: user.username, clientIp: ip });
  return redirect(rd, [created.setCookie], 303);
}
