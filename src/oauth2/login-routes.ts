// /oauth2/login, /start and /callback: the sign-in page, the dev form, and the OIDC code flow.
import { createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import type { DevUsersFile } from '../config/sign-in-schema.js';
import type { Bans } from '../limits/bans.js';
import { cookieValues, setCookie } from '../session/cookies.js';
import { AuthError } from '../auth/errors.js';
import { authnFacts } from '../auth/authn-facts.js';
import { unmetAuthn, type StepUpCause } from '../policy/step-up.js';
import { newChecks, OidcErrors, ProviderUnavailable, type OidcProvider, type StepUpRequest } from './oidc.js';
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

/** Register the sign-in routes. */
export function loginRoutes(app: Hono<OAuthEnv>, s: SignIn): void {
  app.get('/login', (c) => loginForm(s, c));
  app.post('/login', (c) => devLogin(s, c));
  app.get('/start', (c) => start(s, c));
  app.get('/callback', (c) => callback(s, c));
}

/** The flow cookie of one sign-in attempt is named after its state, so parallel attempts (tabs) do not collide. */
function flowCookieName(state: string): string {
  return `warden_flow_${createHash('sha256').update(state).digest('base64url').slice(0, 12)}`;
}

/** GET /login: the sign-in page, or straight on to the only provider when there is nothing to choose. */
async function loginForm(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const info = requestInfo(c, s);
  const rd = redirectTarget(s, c.req.query('rd'), info.ip);
  // One provider and no dev form: nothing to choose, go straight on.
  const only = s.providers.size === 1 && !s.devUsers.enabled ? s.providers.keys().next().value : undefined;
  if (only !== undefined && c.req.query('signed_out') !== '1')
    return redirect(
      `${s.publicUrl}/oauth2/start?provider=${encodeURIComponent(only)}&rd=${encodeURIComponent(rd)}`,
    );
  return showLogin(s, c, rd);
}

/** The sign-in page (with a fresh CSRF token); `failed` shows the dev form's error and keeps the user name. */
async function showLogin(
  s: SignIn,
  c: Context<OAuthEnv>,
  rd: string,
  failed?: { status: number; error: string; username: string },
): Promise<Response> {
  const csrf = await csrfPair(s, csrfCookie(c.req.header('cookie')));
  const body = loginPage({
    providers: [...s.providers.values()].map((p) => ({ id: p.settings.id, name: p.name })),
    dev: s.devUsers.enabled,
    rd,
    csrf: csrf.token,
    signedOut: c.req.query('signed_out') === '1',
    ...(failed?.error ? { error: failed.error } : {}),
    ...(failed?.username ? { username: failed.username } : {}),
  });
  return html(body, failed?.status ?? 200, [csrf.setCookie]);
}

/** POST /login: the dev form, checked in turn for origin and CSRF, bans, then the password. */
async function devLogin(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const info = requestInfo(c, s);
  const form = await devForm(s, c, info.ip);
  if (form instanceof Response) return form;
  const rd = redirectTarget(s, form.rd, info.ip);
  const bans = s.state.current.bans;
  const now = s.now();
  const username = typeof form.username === 'string' ? form.username.trim().toLowerCase().slice(0, 64) : '';
  const refused = await banRefusal(s, { bans, now, info, username });
  if (refused) return refused;
  const user = await s.devUsers.check(username, typeof form.password === 'string' ? form.password : '');
  if (user) return startSession(s, user, rd, info.ip, c.req.header('cookie'));
  if (info.address && bans) await bans.recordFailure(info.address, 'unknown', now);
  if (bans) await s.userBans.recordFailure(username, bans.spec, now);
  s.audit.admin({
    event: 'sign_in_failed',
    method: 'dev',
    cause: 'bad_password',
    user: username.slice(0, 64),
    clientIp: info.ip,
  });
  const error = 'Wrong username or password. Check both and try again.';
  return showLogin(s, c, rd, { status: 401, error, username });
}

/** The fields of a dev form that may be checked, or the page refusing it (another site, disabled, unreadable, expired). */
async function devForm(
  s: SignIn,
  c: Context<OAuthEnv>,
  clientIp: string | null,
): Promise<Record<string, string> | Response> {
  if (crossSite(s, c.req.header('origin'), c.req.header('sec-fetch-site'))) {
    s.audit.admin({ event: 'cross_site_refused', endpoint: 'login', clientIp });
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
    s.audit.admin({ event: 'cross_site_refused', endpoint: 'login', cause: 'csrf', clientIp });
    return html(
      errorPage('Request refused', 'This sign-in form has expired. Reload the sign-in page and try again.'),
      403,
    );
  }
  return form;
}

/** The 429 page when the client's network or the user name is banned for failed sign-ins, else null. */
async function banRefusal(
  s: SignIn,
  a: { bans: Bans | null; now: number; info: ReturnType<typeof requestInfo>; username: string },
): Promise<Response | null> {
  const banned = a.info.address && a.bans ? a.bans.refusal(a.info.address, a.now) : null;
  if (banned) {
    s.audit.admin({ event: 'sign_in_failed', method: 'dev', cause: 'banned', clientIp: a.info.ip });
    return tooManyAttempts('from your network', banned.retryAfterSec);
  }
  const userBanned = a.bans?.spec.enabled ? await s.userBans.banned(a.username, a.now) : 0;
  if (userBanned > 0) {
    s.audit.admin({
      event: 'sign_in_failed',
      method: 'dev',
      cause: 'user_banned',
      user: a.username,
      clientIp: a.info.ip,
    });
    return tooManyAttempts('for this account', userBanned);
  }
  return null;
}

/** 429 page with Retry-After for a banned client IP or user name. */
function tooManyAttempts(whose: string, seconds: number): Response {
  const res = html(
    errorPage(
      'Too many attempts',
      `Too many failed sign-ins ${whose}. Wait ${String(seconds)} seconds, then try again.`,
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
  cookieHeader: string | undefined,
): Promise<Response> {
  const created = await s.sessions.create(
    {
      provider: 'dev',
      sub: user.username,
      roles: [...user.roles],
      name: user.name,
      email: user.email,
      ...(user.acr !== undefined ? { acr: user.acr } : {}),
      ...(user.amr !== undefined ? { amr: [...user.amr] } : {}),
    },
    s.now(),
  );
  s.audit.admin({ event: 'sign_in', method: 'dev', provider: 'dev', sub: user.username, clientIp: ip });
  return redirect(rd, [created.setCookie, await endPrevious(s, cookieHeader)], 303);
}

/** GET /start: seal the attempt's checks into a flow cookie and send the browser to the provider. */
async function start(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const info = requestInfo(c, s);
  const provider = s.providers.get(c.req.query('provider') ?? '');
  if (!provider)
    return html(
      errorPage('Unknown sign-in method', 'This sign-in link names a provider that is not configured here.'),
      400,
    );
  const rd = redirectTarget(s, c.req.query('rd'), info.ip);
  const stepUp = stepUpQuery(c);
  if (stepUp === 'bad')
    return html(
      errorPage(
        'Sign-in link not valid',
        'This sign-in link asks for an authentication level warden cannot read.',
      ),
      400,
    );
  const checks = newChecks();
  let url: URL;
  try {
    url = await provider.authorizationUrl(s.callbackUrl, checks, stepUp);
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
    {
      p: provider.settings.id,
      s: checks.state,
      n: checks.nonce,
      v: checks.verifier,
      rd,
      ...(stepUp ? { u: stepUp } : {}),
    },
    s.now() + FLOW_TTL_MS,
  );
  const flow = setCookie(s.sessions.cookies, flowCookieName(checks.state), sealed, {
    maxAgeSec: FLOW_TTL_MS / 1000,
    path: '/oauth2/callback',
  });
  return redirect(url.toString(), [flow]);
}

/** Space-separated values of a step-up query parameter: at most 64, each printable without spaces. */
function spaced(v: string | undefined): string[] | undefined | 'bad' {
  if (v === undefined) return undefined;
  const list = v.split(' ').filter((x) => x !== '');
  return list.length > 0 && list.length <= 64 && list.every((x) => /^[\x21-\x7e]{1,256}$/.test(x))
    ? list
    : 'bad';
}

/**
 * The step-up a sign-in link asks for (`acr_values`, `amr`, `max_age`, as /verify writes them), null
 * for a plain sign-in, 'bad' for values warden would not have written. Anyone may ask for more than
 * a rule needs; asking for less gains nothing, as /verify judges the session, not the link.
 */
function stepUpQuery(c: Context<OAuthEnv>): StepUpRequest | null | 'bad' {
  const acr = spaced(c.req.query('acr_values'));
  const amr = spaced(c.req.query('amr'));
  const rawAge = c.req.query('max_age');
  if (acr === 'bad' || amr === 'bad') return 'bad';
  if (rawAge !== undefined && !/^[1-9][0-9]{0,7}$/.test(rawAge)) return 'bad';
  if (acr === undefined && amr === undefined && rawAge === undefined) return null;
  return {
    ...(acr ? { acr } : {}),
    ...(amr ? { amr } : {}),
    ...(rawAge !== undefined ? { maxAge: Number(rawAge) } : {}),
  };
}

/** A sign-in attempt as /start sealed it into its flow cookie. */
interface Flow {
  provider: string;
  nonce: string;
  verifier: string;
  rd: string;
  /** The step-up asked for, checked against the new ID token. */
  stepUp: StepUpRequest | null;
}

/** What a successful code exchange returns. */
type Exchanged = Awaited<ReturnType<OidcProvider['exchange']>>;

/** A failed callback: its audit cause and detail, and the page shown. */
interface Failure {
  cause: string;
  status: number;
  title: string;
  message: string;
  extra?: Record<string, unknown>;
}

/** The callback's refusals before the code exchange (all 400), by audit cause: page title and message. */
const REFUSALS = {
  missing_state: ['Sign-in link not valid', 'This sign-in response is incomplete. Start signing in again.'],
  bad_state: [
    'Sign-in link not valid',
    'This sign-in response does not belong to this browser, or it has expired. Start signing in again.',
  ],
  unknown_provider: [
    'Sign-in link not valid',
    'The sign-in method of this attempt is no longer configured. Start signing in again.',
  ],
  state_reused: [
    'Sign-in link already used',
    'This sign-in response was already used. Start signing in again.',
  ],
} as const;

/** GET /callback: check the state against its flow cookie, exchange the code, start the session. */
async function callback(s: SignIn, c: Context<OAuthEnv>): Promise<Response> {
  const info = requestInfo(c, s);
  const refuse = (cause: keyof typeof REFUSALS, extra?: Record<string, unknown>) => {
    const [title, message] = REFUSALS[cause];
    return failed(s, info.ip, { cause, status: 400, title, message, extra });
  };
  const state = c.req.query('state');
  if (!state || state.length > 512) return refuse('missing_state');
  const name = flowCookieName(state);
  const flow = await readFlow(s, cookieValues(c.req.header('cookie'), name), state);
  if (!flow) return refuse('bad_state');
  const clear = setCookie(s.sessions.cookies, name, '', { maxAgeSec: 0, path: '/oauth2/callback' });
  const provider = s.providers.get(flow.provider);
  if (!provider) return refuse('unknown_provider');
  // One use per state, across replicas: a replayed callback gets no second session.
  if (!(await s.usedStates.claim(createHash('sha256').update(state).digest('base64url'), FLOW_TTL_MS)))
    return refuse('state_reused', { provider: provider.settings.id });
  let result: Exchanged;
  try {
    result = await provider.exchange(new URL(`${s.callbackUrl}${info.search}`), {
      state,
      nonce: flow.nonce,
      verifier: flow.verifier,
    });
  } catch (e) {
    return failed(s, info.ip, exchangeFailure(e, provider));
  }
  const short = flow.stepUp ? deliveredShort(flow.stepUp, result.claims, s.now()) : null;
  if (short !== null) return notStepped(s, provider, flow.stepUp ?? {}, short, info.ip);
  const created = await oidcSession(s, provider, result, info.ip, c.req.header('cookie'));
  return redirect(flow.rd, [clear, ...created]);
}

/** What the new ID token lacks of the step-up asked for (the same judgement /verify makes), or null. */
function deliveredShort(
  asked: StepUpRequest,
  claims: Record<string, unknown>,
  now: number,
): StepUpCause | null {
  const authn = authnFacts(claims);
  return unmetAuthn(
    { acr: asked.acr ?? null, amr: asked.amr ?? null, maxAgeSec: asked.maxAge ?? null },
    { method: 'session', ...(authn ? { authn } : {}) },
    now,
  );
}

/**
 * The IdP signed the person in but not as strongly or recently as asked (it ignored acr_values or
 * max_age): an explanation, never a redirect back to the page (which would send them round again).
 * The session they had stays as it was.
 */
function notStepped(
  s: SignIn,
  provider: OidcProvider,
  asked: StepUpRequest,
  unmet: StepUpCause,
  clientIp: string | null,
): Response {
  s.audit.admin({
    event: 'sign_in_failed',
    method: 'oidc',
    cause: 'step_up_not_met',
    unmet,
    provider: provider.settings.id,
    asked,
    clientIp,
  });
  const what = [
    asked.acr ? `authentication level ${asked.acr.join(' or ')}` : null,
    asked.amr ? `sign-in method ${asked.amr.join(' or ')}` : null,
    asked.maxAge !== undefined ? `a sign-in within the last ${String(asked.maxAge)} seconds` : null,
  ].filter((x) => x !== null);
  return html(
    errorPage(
      'Stronger sign-in needed',
      `This page needs ${what.join(', ')}, and ${provider.name} did not confirm it. Your administrator may need to enable this kind of sign-in for you at ${provider.name}.`,
      { href: '/', label: 'Go to the start page' },
    ),
    403,
  );
}

/** Audit a failed callback and show its page. */
function failed(s: SignIn, clientIp: string | null, f: Failure): Response {
  s.audit.admin({ event: 'sign_in_failed', method: 'oidc', cause: f.cause, clientIp, ...f.extra });
  return html(errorPage(f.title, f.message), f.status);
}

/** The flow of `state` from its cookie values: exactly one, unexpired, sealed for this state, complete; else null. */
async function readFlow(s: SignIn, values: string[], state: string): Promise<Flow | null> {
  const sealed = values.length === 1 ? values[0] : undefined;
  const flow = sealed === undefined ? null : await s.flowSealer.unseal(sealed, s.now());
  if (
    !flow ||
    flow.s !== state ||
    typeof flow.p !== 'string' ||
    typeof flow.n !== 'string' ||
    typeof flow.v !== 'string' ||
    typeof flow.rd !== 'string'
  )
    return null;
  const u = flow.u as StepUpRequest | undefined;
  return { provider: flow.p, nonce: flow.n, verifier: flow.v, rd: flow.rd, stepUp: u ?? null };
}

/** How a failed code exchange is told: the provider refused, was unreachable, or its answer did not verify. */
function exchangeFailure(e: unknown, provider: OidcProvider): Failure {
  const name = provider.name;
  const p = { provider: provider.settings.id };
  if (e instanceof OidcErrors.AuthorizationResponseError)
    return {
      cause: 'provider_refused',
      status: 403,
      title: 'Sign-in refused',
      message: `${name} did not sign you in (${e.error}). Try again, or contact your administrator if you should have access.`,
      extra: { ...p, error: e.error },
    };
  if (e instanceof ProviderUnavailable)
    return {
      cause: 'provider_unavailable',
      status: 503,
      title: 'Sign-in unavailable',
      message: `${name} cannot be reached right now. Try again in a minute.`,
      extra: p,
    };
  if (e instanceof OidcErrors.ResponseBodyError)
    return {
      cause: 'token_refused',
      status: 400,
      title: 'Sign-in failed',
      message: `${name} refused to complete the sign-in. Start signing in again.`,
      extra: { ...p, error: e.error },
    };
  if (e instanceof OidcErrors.ClientError)
    return {
      cause: 'bad_id_token',
      status: 400,
      title: 'Sign-in could not be verified',
      message: `The answer from ${name} could not be verified. Start signing in again; if it keeps failing, contact your administrator.`,
      extra: { ...p, code: e.code ?? 'unknown' },
    };
  return {
    cause: 'provider_unavailable',
    status: 502,
    title: 'Sign-in unavailable',
    message: `${name} could not be reached. Try again in a minute.`,
    extra: p,
  };
}

/** Start the session of an OIDC sign-in (its refresh and ID tokens sealed); resolves to its Set-Cookie value. */
async function oidcSession(
  s: SignIn,
  provider: OidcProvider,
  result: Exchanged,
  clientIp: string | null,
  cookieHeader: string | undefined,
): Promise<string[]> {
  const now = s.now();
  const previous = await s.sessions.open(cookieHeader, now);
  const before = previous && !(previous instanceof AuthError) ? previous : null;
  const sessionData = {
    provider: provider.settings.id,
    sub: String(result.claims.sub),
    claims: result.claims,
    ...(typeof result.claims.sid === 'string' ? { idpSid: result.claims.sid } : {}),
    ...(result.refreshToken ? { refreshToken: await s.sessions.sealSecret(result.refreshToken, now) } : {}),
    ...(result.idToken ? { idToken: await s.sessions.sealSecret(result.idToken, now) } : {}),
  };
  const same = before?.record.provider === sessionData.provider && before.record.sub === sessionData.sub;
  // A re-authentication (a step-up) keeps the rest of the session: its refresh token when the IdP sent none.
  if (same && sessionData.refreshToken === undefined && before.record.refreshToken !== undefined)
    sessionData.refreshToken = before.record.refreshToken;
  const created = await s.sessions.create(sessionData, now);
  // The browser's previous session ends: one session per browser, and never a fixed id carried across sign-ins.
  if (before) await s.sessions.end(before.key);
  const facts = authnFacts(result.claims);
  s.audit.admin({
    event: same ? 'session_upgraded' : 'sign_in',
    method: 'oidc',
    provider: provider.settings.id,
    sub: sessionData.sub,
    ...(facts?.acr ? { acr: facts.acr } : {}),
    ...(facts?.amr ? { amr: facts.amr } : {}),
    clientIp,
  });
  return [created.setCookie];
}

/** End the session a browser had before signing in again (dev form); no Set-Cookie needed: the new cookie replaces it. */
async function endPrevious(s: SignIn, cookieHeader: string | undefined): Promise<null> {
  const previous = await s.sessions.open(cookieHeader, s.now());
  if (previous && !(previous instanceof AuthError)) await s.sessions.end(previous.key);
  return null;
}
