// A warden with sign-in configured against a real oidc-provider, on a port known before it starts.
import { freePort } from '../e2e/harness/net.js';
import { send, type RawResponse } from '../helpers/http.js';
import { startProvider, signInWithoutBrowser, type TestProvider, type TestUser } from '../helpers/oidc.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import type { Clock } from '../../src/util/clock.js';

export const SECRET = 'test-session-secret-0123456789-abcdefghij';
export const CLIENT = { id: 'warden-web', secret: 'warden-web-secret-' + 'w'.repeat(24) };

/** The acr values of a step-up IdP: a password sign-in, and one with a second factor. */
export const STEP_UP = { basic: 'urn:example:basic', mfa: 'urn:example:mfa' } as const;

/** People at the test IdP. */
export const USERS: Record<'alice' | 'bob', TestUser> = {
  alice: {
    id: 'alice',
    password: 'alice-pass',
    name: 'Alice Example',
    email: 'alice@example.com',
    groups: ['idp-devs', 'Domain Users'],
    otp: '246810',
  },
  bob: { id: 'bob', password: 'bob-pass', name: 'Bob Example', email: 'bob@example.com', groups: ['viewer'] },
};

/** The sign-in policy: four roles, IdP groups mapped, pages per permission. */
export function signInPolicy(): Record<string, unknown> {
  return {
    roles: {
      admin: ['*'],
      developer: ['nodes:*', 'api:*', 'mcp:use'],
      analyst: ['nodes:read', 'api:read', 'mcp:use'],
      viewer: ['nodes:read'],
    },
    claims: { roles: 'groups', map: { 'idp-devs': 'developer', 'idp-admins': 'admin' } },
    rules: [
      { match: { path: '/public/**' }, public: true },
      { match: { path: '/admin/**' }, require: ['admin:users'] },
      { match: { path: '/deploy/**' }, require: ['nodes:write'] },
      { match: { path: '/reports/**' }, require: ['api:read'] },
      { match: { path: '/nodes/**' }, require: ['nodes:read'] },
    ],
    default: 'deny',
  };
}

/**
 * A step-up policy: `/nodes/**` needs a role only, `/secure/**` also the IdP's mfa acr, and
 * `extra` rules (other authn requirements) come first.
 */
export function stepUpPolicy(extra: readonly Record<string, unknown>[] = []): Record<string, unknown> {
  return {
    roles: { admin: ['*'], developer: ['nodes:*'], viewer: ['nodes:read'] },
    claims: { roles: 'groups', map: { 'idp-devs': 'developer' } },
    rules: [
      { match: { path: '/secure/**' }, require: ['nodes:read'], authn: { acr: [STEP_UP.mfa] } },
      ...extra,
      { match: { path: '/nodes/**' }, require: ['nodes:read'] },
    ],
    default: 'deny',
  };
}

/** A running IdP and a warden whose public URL is its own address. */
export interface SignInSetup {
  idp: TestProvider;
  w: TestWarden;
  publicUrl: string;
  close(): Promise<void>;
}

/** Start the IdP and warden on `port` (public URL `http://127.0.0.1:<port>` unless given: behind a proxy, the proxy's). */
export async function startSignIn(
  opts: {
    env?: Record<string, string>;
    publicUrl?: string;
    port?: number;
    devUsers?: boolean;
    provider?: Record<string, unknown>;
    policy?: Record<string, unknown>;
    /** warden's clock (a FakeClock); the IdP keeps the real one. */
    clock?: Clock;
    /** Key entries for the keys file. */
    keys?: Record<string, unknown>[];
    /** The IdP does step-up (acr values STEP_UP.basic / STEP_UP.mfa, a one-time code). */
    stepUp?: boolean;
  } = {},
): Promise<SignInSetup> {
  const port = opts.port ?? (await freePort());
  const publicUrl = opts.publicUrl ?? `http://127.0.0.1:${port}`;
  const idp = await startProvider([], 'https://api.example.com', {
    users: Object.values(USERS),
    webClients: [
      {
        id: CLIENT.id,
        secret: CLIENT.secret,
        redirectUris: [`${publicUrl}/oauth2/callback`],
        postLogoutRedirectUris: [`${publicUrl}/oauth2/login?signed_out=1`],
        backchannelLogoutUri: `${publicUrl}/oauth2/backchannel-logout`,
      },
    ],
    ...(opts.stepUp ? { stepUp: STEP_UP } : {}),
  });
  const w = await startWarden({
    clock: opts.clock,
    ...(opts.keys ? { keys: opts.keys } : {}),
    policy: opts.policy ?? signInPolicy(),
    env: {
      PORT: String(port),
      WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
      WARDEN_PUBLIC_URL: publicUrl,
      WARDEN_SESSION_SECRET: SECRET,
      WARDEN_OIDC_PROVIDERS: JSON.stringify([
        {
          id: 'example',
          name: 'Example IdP',
          issuer: idp.issuer,
          clientId: CLIENT.id,
          clientSecret: CLIENT.secret,
          scopes: ['openid', 'email', 'profile', 'groups'],
          ...opts.provider,
        },
      ]),
      WARDEN_REDIRECT_DOMAINS: 'app.example.com,.apps.example.com',
      ...(opts.devUsers ? { WARDEN_DEV_USERS: 'rbac/dev-users.yaml' } : {}),
      ...opts.env,
    },
  });
  const close = async () => {
    await w.close();
    await idp.close();
  };
  return { idp, w, publicUrl, close };
}

/** Every Set-Cookie of a response as name → value. */
export function setCookies(res: RawResponse): Map<string, string> {
  const raw = res.headers['set-cookie'];
  const out = new Map<string, string>();
  for (const c of Array.isArray(raw) ? raw : raw ? [raw] : []) {
    const pair = c.split(';')[0]!;
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

/** Start a sign-in at warden; returns the IdP URL and the flow cookie. */
export async function beginSignIn(
  setup: SignInSetup,
  rd = '/nodes/n1',
): Promise<{ authorizationUrl: string; flowCookie: string }> {
  const res = await send(`${setup.publicUrl}/oauth2/start?provider=example&rd=${encodeURIComponent(rd)}`);
  if (res.status !== 302) throw new Error(`start answered ${res.status}: ${res.body}`);
  const [name, value] = [...setCookies(res)].find(([n]) => n.startsWith('warden_flow_'))!;
  return { authorizationUrl: String(res.headers.location), flowCookie: `${name}=${value}` };
}

/** Sign in as a user through the IdP, without a browser; returns the callback response and the session cookie. */
export async function signIn(setup: SignInSetup, user: TestUser, rd = '/nodes/n1') {
  const { authorizationUrl, flowCookie } = await beginSignIn(setup, rd);
  const callbackUrl = await signInWithoutBrowser(
    authorizationUrl,
    `${setup.publicUrl}/oauth2/callback`,
    user,
  );
  const res = await send(callbackUrl, { headers: { cookie: flowCookie } });
  const session = setCookies(res).get('warden');
  return { res, callbackUrl, flowCookie, cookie: session ? `warden=${session}` : null };
}

/** Ask /verify/traefik about a request to app.example.com with these headers. */
export function verifyAs(setup: SignInSetup, headers: Record<string, string>, path = '/nodes/n1') {
  return send(`${setup.w.url}/verify/traefik`, {
    headers: {
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example.com',
      'x-forwarded-uri': path,
      'x-forwarded-for': '203.0.113.9',
      ...headers,
    },
  });
}

/** Sign in a dev user through the form, as a browser on warden's own origin would. */
export async function devSignIn(
  setup: SignInSetup,
  username: string,
  password: string,
  extra: Record<string, string> = {},
) {
  const page = await send(`${setup.publicUrl}/oauth2/login?rd=/nodes/n1`, { headers: extra });
  const csrfCookie = `warden_csrf=${setCookies(page).get('warden_csrf')}`;
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const res = await send(`${setup.publicUrl}/oauth2/login`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: setup.publicUrl,
      cookie: csrfCookie,
      ...extra,
    },
    body: new URLSearchParams({ csrf: token, rd: '/nodes/n1', username, password }).toString(),
  });
  const session = setCookies(res).get('warden');
  return { res, cookie: session ? `warden=${session}` : null, csrfCookie, token };
}

/** Sign out through the confirm page's form. */
export async function logout(setup: SignInSetup, cookie: string, origin = setup.publicUrl) {
  const page = await send(`${setup.publicUrl}/oauth2/logout`, { headers: { cookie } });
  const csrf = `warden_csrf=${setCookies(page).get('warden_csrf')}`;
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  return send(`${setup.publicUrl}/oauth2/logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin, cookie: `${cookie}; ${csrf}` },
    body: new URLSearchParams({ csrf: token }).toString(),
  });
}
