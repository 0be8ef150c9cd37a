// Browser sign-in, assembled from configuration: providers, dev users, sessions, cookies and redirects.
import { randomBytes } from 'node:crypto';
import type { CidrSet } from '../request/cidr-set.js';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { Authenticator } from '../auth/chain.js';
import type { ClaimsMapping, ClaimsSource } from '../auth/claims.js';
import type { Revocations } from '../auth/revocations.js';
import type { Config } from '../config/load.js';
import { deriveClientIp, parseAddress, type Address } from '../request/client-ip.js';
import type { RuntimeState } from '../runtime.js';
import { cookiePolicy, cookieValues, setCookie } from '../session/cookies.js';
import { Sealer } from '../session/seal.js';
import { Sessions } from '../session/sessions.js';
import type { RecordBackend, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { DevUsers, UserBans } from './dev-users.js';
import { OidcProvider } from './oidc.js';
import { PAGE_HEADERS } from './pages.js';
import { refreshSession } from './refresh.js';
import { redirectAllowlist, safeRedirect, type RedirectAllowlist } from './redirects.js';

/** How long a sign-in attempt (flow cookie, state) and a CSRF token live. */
export const FLOW_TTL_MS = 10 * 60_000;
const CSRF_COOKIE = 'warden_csrf';

/** Everything the /oauth2 routes use. */
export interface SignIn {
  publicUrl: string;
  /** The absolute sign-in URL browsers are sent to. */
  loginUrl: string;
  callbackUrl: string;
  providers: ReadonlyMap<string, OidcProvider>;
  devUsers: DevUsers;
  /** Per-user failure bans of the dev form. */
  userBans: UserBans;
  sessions: Sessions;
  /** Per-provider claim sources for session identities. */
  sources: ReadonlyMap<string, ClaimsSource>;
  /** Sealed flow cookies and CSRF tokens. */
  flowSealer: Sealer;
  /** Sign-in states already used (a replayed callback gets no second session). */
  usedStates: RecordBackend;
  redirects: RedirectAllowlist;
  defaultRedirect: string;
  audit: AuditLog;
  state: Pick<RuntimeState, 'current'>;
  revocations: Revocations | null;
  trustedProxies: CidrSet;
  now: () => number;
  /** Requests to the providers (discovery, tokens, back-channel logout keys). */
  fetch: typeof fetch;
}

/** The session authenticator for the /verify chain of one policy version. */
export function sessionAuthenticator(signIn: SignIn, mapping: ClaimsMapping): Authenticator {
  return signIn.sessions.authenticator(mapping, signIn.sources);
}

/** What sign-in is built from besides the configuration. */
export interface SignInDeps {
  store: Store;
  revocations: Revocations | null;
  audit: AuditLog;
  state: Pick<RuntimeState, 'current'>;
  trustedProxies: CidrSet;
  clock: Clock;
  fetch: typeof fetch;
  log?: Pick<Logger, 'warn'>;
}

/** Build sign-in from configuration, or null when neither providers nor dev users are configured. */
export function createSignIn(config: Config, deps: SignInDeps): SignIn | null {
  const env = config.env;
  const { providers, devUsers } = config.signIn;
  if (providers.length === 0 && devUsers.length === 0) return null;
  // The config cross-check requires both with sign-in enabled.
  if (env.WARDEN_PUBLIC_URL === undefined || env.WARDEN_SESSION_SECRET === undefined)
    throw new Error('sign-in needs WARDEN_PUBLIC_URL and WARDEN_SESSION_SECRET');
  const publicUrl = new URL(env.WARDEN_PUBLIC_URL).origin;
  const secrets = env.WARDEN_SESSION_SECRET;
  const sessions = createSessions(config, deps, publicUrl, secrets);
  const oidc = createProviders(config, deps);
  // Discover in the background: the first sign-in should not wait for it, and a provider down at start is retried.
  for (const p of oidc.values()) void p.discover().catch(() => undefined);
  const signIn: SignIn = {
    publicUrl,
    loginUrl: env.WARDEN_LOGIN_URL ?? `${publicUrl}/oauth2/login`,
    callbackUrl: `${publicUrl}/oauth2/callback`,
    providers: oidc,
    devUsers: new DevUsers(devUsers),
    userBans: new UserBans(deps.store, deps.store.records('dev-user-bans')),
    sessions,
    sources: new Map(
      providers.map((p) => [
        p.id,
        { issuer: p.issuer, rolesClaim: p.rolesClaim, subjectClaim: undefined, subjectPrefix: '' },
      ]),
    ),
    flowSealer: new Sealer(secrets, 'flow'),
    usedStates: deps.store.records('used-states'),
    redirects: redirectAllowlist(env.WARDEN_REDIRECT_DOMAINS, publicUrl),
    defaultRedirect: env.WARDEN_DEFAULT_REDIRECT ?? `${publicUrl}/`,
    audit: deps.audit,
    state: deps.state,
    revocations: deps.revocations,
    trustedProxies: deps.trustedProxies,
    now: () => deps.clock.now(),
    fetch: deps.fetch,
  };
  refreshWhenStale(signIn);
  return signIn;
}

/** Sessions kept in the store, sealed with the session secrets, their cookie scoped to the public URL. */
function createSessions(config: Config, deps: SignInDeps, publicUrl: string, secrets: string[]): Sessions {
  const env = config.env;
  const cookies = cookiePolicy(publicUrl, env.WARDEN_COOKIE_DOMAIN);
  return new Sessions(
    deps.store.records('sessions'),
    new Sealer(secrets, 'session'),
    cookies,
    {
      lifetimeMs: env.WARDEN_SESSION_LIFETIME * 1000,
      idleMs: env.WARDEN_SESSION_IDLE * 1000,
      refreshMs: env.WARDEN_SESSION_REFRESH * 1000,
    },
    deps.revocations,
  );
}

/** The configured OIDC providers by id; a failed discovery is logged (and retried by the provider). */
function createProviders(config: Config, deps: SignInDeps): Map<string, OidcProvider> {
  const env = config.env;
  return new Map(
    config.signIn.providers.map((p) => [
      p.id,
      new OidcProvider(p, {
        timeoutMs: env.WARDEN_JWKS_TIMEOUT * 1000,
        clock: deps.clock,
        fetch: deps.fetch,
        onError: (issuer, err) =>
          deps.log?.warn(
            { event: 'oidc_discovery_failed', provider: p.id, issuer, err },
            'cannot discover a sign-in provider; its sign-ins fail until it answers (retried)',
          ),
      }),
    ]),
  );
}

/** Refresh stale sessions in the background. */
function refreshWhenStale(signIn: SignIn): void {
  // One refresh per session at a time on this replica, without asking the store's lock on every request meanwhile.
  const refreshing = new Set<string>();
  signIn.sessions.onStale = (key, record) => {
    if (refreshing.has(key)) return;
    refreshing.add(key);
    void refreshSession(signIn, key, record)
      .catch(() => undefined)
      .finally(() => refreshing.delete(key));
  };
}

/** The `rd` to use: the requested one when acceptable, else the default (the refusal audited). */
export function redirectTarget(s: SignIn, rd: string | undefined, clientIp: string | null): string {
  const ok = safeRedirect(rd, s.redirects, s.publicUrl);
  if (ok) return ok;
  // The refused value is shown only up to its query (which may carry anything), bounded.
  if (rd) {
    const q = rd.indexOf('?');
    s.audit.admin({
      event: 'redirect_refused',
      rd: (q === -1 ? rd : rd.slice(0, q)).slice(0, 200),
      clientIp,
    });
  }
  return s.defaultRedirect;
}

/** The client's address: the peer, or the client a trusted proxy names in X-Forwarded-For. */
export function clientAddress(
  s: SignIn,
  peer: string | undefined,
  forwardedFor: string | undefined,
): Address | null {
  const p = peer === undefined ? null : parseAddress(peer);
  if (!p) return null;
  const r = deriveClientIp(p, forwardedFor, s.trustedProxies);
  return r.ok ? r.ip : null;
}

/**
 * A form POST from another site (login CSRF, forced sign-out): `Origin` must be warden's own
 * public origin; without Origin, `Sec-Fetch-Site` must not say cross-site.
 */
export function crossSite(s: SignIn, origin: string | undefined, fetchSite: string | undefined): boolean {
  if (origin !== undefined) return origin !== s.publicUrl;
  return fetchSite === 'cross-site';
}

/** A CSRF pair for a form: the cookie value and the sealed token the form carries. */
export async function csrfPair(
  s: SignIn,
  existingCookie: string | undefined,
): Promise<{ token: string; setCookie: string }> {
  const value =
    existingCookie && /^[A-Za-z0-9_-]{32,64}$/.test(existingCookie)
      ? existingCookie
      : randomBytes(24).toString('base64url');
  const token = await s.flowSealer.seal({ csrf: value }, s.now() + FLOW_TTL_MS);
  // Set again even when unchanged, so the cookie lives as long as the token just issued.
  return {
    token,
    setCookie: setCookie(s.sessions.cookies, CSRF_COOKIE, value, {
      maxAgeSec: FLOW_TTL_MS / 1000,
      path: '/oauth2/',
    }),
  };
}

/** The CSRF cookie of a request (one value, or none). */
export function csrfCookie(cookieHeader: string | undefined): string | undefined {
  const v = cookieValues(cookieHeader, CSRF_COOKIE);
  return v.length === 1 ? v[0] : undefined;
}

/** True when the form's token was sealed by warden for this browser's CSRF cookie. */
export async function csrfValid(
  s: SignIn,
  token: unknown,
  cookieHeader: string | undefined,
): Promise<boolean> {
  const cookie = csrfCookie(cookieHeader);
  if (typeof token !== 'string' || cookie === undefined) return false;
  const v = await s.flowSealer.unseal(token, s.now());
  return v !== null && v.csrf === cookie;
}

/** An HTML response with the page headers and any Set-Cookie values. */
export function html(body: string, status: number, cookies: (string | null)[] = []): Response {
  const headers = new Headers(PAGE_HEADERS);
  for (const c of cookies) if (c) headers.append('set-cookie', c);
  return new Response(body, { status, headers });
}

/** A redirect (303 after a POST, 302 otherwise) that is never cached, with any Set-Cookie values. */
export function redirect(location: string, cookies: (string | null)[] = [], status = 302): Response {
  const headers = new Headers({ location, 'cache-control': 'no-store', 'content-length': '0' });
  for (const c of cookies) if (c) headers.append('set-cookie', c);
  return new Response(null, { status, headers });
}
