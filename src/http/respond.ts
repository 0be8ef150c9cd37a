// Decision → status, headers and body, in each proxy's status language.
import type { Identity } from '../auth/identity.js';
import { AUTH_ERROR_RESPONSE } from '../auth/errors.js';
import type { Dialect } from './dialects.js';
import type { LimitRefusal } from '../policy/decide.js';
import type { McpSummary } from '../policy/mcp-rules.js';
import type { RequestDescription } from '../request/description.js';
import type { ResourceChallenges } from './resource-challenges.js';
import { onlyFreshness, type AuthnRequirement, type StepUpCause } from '../policy/step-up.js';

/** Names of the identity headers on allow (policy `headers.preset`). */
export interface IdentityHeaderNames {
  id: string;
  roles: string;
  name: string;
  email: string;
}

/** The `headers.preset` names (docs/policy.md, "Identity headers"). */
export const HEADER_PRESETS: Record<'warden' | 'authelia' | 'oauth2-proxy', IdentityHeaderNames> = {
  warden: { id: 'X-User-ID', roles: 'X-User-Roles', name: 'X-User-Name', email: 'X-User-Email' },
  authelia: { id: 'Remote-User', roles: 'Remote-Groups', name: 'Remote-Name', email: 'Remote-Email' },
  'oauth2-proxy': {
    id: 'X-Auth-Request-User',
    roles: 'X-Auth-Request-Groups',
    name: 'X-Auth-Request-Preferred-Username',
    email: 'X-Auth-Request-Email',
  },
};

/** How each proxy's status language differs; every per-dialect difference of an answer is here. */
export interface DialectAnswers {
  /**
   * A browser sent to sign in: `redirect` answers 302 with Location, which the proxy hands to the
   * browser; `401-location` answers 401 carrying Location, which nginx turns into a redirect itself.
   */
  signIn: 'redirect' | '401-location';
  /** A 403 may be marked reusable: only nginx consumes a deny itself (others hand it to the browser). */
  reusableDeny: boolean;
}

/** The answer table, one row per proxy. */
export const DIALECT_ANSWERS: Readonly<Record<Dialect, DialectAnswers>> = {
  traefik: { signIn: 'redirect', reusableDeny: false },
  caddy: { signIn: 'redirect', reusableDeny: false },
  envoy: { signIn: 'redirect', reusableDeny: false },
  nginx: { signIn: '401-location', reusableDeny: true },
};

const DENY_BASE = { 'cache-control': 'no-store', 'content-type': 'application/json' } as const;

/** An answer to the proxy: written straight to the socket on /verify, or wrapped in a Response by Hono. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

/** The Fetch Response of an answer (Hono routes, in-process tests). */
export function toResponse(a: Answer): Response {
  return new Response(a.body, { status: a.status, headers: a.headers });
}

/** A deny with a JSON body; `X-Warden-Reason` repeats the reason for proxies that drop the body (nginx). */
function json(
  status: number,
  body: { error: string; reason: string; [field: string]: unknown },
  extra: Record<string, string> = {},
): Answer {
  const text = JSON.stringify(body);
  return {
    status,
    headers: {
      ...DENY_BASE,
      'content-length': String(Buffer.byteLength(text)),
      'x-warden-reason': body.reason,
      ...extra,
    },
    body: text,
  };
}

/** 200, empty non-chunked body, every identity header present (empty when unknown). */
export function allowResponse(
  identity: Identity | null,
  names: IdentityHeaderNames,
  extra: Record<string, string> | null,
): Answer {
  const headers: Record<string, string> = {
    'content-length': '0',
    [names.id]: identity?.sub ?? '',
    [names.roles]: identity ? identity.roles.join(',') : '',
    [names.name]: identity?.name ?? '',
    [names.email]: identity?.email ?? '',
    'X-Auth-Method': identity?.method ?? 'public',
  };
  if (extra) Object.assign(headers, extra);
  return { status: 200, headers, body: null };
}

/** True for a top-level browser page load, which should be sent to sign in rather than shown JSON. */
export function isBrowserNavigation(req: RequestDescription): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.headers.get('x-requested-with') !== undefined) return false;
  const mode = req.headers.get('sec-fetch-mode');
  if (mode !== undefined) return mode === 'navigate';
  const accept = req.headers.get('accept');
  return accept !== undefined && accept.includes('text/html');
}

/** The login URL with the original absolute URL as `rd`. */
export function loginRedirect(loginUrl: string, req: RequestDescription): string {
  const u = new URL(loginUrl);
  u.searchParams.set('rd', `${req.proto}://${req.authority}${req.rawUri}`);
  return u.toString();
}

/** What the 401's `WWW-Authenticate` says besides its scheme. */
export interface BearerChallenge {
  /** RFC 6750 `error_description` of a refused bearer token (fixed texts, header-safe). */
  description?: string | undefined;
  /** The rule's resource challenges (MCP): `resource_metadata` and `scope` instead of warden's realm. */
  resource?: ResourceChallenges | null | undefined;
}

/** The WWW-Authenticate of a 401: the resource's challenge on a resource rule, else warden's; then the description. */
function challengeOf(reason: 'missing_credentials' | 'invalid_credentials', bearer: BearerChallenge): string {
  const r = bearer.resource;
  const head = r
    ? reason === 'invalid_credentials'
      ? r.invalid
      : r.missing
    : AUTH_ERROR_RESPONSE[reason].challenge;
  return bearer.description === undefined ? head : `${head}, error_description="${bearer.description}"`;
}

/**
 * A browser sent to sign in at `location`, in the dialect's language: 302 (Traefik, Caddy, Envoy),
 * or 401 with Location (nginx turns it into the redirect), its body and challenge for anyone else.
 */
function signInAnswer(
  dialect: Dialect,
  location: string,
  reason: string,
  message: string,
  challenge: string,
): Answer {
  if (DIALECT_ANSWERS[dialect].signIn === 'redirect')
    return {
      status: 302,
      headers: { 'cache-control': 'no-store', location, 'content-length': '0', 'x-warden-reason': reason },
      body: null,
    };
  return json(401, { error: 'unauthorized', reason, message }, { 'www-authenticate': challenge, location });
}

/** 401 for an API client; for a browser navigation with a login URL: 302 (Traefik, Caddy, Envoy) or 401 + Location (nginx). */
export function unauthenticatedResponse(
  reason: 'missing_credentials' | 'invalid_credentials',
  dialect: Dialect,
  req: RequestDescription | null,
  loginUrl: string | undefined,
  bearer: BearerChallenge = {},
): Answer {
  const entry = { message: AUTH_ERROR_RESPONSE[reason].message, challenge: challengeOf(reason, bearer) };
  if (loginUrl && req && isBrowserNavigation(req)) {
    const location = loginRedirect(loginUrl, req);
    return signInAnswer(dialect, location, reason, entry.message, entry.challenge);
  }
  return json(
    401,
    { error: 'unauthorized', reason, message: entry.message },
    { 'www-authenticate': entry.challenge },
  );
}

/**
 * 403 with the permissions (or scopes) the rule requires (at most 16 named, to keep the body
 * bounded), and a `WWW-Authenticate` challenge when one is given (`insufficient_scope`).
 */
export function forbiddenResponse(
  reason: string,
  required: readonly string[] = [],
  challenge: string | null = null,
): Answer {
  const extra: Record<string, string> = challenge === null ? {} : { 'www-authenticate': challenge };
  if (required.length === 0) return json(403, { error: 'forbidden', reason }, extra);
  const listed = required.slice(0, 16);
  // X-Warden-Required repeats the list as JSON for proxies that drop the body (nginx builds its own 403 from it).
  extra['x-warden-required'] = JSON.stringify(listed);
  return json(403, { error: 'forbidden', reason, required: listed }, extra);
}

/**
 * The JSON-RPC error code of a call refused by policy: in the range JSON-RPC leaves to servers
 * (-32000 to -32099), apart from the codes the MCP SDKs use (-32000 connection closed, -32001
 * request timeout, -32042 URL elicitation required).
 */
export const MCP_FORBIDDEN_CODE = -32003;

/**
 * A denied MCP call's 403: the body is a JSON-RPC error for each refused call (for a batch, an array;
 * a call that was not run because another was refused says so), so MCP clients show it as the
 * call's error. Status, reason header and challenge as {@link forbiddenResponse}.
 */
export function mcpForbiddenResponse(
  reason: string,
  required: readonly string[],
  challenge: string | null,
  mcp: McpSummary,
): Answer {
  const listed = required.slice(0, 16);
  const refused = mcp.calls.filter((c) => c.refusal !== null);
  const withId = refused.filter((c) => c.call.id !== null);
  const errors = (withId.length > 0 ? withId : refused.slice(0, 1)).map((c) => ({
    jsonrpc: '2.0',
    id: c.call.id,
    error: { code: MCP_FORBIDDEN_CODE, message: c.refusal, data: { reason, required: listed } },
  }));
  const text = JSON.stringify(mcp.batch ? errors : errors[0]);
  const headers: Record<string, string> = {
    ...DENY_BASE,
    'content-length': String(Buffer.byteLength(text)),
    'x-warden-reason': reason,
  };
  if (listed.length > 0) headers['x-warden-required'] = JSON.stringify(listed);
  if (challenge !== null) headers['www-authenticate'] = challenge;
  return { status: 403, headers, body: text };
}

/** What a step-up refusal is answered from: the rule's requirement, what is missing, and where a browser signs in again. */
export interface StepUpAnswer {
  authn: AuthnRequirement;
  unmet: StepUpCause;
  /** The identity's kind and (sessions) its provider. */
  method: Identity['method'];
  provider: string | undefined;
  /** `<public url>/oauth2/start` and the login page, when warden signs people in. */
  startUrl: string | undefined;
  loginUrl: string | undefined;
  /** The rule's resource challenge (`resource_metadata`), for MCP clients. */
  resourceMetadata: string | null;
}

const STEP_UP_MESSAGE = {
  notUser: 'a signed-in user is needed here: API keys and client certificates cannot satisfy this rule',
  bearer:
    "this token's sign-in is not strong or recent enough: get a new token with the acr_values and max_age asked",
  session: 'sign in again: this page needs a stronger or more recent sign-in',
  devUser: 'this dev user does not declare the acr or amr this rule asks for: sign in as another user',
} as const;

/** The RFC 9470 challenge: `insufficient_user_authentication` with the acr values and max_age to ask the IdP for. */
export function stepUpChallenge(authn: AuthnRequirement, resourceMetadata: string | null): string {
  let c =
    'Bearer error="insufficient_user_authentication", error_description="A stronger or more recent sign-in is required"';
  if (authn.acr) c += `, acr_values="${authn.acr.join(' ')}"`;
  if (authn.maxAgeSec !== null) c += `, max_age=${authn.maxAgeSec}`;
  if (resourceMetadata !== null) c += `, ${resourceMetadata}`;
  return c;
}

/**
 * Where a browser goes for a stronger sign-in: `/oauth2/start` of its provider asking for the
 * rule's acr values, amr and max_age; for a dev user whose sign-in is only too old, the login page.
 * Null when a new sign-in cannot help (a dev user's declared acr/amr) or warden signs nobody in.
 */
export function stepUpLocation(a: StepUpAnswer, req: RequestDescription): string | null {
  if (a.provider === undefined) return null;
  if (a.provider === 'dev')
    return onlyFreshness(a.unmet) && a.loginUrl ? loginRedirect(a.loginUrl, req) : null;
  if (a.startUrl === undefined) return null;
  const u = new URL(a.startUrl);
  u.searchParams.set('provider', a.provider);
  u.searchParams.set('rd', `${req.proto}://${req.authority}${req.rawUri}`);
  if (a.authn.acr) u.searchParams.set('acr_values', a.authn.acr.join(' '));
  if (a.authn.amr) u.searchParams.set('amr', a.authn.amr.join(' '));
  if (a.authn.maxAgeSec !== null) u.searchParams.set('max_age', String(a.authn.maxAgeSec));
  return u.toString();
}

/**
 * A sign-in too weak or too old for the rule (`step_up_required`): an API key or client
 * certificate gets 403 (no sign-in can mend it); a bearer token the RFC 9470 401; a browser page
 * load of a session the dialect's sign-in answer towards a stronger sign-in; any other session request 401.
 */
export function stepUpResponse(a: StepUpAnswer, dialect: Dialect, req: RequestDescription | null): Answer {
  const reason = 'step_up_required';
  if (a.unmet === 'not_a_user')
    return json(403, { error: 'forbidden', reason, message: STEP_UP_MESSAGE.notUser });
  const challenge = stepUpChallenge(a.authn, a.resourceMetadata);
  if (a.method !== 'session')
    return json(
      401,
      { error: 'unauthorized', reason, message: STEP_UP_MESSAGE.bearer },
      { 'www-authenticate': challenge },
    );
  const location = req && isBrowserNavigation(req) ? stepUpLocation(a, req) : null;
  if (location === null) {
    if (a.provider === 'dev' && !onlyFreshness(a.unmet))
      return json(403, { error: 'forbidden', reason, message: STEP_UP_MESSAGE.devUser });
    return json(
      401,
      { error: 'unauthorized', reason, message: STEP_UP_MESSAGE.session },
      { 'www-authenticate': challenge },
    );
  }
  return signInAnswer(dialect, location, reason, STEP_UP_MESSAGE.session, challenge);
}

/** 429 with Retry-After and the IETF RateLimit-Policy / RateLimit fields. */
export function limitedResponse(o: LimitRefusal, reason: 'rate_limited' | 'banned' = 'rate_limited'): Answer {
  return json(
    429,
    { error: 'rate_limited', reason, retryAfter: o.retryAfterSec },
    {
      'retry-after': String(o.retryAfterSec),
      'ratelimit-policy': `"${o.name}";q=${o.limit};w=${Math.max(1, Math.round(o.windowSec))}`,
      ratelimit: `"${o.name}";r=0;t=${o.retryAfterSec}`,
    },
  );
}

/** 500: an exception in the decision. Proxies treat it as deny; never a 2xx. */
export function errorResponse(): Answer {
  return json(500, { error: 'internal', reason: 'internal_error' });
}
