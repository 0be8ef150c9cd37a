// A real OpenID provider (the `oidc-provider` package) on 127.0.0.1: RFC 9068 JWT access tokens for
// machine clients, browser sign-in (authorization code + PKCE) with a login page for people, and
// optionally an MCP authorization server: dynamic client registration, consent, RFC 8707 resources.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import Provider, { interactionPolicy } from 'oidc-provider';

/** A person who can sign in at the provider's login page. */
export interface TestUser {
  id: string;
  password: string;
  name: string;
  email: string;
  groups: string[];
  /** The one-time code this person types when the IdP asks for a second factor (step-up). */
  otp?: string;
}

/** A web application (warden) that signs people in with the authorization code flow. */
export interface WebClient {
  id: string;
  secret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Where the provider posts logout tokens; its ID tokens then carry `sid`. */
  backchannelLogoutUri?: string;
}

/** How the next ID tokens are spoiled (re-signed with the provider's own key), to test a relying party's checks. */
export type IdTokenTamper = { aud?: string; iss?: string; nonce?: string; expiredBy?: number } | null;

/** A protected resource (an MCP server): signed-in people get JWT access tokens for it, `aud` its url. */
export interface ProtectedResource {
  /** The resource indicator (RFC 8707), and the tokens' `aud`. */
  url: string;
  /** The scopes a token for it may carry. */
  scopes: string[];
}

/** Browser sign-in settings of a test provider. */
export interface SignInOptions {
  users: TestUser[];
  webClients: WebClient[];
  /**
   * Resources people may ask tokens for with `resource=` (their access tokens are JWTs carrying the
   * user's `groups`). When there are any, clients may register dynamically (RFC 7591); such clients
   * are third parties: the user consents on the provider's page to the scopes they ask for.
   */
  resources?: ProtectedResource[];
  /**
   * Step-up, as Keycloak, Okta or Auth0 do it: the provider knows two acr values; a request whose
   * `acr_values` names `mfa` makes the login page ask for the user's one-time code too (even when
   * the user is signed in at the provider already), and the ID token then says `acr: <mfa>`,
   * `amr: ["pwd", "otp"]`; otherwise `acr: <basic>`, `amr: ["pwd"]`.
   */
  stepUp?: { basic: string; mfa: string };
}

/** A machine client: its access tokens carry `groups` and are signed with `alg`. */
export interface MachineClient {
  id: string;
  alg: 'RS256' | 'ES256';
  groups: string[];
}

/** A running provider. */
export interface TestProvider {
  issuer: string;
  /** The resource (and `aud`) its access tokens are for. */
  audience: string;
  /** A client-credentials access token for a client. */
  token(clientId: string): Promise<string>;
  /** Claims of the last ID token the token endpoint issued (before any spoiling). */
  lastIdTokenClaims(): Record<string, unknown> | null;
  /** Answer every token request with `invalid_grant` (a revoked grant) until turned off. */
  refuseTokenRequests(on: boolean): void;
  /** Ignore `acr_values` from now on (an IdP not set up for step-up): every login is a basic one. */
  ignoreAcrValues(on: boolean): void;
  /** Spoil the ID tokens the token endpoint returns from now on (null: stop). */
  tamperIdTokens(t: IdTokenTamper): void;
  /** A logout token (Back-Channel Logout 1.0) signed with the provider's RS256 key; `overrides` change any claim. */
  logoutToken(
    clientId: string,
    claims: { sid?: string; sub?: string },
    overrides?: Record<string, unknown>,
  ): Promise<string>;
  close(): Promise<void>;
}

const secretOf = (id: string) => `secret-of-${id}-${'s'.repeat(24)}`;

/** Start a provider with RS256 and ES256 signing keys and the given machine clients. */
export async function startProvider(
  clients: MachineClient[],
  audience = 'https://api.example.com',
  signIn: SignInOptions = { users: [], webClients: [] },
): Promise<TestProvider> {
  const keys = await Promise.all(
    (['RS256', 'ES256'] as const).map(async (alg) => {
      const { privateKey } = await generateKeyPair(alg, { extractable: true });
      return { ...(await exportJWK(privateKey)), alg, use: 'sig', kid: `${alg.toLowerCase()}-1` };
    }),
  );
  const byId = new Map(clients.map((c) => [c.id, c]));
  let server: Server;
  await new Promise<void>((resolve) => {
    server = createServer();
    server.listen(0, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  const users = new Map(signIn.users.map((u) => [u.id, u]));
  const resources = new Map((signIn.resources ?? []).map((r) => [r.url, r]));
  const firstParty = new Set(signIn.webClients.map((c) => c.id));
  const stepUp = signIn.stepUp ? { ...signIn.stepUp, ignore: false } : null;
  const policy = interactionPolicy.base();
  if (stepUp)
    // A request for the mfa acr by someone signed in at the provider without it: log in again, with the second factor.
    policy.get('login')!.checks.add(
      new interactionPolicy.Check('acr_step_up', 'a stronger authentication is required', (ctx) => {
        const raw = ctx.oidc.params?.acr_values;
        const asked = typeof raw === 'string' ? raw.split(' ') : [];
        return !stepUp.ignore && asked.includes(stepUp.mfa) && ctx.oidc.session?.acr !== stepUp.mfa
          ? interactionPolicy.Check.REQUEST_PROMPT
          : interactionPolicy.Check.NO_NEED_TO_PROMPT;
      }),
    );
  const provider = new Provider(issuer, {
    ...(stepUp ? { acrValues: [stepUp.basic, stepUp.mfa] } : {}),
    jwks: { keys },
    clients: [
      ...clients.map((c) => ({
        client_id: c.id,
        client_secret: secretOf(c.id),
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      })),
      ...signIn.webClients.map((c) => ({
        client_id: c.id,
        client_secret: c.secret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: c.redirectUris,
        post_logout_redirect_uris: c.postLogoutRedirectUris ?? [],
        token_endpoint_auth_method: 'client_secret_basic',
        ...(c.backchannelLogoutUri
          ? { backchannel_logout_uri: c.backchannelLogoutUri, backchannel_logout_session_required: true }
          : {}),
      })),
    ] as never,
    scopes: [
      'api:read',
      'openid',
      'email',
      'profile',
      'groups',
      'offline_access',
      ...new Set([...resources.values()].flatMap((r) => r.scopes)),
    ],
    claims: {
      // With step-up, every ID token says how the person signed in (auth_time only when max_age asks for it).
      openid: stepUp ? ['sub', 'acr', 'amr'] : ['sub'],
      email: ['email'],
      profile: ['name'],
      groups: ['groups'],
    },
    // The ID token carries the scopes' claims (groups), as Keycloak, Okta and Entra ID can be set to do.
    conformIdTokenClaims: false,
    cookies: { keys: ['test-cookie-key-' + 'k'.repeat(24)] },
    findAccount: (_ctx, id) => {
      const u = users.get(id);
      return u
        ? { accountId: id, claims: () => ({ sub: id, name: u.name, email: u.email, groups: u.groups }) }
        : undefined;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}`, policy },
    // oidc-provider's defaults, spelled out so that it prints no notice asking to choose them.
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 60 * 60,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 10 * 60,
      IdToken: 60 * 60,
      Interaction: 60 * 60,
      RefreshToken: 14 * 24 * 60 * 60,
      Session: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
    },
    // The test IdP posts back-channel logout tokens to warden on loopback, which oidc-provider's
    // SSRF guard (its own dispatcher) would refuse: use a plain fetch.
    fetch: ((url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
      delete options.dispatcher;
      return fetch(url, options);
    }) as never,
    // Web clients get a refresh token with every sign-in (as Keycloak and Entra ID do by default).
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // First-party clients: consent is implied (no consent screen), as an IdP admin would configure for warden.
    // Clients that registered themselves get the grant the user consented to, if any.
    loadExistingGrant: async (ctx) => {
      const accountId = ctx.oidc.session?.accountId;
      if (!accountId || !ctx.oidc.client) return undefined;
      if (!firstParty.has(ctx.oidc.client.clientId)) {
        const grantId =
          ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client.clientId);
        return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId });
      grant.addOIDCScope('openid email profile groups offline_access');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      clientCredentials: { enabled: true },
      registration: { enabled: resources.size > 0 },
      resourceIndicators: {
        enabled: true,
        // Web clients (browser sign-in) get opaque access tokens; machine clients JWTs for the API.
        defaultResource: (_ctx, client) => (byId.has(client.clientId) ? audience : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => {
          const r = resources.get(resource);
          if (r)
            return {
              scope: r.scopes.join(' '),
              audience: r.url,
              accessTokenTTL: 300,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          if (resource !== audience) throw new Error(`unknown resource ${resource}`);
          return {
            scope: 'api:read',
            audience,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: byId.get(client.clientId)!.alg } },
          };
        },
      },
    },
    // A machine client's groups; a person's in tokens for a resource.
    extraTokenClaims: (_ctx, token) => {
      const person =
        'accountId' in token && resources.has(String(token.resourceServer?.audience))
          ? users.get(token.accountId)
          : undefined;
      return { groups: byId.get(String(token.clientId))?.groups ?? person?.groups ?? [] };
    },
  });
  let tamper: IdTokenTamper = null;
  let lastIdToken: Record<string, unknown> | null = null;
  const rs = keys.find((k) => k.alg === 'RS256')!;
  const rsKey = await importJWK(rs as JWK, 'RS256');
  const resign = async (token: string, t: NonNullable<IdTokenTamper>) => {
    const claims = decodeJwt(token);
    const now = Math.floor(Date.now() / 1000);
    const changed = {
      ...claims,
      ...(t.aud !== undefined ? { aud: t.aud } : {}),
      ...(t.iss !== undefined ? { iss: t.iss } : {}),
      ...(t.nonce !== undefined ? { nonce: t.nonce } : {}),
      ...(t.expiredBy !== undefined ? { iat: now - 3600, exp: now - t.expiredBy } : {}),
    };
    return new SignJWT(changed).setProtectedHeader({ alg: 'RS256', kid: rs.kid }).sign(rsKey);
  };
  let refuseTokens = false;
  provider.use(async (ctx, next) => {
    if (refuseTokens && ctx.path === '/token') {
      ctx.status = 400;
      ctx.body = { error: 'invalid_grant', error_description: 'grant revoked' };
      return;
    }
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if (ctx.path === '/token' && typeof body?.id_token === 'string') lastIdToken = decodeJwt(body.id_token);
    if (tamper && ctx.path === '/token' && body && typeof body.id_token === 'string')
      ctx.body = { ...body, id_token: await resign(body.id_token, tamper) };
  });
  provider.on('server_error', (_ctx: unknown, err: Error) =>
    console.error('oidc-provider server_error:', err),
  );
  provider.on('backchannel.error', (_ctx: unknown, err: Error) =>
    console.error('oidc-provider backchannel.error:', err.message),
  );
  const handle = provider.callback();
  server!.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/'))
      void interaction(provider, users, stepUp, req, res).catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${(e as Error).message}`);
      });
    else void handle(req, res);
  });
  return {
    issuer,
    audience,
    async token(clientId) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secretOf(clientId)}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'api:read',
          resource: audience,
        }),
      });
      const body = (await res.json()) as {
        access_token?: string;
        error?: string;
        error_description?: string;
      };
      if (!body.access_token)
        throw new Error(
          `token request for ${clientId} failed: ${res.status} ${body.error}: ${body.error_description}`,
        );
      return body.access_token;
    },
    tamperIdTokens: (t) => void (tamper = t),
    ignoreAcrValues: (on) => {
      if (stepUp) stepUp.ignore = on;
    },
    refuseTokenRequests: (on) => void (refuseTokens = on),
    lastIdTokenClaims: () => lastIdToken,
    async logoutToken(clientId, claims, overrides = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        aud: clientId,
        iat: now,
        exp: now + 120,
        jti: `jti-${Math.random()}`,
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        ...claims,
        ...overrides,
      })
        .setProtectedHeader({ alg: 'RS256', kid: rs.kid, typ: 'logout+jwt' })
        .sign(rsKey);
    },
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The provider's own pages: the login page (GET shows the form, POST checks the password and finishes
 * the interaction) and, for a client that registered itself, the consent page.
 */
async function interaction(
  provider: Provider,
  users: Map<string, TestUser>,
  stepUp: { basic: string; mfa: string; ignore: boolean } | null,
  req: IncomingMessage,
  res: import('node:http').ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'consent') {
    await consent(provider, details, req, res);
    return;
  }
  const asked = details.params.acr_values;
  const mfa =
    stepUp !== null && !stepUp.ignore && typeof asked === 'string' && asked.split(' ').includes(stepUp.mfa);
  if (req.method === 'POST') {
    const form = await readBody(req);
    const user = users.get(form.get('username') ?? '');
    if (
      !user ||
      user.password !== form.get('password') ||
      (mfa && (!user.otp || user.otp !== form.get('otp')))
    ) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(idpPage(details.uid, mfa, 'Invalid username, password or code'));
      return;
    }
    const login = stepUp
      ? { accountId: user.id, acr: mfa ? stepUp.mfa : stepUp.basic, amr: mfa ? ['pwd', 'otp'] : ['pwd'] }
      : { accountId: user.id };
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(idpPage(details.uid, mfa));
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The consent page: GET shows what the client asks for, POST grants it (the scopes of each resource too). */
async function consent(
  provider: Provider,
  details: Interaction,
  req: IncomingMessage,
  res: import('node:http').ServerResponse,
): Promise<void> {
  const asked = details.prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  if (req.method !== 'POST' || (await readBody(req)).get('consent') !== 'yes') {
    const what = Object.entries(asked.missingResourceScopes ?? {}).map(([r, s]) => `${r}: ${s.join(' ')}`);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><head><title>Example IdP consent</title></head><body><h1>Allow ${esc(String(details.params.client_id))}?</h1><p>${esc(what.join(', '))}</p>
<form method="post" action="/interaction/${esc(details.uid)}"><input type="hidden" name="consent" value="yes"><button type="submit">Allow</button></form></body></html>`);
    return;
  }
  const grant = details.grantId
    ? (await provider.Grant.find(details.grantId))!
    : new provider.Grant({
        accountId: details.session!.accountId,
        clientId: String(details.params.client_id),
      });
  if (asked.missingOIDCScope) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
  if (asked.missingOIDCClaims) grant.addOIDCClaims(asked.missingOIDCClaims);
  for (const [resource, scopes] of Object.entries(asked.missingResourceScopes ?? {}))
    grant.addResourceScope(resource, scopes.join(' '));
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId: await grant.save() } },
    { mergeWithLastSubmission: true },
  );
}

function idpPage(uid: string, mfa: boolean, error?: string): string {
  const otp = mfa ? '<label for="o">One-time code</label><input id="o" name="otp">' : '';
  return `<!doctype html><html><head><title>Example IdP sign-in</title></head><body><h1>Example IdP</h1>${error ? `<p id="idp-error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}"><label for="u">Username</label><input id="u" name="username"><label for="p">Password</label><input id="p" type="password" name="password">${otp}<button type="submit">Sign in to Example IdP</button></form></body></html>`;
}

/**
 * Sign a person in at the provider without a browser: follow the authorization URL through the login
 * form and, when asked, the consent page (with the provider's cookies, kept in `jar`) until it
 * redirects to `redirectUri`; returns that callback URL.
 */
export async function signInWithoutBrowser(
  authorizationUrl: string,
  redirectUri: string,
  user: { id: string; password: string; otp?: string },
  jar = new Map<string, string>(),
): Promise<string> {
  const cookieHeader = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const remember = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
  };
  let url = authorizationUrl;
  let init: RequestInit = {};
  for (let i = 0; i < 10; i++) {
    if (url.startsWith(redirectUri)) return url;
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: cookieHeader() },
    });
    remember(res);
    init = {};
    const location = res.headers.get('location');
    if (location) {
      url = new URL(location, url).toString();
      continue;
    }
    const html = await res.text();
    const action = /action="([^"]+)"/.exec(html);
    const form: Record<string, string> | null = html.includes('name="password"')
      ? {
          username: user.id,
          password: user.password,
          ...(html.includes('name="otp"') ? { otp: user.otp ?? '' } : {}),
        }
      : html.includes('name="consent"')
        ? { consent: 'yes' }
        : null;
    if (!action || !form) throw new Error(`unexpected page at ${url}: ${res.status} ${html.slice(0, 200)}`);
    url = new URL(action[1]!, url).toString();
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    };
  }
  throw new Error('too many redirects signing in');
}
