// deploy/nginx and the ingress-nginx recipe (deploy/kubernetes/ingress-nginx) side by side through
// real nginx, in front of one warden and one echo upstream: every request gets the same decision
// from warden and the app sees the same identity; where ingress-nginx answers the client
// differently, the difference is the one named here (and in docs/deploy.md).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { find, K8S_DIR, parseManifests } from '../deploy/manifests.js';
import { startEcho, type Echo, type EchoedRequest } from './harness/echo.js';
import {
  APP_HOST,
  IDENTITY_HEADERS,
  KEYS,
  METHOD_OVERRIDE_HEADERS,
  OTHER_PRESET_HEADERS,
  policy,
  ROUTING_HEADERS,
  RULE,
  spellings,
  startE2eWarden,
  TIGHT_LIMIT,
  type E2eWarden,
} from './harness/fixture.js';
import { closeAndScan } from './harness/secrets.js';
import {
  controllerSettings,
  HEADERS_MORE_INSTALLED,
  recipeIngress,
  recipeIngresses,
  SET_MISC_INSTALLED,
  startIngressNginx,
} from './harness/ingress-nginx.js';
import { CLIENT_ADDRESS, openEventStream, send, sleep, type ClientResponse } from './harness/net.js';
import { NGINX_BIN, startNginx } from './harness/nginx.js';
import { describeNeeding } from './harness/process.js';
import { DEPLOY_DIR } from './harness/render.js';
import type { LogLine } from '../helpers/warden.js';
import type { Proxy } from './harness/proxy.js';
import { cacheKeyProblems } from '../deploy/recipe-checks.js';
import { ifStarted } from '../helpers/hooks.js';
import { setCookies } from '../oauth2/helpers.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';
import { KEYS as CONSOLE_KEYS, startConsole, type ConsoleSetup } from '../console/helpers.js';

const missing = !NGINX_BIN
  ? 'nginx is not installed (apt-get install nginx)'
  : !SET_MISC_INSTALLED
    ? 'nginx set-misc module is not installed (apt-get install libnginx-mod-http-set-misc): ingress-nginx has it built in'
    : !HEADERS_MORE_INSTALLED
      ? 'nginx headers-more module is not installed (apt-get install libnginx-mod-http-headers-more-filter): ingress-nginx has it built in'
      : null;

/** What warden decided, as its audit line says: the fields both recipes must agree on. */
const DECISION_FIELDS = [
  'decision',
  'reason',
  'status',
  'rule',
  'dialect',
  'method',
  'host',
  'path',
  'clientIp',
  'sub',
  'authMethod',
  'rateLimit',
] as const;
const IDENTITY = IDENTITY_HEADERS.map((h) => h.toLowerCase());
const SIGNIN = recipeIngress('demo-app').metadata.annotations!['nginx.ingress.kubernetes.io/auth-signin']!;
const BROWSER = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' };

describeNeeding('ingress-nginx recipe behaves as deploy/nginx (e2e)', missing, () => {
  let w: E2eWarden;
  let echo: Echo;
  let nginx: Proxy;
  let ingress: Proxy;

  beforeAll(async () => {
    w = await startE2eWarden();
    echo = await startEcho();
    nginx = await startNginx({ wardenPort: w.port, upstreamPort: echo.port });
    ingress = await startIngressNginx({ wardenPort: w.port, upstreamPort: echo.port });
  });
  afterAll(async () => {
    await ifStarted(ingress)?.stop();
    await ifStarted(nginx)?.stop();
    await ifStarted(echo)?.close();
    await closeAndScan(ifStarted(w));
  });

  async function through(
    proxy: Proxy,
    path: string,
    headers: Record<string, string | string[]>,
    method = 'GET',
  ) {
    const mark = w.audit.length;
    const seen = echo.seen.length;
    const res = await send(proxy.port, path, { method, headers: { host: APP_HOST, ...headers } });
    for (let i = 0; i < 20 && w.audit.length === mark; i++) await sleep(25);
    const last = w.audit.slice(mark).at(-1);
    const upstream = echo.seen.slice(seen);
    return { res, last, upstream };
  }

  const ctx = (proxy: Proxy, res: ClientResponse) =>
    `${proxy.kind}: ${res.status} ${res.body.slice(0, 200)}\n${proxy.log().slice(-1500)}`;
  const decision = (line: LogLine | undefined) =>
    Object.fromEntries(DECISION_FIELDS.map((f) => [f, line?.[f]]));
  const identity = (u: EchoedRequest[]) =>
    u[0] ? Object.fromEntries(IDENTITY.map((h) => [h, u[0]!.headers[h] ?? ''])) : null;

  /** The same request through both; warden's decision and the app's view must match. */
  async function both(path: string, headers: Record<string, string> = {}, method = 'GET') {
    const a = await through(nginx, path, headers, method);
    const b = await through(ingress, path, headers, method);
    expect(a.last, ctx(nginx, a.res)).toBeDefined();
    expect(decision(b.last), `${path}: ${ctx(ingress, b.res)}`).toEqual(decision(a.last));
    expect(identity(b.upstream), path).toEqual(identity(a.upstream));
    return { nginx: a, ingress: b };
  }

  it('sends warden what ingress-nginx sends: X-Original-URL, X-Original-Method, X-Sent-From, X-Auth-Request-Redirect, X-Forwarded-For', async () => {
    // The auth subrequest pointed at the echo server shows the request exactly as warden gets it.
    const probe = await startIngressNginx({ wardenPort: echo.port, upstreamPort: echo.port });
    try {
      const seen = echo.seen.length;
      const res = await send(probe.port, '/nodes/n1?x=1', {
        headers: { host: APP_HOST, 'x-forwarded-proto': 'https', 'x-api-key': 'k' },
      });
      expect(res.status).toBe(200);
      const sub = echo.seen[seen]!;
      expect(sub.url).toBe('/verify/nginx');
      expect(sub.method).toBe('GET');
      expect(sub.headers).toMatchObject({
        host: 'warden.warden.svc.cluster.local',
        'x-original-url': `http://${APP_HOST}/nodes/n1?x=1`,
        'x-original-method': 'GET',
        'x-sent-from': 'nginx-ingress-controller',
        'x-auth-request-redirect': '/nodes/n1?x=1',
        'x-forwarded-for': CLIENT_ADDRESS,
        'x-real-ip': CLIENT_ADDRESS,
        'x-api-key': 'k',
      });
      // Cleared by ingress-nginx: warden's nginx dialect takes the scheme from X-Original-URL.
      expect(sub.headers['x-forwarded-proto']).toBeUndefined();
    } finally {
      await probe.stop();
    }
    const r = await both('/nodes/n1?x=1', { 'x-api-key': KEYS.dev.key });
    expect(r.nginx.res.status).toBe(200);
    expect(r.ingress.res.status, ctx(ingress, r.ingress.res)).toBe(200);
    expect(r.ingress.last).toMatchObject({
      decision: 'allow',
      dialect: 'nginx',
      host: APP_HOST,
      path: '/nodes/n1',
      clientIp: CLIENT_ADDRESS,
      sub: 'dev',
      rule: RULE.nodes,
    });
    expect(r.ingress.upstream[0]!.url).toBe('/nodes/n1?x=1');
    expect(r.ingress.upstream[0]!.headers['x-user-id']).toBe('dev');
  });

  it('judges the original method, the raw path and the real client address alike', async () => {
    await both('/nodes/n1', { 'x-api-key': KEYS.viewer.key, 'content-length': '0' }, 'POST');
    for (const raw of [
      '/public/../admin/users',
      '/%61dmin/users',
      '//admin//users',
      '/admin%2Fusers',
      '/public/%252e%252e/admin',
    ]) {
      const r = await both(raw, { 'x-api-key': KEYS.viewer.key });
      expect(r.ingress.res.status, raw).toBe(403);
      expect(r.ingress.upstream, raw).toHaveLength(0);
    }
    const spoof = await both('/vip/lounge', {
      'x-api-key': KEYS.viewer.key,
      'x-forwarded-for': '6.6.6.6',
      'x-real-ip': '6.6.6.6',
    });
    expect(spoof.ingress.last).toMatchObject({ reason: 'network_not_allowed', clientIp: CLIENT_ADDRESS });
  });

  it("replaces client-sent identity headers with warden's, and drops the _ and . spellings", async () => {
    const spoofed = {
      'X-User-ID': 'root',
      'X-User-Roles': 'admin',
      'X-Auth-Method': 'session',
      X_User_ID: 'root',
      'X.User.Roles': 'admin',
    };
    for (const [path, key] of [
      ['/nodes/n2', KEYS.viewer.key],
      ['/public/page', undefined],
    ] as const) {
      const r = await both(path, { ...spoofed, ...(key ? { 'x-api-key': key } : {}) });
      expect(r.ingress.res.status).toBe(200);
      const raw = r.ingress.upstream[0]!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
      expect(raw.filter((n) => /^x[-_.]user[-_.]id$/.test(n))).toEqual(key ? ['x-user-id'] : []);
    }
  });

  it('API clients: 401 with WWW-Authenticate where auth-signin is not set (demo-app-api)', async () => {
    const r = await both('/api/items', { accept: 'application/json' });
    for (const side of [r.nginx, r.ingress]) {
      expect(side.res.status).toBe(401);
      expect(side.res.headers['www-authenticate']).toMatch(/^Bearer realm="warden"/);
      expect(side.upstream).toHaveLength(0);
    }
    const ok = await both('/api/items', { 'x-api-key': KEYS.viewer.key });
    expect(ok.ingress.res.status).toBe(200);
    expect(ok.ingress.last).toMatchObject({ rule: RULE.api });
  });

  it('browsers: a 302 to the sign-in page with the original URL as rd, on both', async () => {
    const path = '/nodes/n4?tab=a%20b&x=1';
    const r = await both(path, BROWSER);
    const original = `http://${APP_HOST}${path}`;
    for (const side of [r.nginx, r.ingress]) {
      expect(side.res.status, ctx(nginx, side.res)).toBe(302);
      expect(new URL(side.res.headers.location!).searchParams.get('rd')).toBe(original);
      expect(side.upstream).toHaveLength(0);
    }
    expect(r.ingress.res.headers.location!.startsWith(SIGNIN + '?rd=')).toBe(true);
  });

  it("differs where ingress-nginx cannot do otherwise: 401→302 under auth-signin, 429→500, nginx's own deny pages, a client's Host", async () => {
    // auth-signin turns every 401 into the redirect, an API client's too (hence demo-app-api).
    const api = await both('/nodes/n1', { accept: 'application/json' });
    expect(api.nginx.res.status).toBe(401);
    expect(api.ingress.res.status).toBe(302);
    // auth_request maps warden's 429 to 500; deploy/nginx's @warden_error restores it, ingress-nginx has no such hook without snippets.
    for (let i = 0; i < TIGHT_LIMIT; i++)
      await through(nginx, `/limited/${i}`, { 'x-api-key': KEYS.limited.key });
    const limitedNginx = await through(nginx, '/limited/over', { 'x-api-key': KEYS.limited.key });
    const limitedIngress = await through(ingress, '/limited/over', { 'x-api-key': KEYS.limited.key });
    expect(limitedNginx.res.status).toBe(429);
    expect(limitedIngress.res.status).toBe(500);
    expect(decision(limitedIngress.last)).toEqual(decision(limitedNginx.last));
    // 403: deploy/nginx answers JSON with warden's reason; ingress-nginx nginx's HTML page.
    const forbidden = await both('/admin/users', { 'x-api-key': KEYS.viewer.key });
    expect(forbidden.nginx.res.json()).toEqual({
      error: 'forbidden',
      reason: 'insufficient_permissions',
      required: ['admin:users'],
    });
    expect(forbidden.ingress.res.status).toBe(403);
    expect(forbidden.ingress.res.headers['content-type']).toMatch(/text\/html/);
    // X-Original-URL is built from $http_host: a request line naming another host is judged with the client's Host.
    const h = await through(ingress, `http://${APP_HOST}/nodes/n1`, {
      host: 'other.example.net',
      'x-api-key': KEYS.viewer.key,
    });
    expect(h.last).toMatchObject({ host: 'other.example.net' });
  });

  it('auth cache: an allow is reused only for the same client, request and credentials', async () => {
    const viewer = { 'x-api-key': KEYS.viewer.key };
    const first = await through(ingress, '/nodes/cached', viewer);
    expect(first.res.status).toBe(200);
    const again = await through(ingress, '/nodes/cached', viewer);
    expect(again.res.status).toBe(200);
    expect(
      again.last,
      'the second identical request is answered from the cache, not by warden',
    ).toBeUndefined();
    expect(again.upstream[0]!.headers['x-user-id']).toBe('viewer');
    // Another credential, none, another method or path: warden is asked again.
    const anon = await through(ingress, '/nodes/cached', { accept: 'application/json' });
    expect(anon.res.status).toBe(302);
    expect(anon.last).toMatchObject({ decision: 'unauthenticated' });
    const bearer = await through(ingress, '/nodes/cached', { authorization: 'Bearer wdn_wrong' });
    expect(bearer.last).toMatchObject({ decision: 'unauthenticated', reason: 'invalid_credentials' });
    const post = await through(ingress, '/nodes/cached', { ...viewer, 'content-length': '0' }, 'POST');
    expect(post.last).toMatchObject({ method: 'POST', decision: 'allow', sub: 'viewer' });
    const other = await through(ingress, '/nodes/cached2', viewer);
    expect(other.last).toMatchObject({ path: '/nodes/cached2', sub: 'viewer' });
  });

  it("a cache key without the credential would serve one client's allow to another (what cacheKeyProblems refuses)", async () => {
    const leaky = recipeIngresses().map((i) => {
      const copy = structuredClone(i);
      // The metadata Ingress has no auth-url, hence no cache.
      if (copy.metadata.annotations)
        copy.metadata.annotations['nginx.ingress.kubernetes.io/auth-cache-key'] = '$request_uri';
      return copy;
    });
    expect(cacheKeyProblems('$request_uri').length).toBeGreaterThan(0);
    const bad = await startIngressNginx({ wardenPort: w.port, upstreamPort: echo.port }, leaky);
    try {
      expect((await through(bad, '/nodes/leak', { 'x-api-key': KEYS.viewer.key })).res.status).toBe(200);
      const anon = await through(bad, '/nodes/leak', {});
      expect(anon.res.status).toBe(200);
      expect(anon.upstream[0]!.headers['x-user-id']).toBe('viewer');
      expect(anon.last).toBeUndefined();
    } finally {
      await bad.stop();
    }
  });

  it('clears what the client must not steer, as deploy/nginx does', async () => {
    const forged: Record<string, string> = {};
    for (const name of [...METHOD_OVERRIDE_HEADERS, ...ROUTING_HEADERS, ...OTHER_PRESET_HEADERS])
      for (const spelled of spellings(name)) forged[spelled] = 'forged';
    // ingress-nginx passes the client's headers to warden's auth subrequest: the other dialect
    // family's context headers there are refused (403 bad_forwarded_context), never passed on.
    const { 'X-Forwarded-Uri': uri, 'X-Forwarded-Method': method, ...passing } = forged;
    const refused = await through(ingress, '/nodes/steer', { 'x-api-key': KEYS.viewer.key, ...forged });
    expect(refused.res.status, ctx(ingress, refused.res)).toBe(403);
    expect(refused.last).toMatchObject({ reason: 'bad_forwarded_context' });
    expect(refused.upstream).toHaveLength(0);
    expect([uri, method]).toEqual(['forged', 'forged']);
    for (const [proxy, headers] of [
      [nginx, forged],
      [ingress, passing],
    ] as const) {
      const r = await through(
        proxy,
        '/nodes/steer',
        { 'x-api-key': KEYS.viewer.key, ...headers, 'x-forwarded-for': '198.51.100.1' },
        'POST',
      );
      expect(r.res.status, ctx(proxy, r.res)).toBe(200);
      const raw = r.upstream[0]!.rawHeaders;
      for (let i = 0; i < raw.length; i += 2)
        expect(raw[i + 1], `${proxy.kind}: the app got ${raw[i]}`).not.toBe('forged');
      expect(r.upstream[0]!.headers['x-forwarded-for'], proxy.kind).toBe(CLIENT_ADDRESS);
    }
  });

  it('the app gets no client-written entry in any forwarded-for header (X-Original-Forwarded-For included)', async () => {
    const written = ['198.51.100.1', '198.51.100.2, 198.51.100.3'];
    const sent = {
      'x-api-key': KEYS.viewer.key,
      'x-forwarded-for': written[0]!,
      'x-real-ip': '198.51.100.4',
    };
    // On a protected path, and on a public one with two X-Forwarded-For lines (nginx joins them
    // in $http_x_forwarded_for).
    const requests = [
      await through(ingress, '/nodes/xff', sent),
      await through(ingress, '/public/xff', { ...sent, 'x-forwarded-for': written }),
    ];
    for (const r of requests) {
      expect(r.res.status, ctx(ingress, r.res)).toBe(200);
      expect(r.last).toMatchObject({ clientIp: CLIENT_ADDRESS });
      const app = r.upstream[0]!;
      expect(app.headers['x-forwarded-for']).toBe(CLIENT_ADDRESS);
      expect(app.headers['x-real-ip']).toBe(CLIENT_ADDRESS);
      expect(app.headers['x-original-forwarded-for']).toBeUndefined();
      for (let i = 0; i < app.rawHeaders.length; i += 2)
        expect(app.rawHeaders[i + 1], `the app got ${app.rawHeaders[i]}`).not.toMatch(/198\.51\.100\./);
    }
  });

  it("without the recipe's http-snippet the client's X-Forwarded-For reaches the app as X-Original-Forwarded-For", async () => {
    const { 'http-snippet': snippet, ...rest } = controllerSettings();
    expect(snippet).toMatch(/more_clear_input_headers X-Forwarded-For;/);
    const bare = await startIngressNginx({ wardenPort: w.port, upstreamPort: echo.port, settings: rest });
    try {
      const r = await through(bare, '/nodes/xff', {
        'x-api-key': KEYS.viewer.key,
        'x-forwarded-for': '198.51.100.1',
      });
      expect(r.res.status).toBe(200);
      expect(r.upstream[0]!.headers['x-forwarded-for']).toBe(CLIENT_ADDRESS);
      expect(r.upstream[0]!.headers['x-original-forwarded-for']).toBe('198.51.100.1');
    } finally {
      await bare.stop();
    }
    // Nor does an empty proxy-set-headers entry of that name: it adds a second proxy_set_header
    // after the template's, and nginx sends every one whose value is not empty.
    const proxyHeaders = { 'X-Original-Forwarded-For': '' };
    const entry = await startIngressNginx({
      wardenPort: w.port,
      upstreamPort: echo.port,
      settings: rest,
      proxyHeaders,
    });
    try {
      const r = await through(entry, '/nodes/xff', {
        'x-api-key': KEYS.viewer.key,
        'x-forwarded-for': '198.51.100.1',
      });
      expect(r.upstream[0]!.headers['x-original-forwarded-for']).toBe('198.51.100.1');
    } finally {
      await entry.stop();
    }
  });

  it('the recipe is what ran: every Ingress was rendered', () => {
    expect(recipeIngresses().map((i) => i.metadata.name)).toEqual([
      'demo-app',
      'demo-app-api',
      'warden-sign-in',
      'warden-resource-metadata',
      'warden-console',
    ]);
  });
});

// warden's own sign-in, as the recipe configures it (base/deployment.yaml's WARDEN_PUBLIC_URL, no
// WARDEN_LOGIN_URL): demo-app's auth-signin sends a browser to /oauth2/login on the app's host, and
// the Ingress warden-sign-in serves it from warden without asking /verify. Signed in with a dev user
// (rbac/dev-users.yaml, docs/sign-in.md) through the same nginx, the browser reaches the app.
describeNeeding("ingress-nginx recipe: warden's sign-in on the app host (e2e)", missing, () => {
  const wardenEnv = Object.fromEntries(
    (
      find(parseManifests(join(K8S_DIR, 'base/deployment.yaml')), 'Deployment', 'warden').spec.template.spec
        .containers[0].env as { name: string; value?: string }[]
    ).map((e) => [e.name, e.value]),
  );
  const PUBLIC_URL = wardenEnv.WARDEN_PUBLIC_URL!;
  let w: TestWarden | undefined;
  let echo: Echo | undefined;
  let ingress: Proxy | undefined;
  /** The recipe with the echo app standing in for warden: what the Ingress warden-sign-in forwards. */
  let probe: Proxy | undefined;

  beforeAll(async () => {
    w = await startWarden({
      policy: policy(),
      keys: Object.values(KEYS).map((k) => k.entry),
      env: {
        WARDEN_PUBLIC_URL: PUBLIC_URL,
        WARDEN_SESSION_SECRET: randomBytes(32).toString('base64'),
        WARDEN_DEV_USERS: join(DEPLOY_DIR, '../rbac/dev-users.yaml'),
        WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
      },
    });
    echo = await startEcho();
    ingress = await startIngressNginx({ wardenPort: w.port, upstreamPort: echo.port });
    probe = await startIngressNginx({ wardenPort: echo.port, upstreamPort: echo.port });
  });
  afterAll(async () => {
    await probe?.stop();
    await ingress?.stop();
    await echo?.close();
    await w?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    send(ingress!.port, path, { headers: { host: APP_HOST, ...headers } });
  const verifies = () => w!.audit.filter((l) => l.dialect !== undefined).length;

  it('the recipe signs in at warden: auth-signin is <WARDEN_PUBLIC_URL>/oauth2/login, on the app host', () => {
    expect(wardenEnv.WARDEN_LOGIN_URL).toBeUndefined();
    expect(SIGNIN).toBe(`${PUBLIC_URL}/oauth2/login`);
    expect(new URL(PUBLIC_URL).host).toBe(APP_HOST);
  });

  it("a browser without credentials is sent to /oauth2/login on the app host, which nginx serves from warden's sign-in page", async () => {
    const path = '/nodes/n1?tab=a%20b';
    const original = `http://${APP_HOST}${path}`;
    const anonymous = await get(path, BROWSER);
    expect(anonymous.status, ingress!.log().slice(-1500)).toBe(302);
    const location = new URL(anonymous.headers.location!);
    expect(location.origin).toBe(PUBLIC_URL);
    expect(location.pathname).toBe('/oauth2/login');
    expect(location.searchParams.get('rd')).toBe(original);
    expect(echo!.seen).toHaveLength(0);

    // The browser follows it: the same nginx (the app's host), the Ingress warden-sign-in, warden.
    const asked = verifies();
    const page = await get(location.pathname + location.search, BROWSER);
    expect(page.status, `${page.body.slice(0, 300)}\n${ingress!.log().slice(-1500)}`).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toMatch(/no-store/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    // The dev users' form, posting back to /oauth2/login (relative to the page).
    expect(page.body).toMatch(/<form method="post" action="login">/);
    expect(page.body).toMatch(/name="username"/);
    // warden kept the original URL to come back to (its own host is an allowed rd).
    expect(/name="rd" value="([^"]+)"/.exec(page.body)?.[1]?.replaceAll('&amp;', '&')).toBe(original);
    // Not through the auth subrequest, and not to the app.
    expect(verifies()).toBe(asked);
    expect(echo!.seen).toHaveLength(0);
  });

  it('a dev user signs in through the same nginx and comes back to the app with a session', async () => {
    const path = '/nodes/n2';
    const original = `http://${APP_HOST}${path}`;
    const page = await get(`/oauth2/login?rd=${encodeURIComponent(original)}`, BROWSER);
    expect(page.status).toBe(200);
    const csrf = [...setCookies(page)].find(([n]) => n.endsWith('warden_csrf'))!;
    const token = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const signedIn = await send(ingress!.port, '/oauth2/login', {
      method: 'POST',
      headers: {
        host: APP_HOST,
        origin: PUBLIC_URL,
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `${csrf[0]}=${csrf[1]}`,
      },
      body: new URLSearchParams({
        csrf: token,
        rd: original,
        username: 'viewer',
        password: 'viewer-demo-pass',
      }).toString(),
    });
    expect(signedIn.status, signedIn.body.slice(0, 300)).toBe(303);
    expect(signedIn.headers.location).toBe(original);
    // WARDEN_PUBLIC_URL is https on the app's host: a host-only __Host- cookie for it.
    const session = setCookies(signedIn).get('__Host-warden');
    expect(session).toBeDefined();
    const seen = echo!.seen.length;
    const back = await get(path, { ...BROWSER, cookie: `__Host-warden=${session}` });
    expect(back.status, back.body.slice(0, 300)).toBe(200);
    expect(echo!.seen.slice(seen)[0]?.headers).toMatchObject({
      'x-user-id': 'viewer',
      'x-auth-method': 'session',
    });
  });

  it('only /oauth2 and the paths below it skip /verify; a forged identity header signs nobody in', async () => {
    // Not a path element below /oauth2: the demo-app Ingress asks /verify, and this policy (no rule
    // for them, default deny) refuses them.
    for (const path of ['/oauth2x/login', '/oauth2-login']) {
      const mark = w!.audit.length;
      const res = await get(path, BROWSER);
      expect(res.status, path).toBe(403);
      expect(w!.audit.slice(mark).at(-1), path).toMatchObject({
        dialect: 'nginx',
        decision: 'forbidden',
        path,
      });
    }
    const who = await get('/oauth2/userinfo', {
      accept: 'application/json',
      'x-user-id': 'admin',
      'x-user-roles': 'admin',
      'x-auth-method': 'session',
    });
    expect(who.status, who.body).toBe(401);
  });

  it('clears on /oauth2 what the controller clears on every Ingress, and forwards the cookie', async () => {
    const forged: Record<string, string> = {};
    for (const name of [...METHOD_OVERRIDE_HEADERS, ...ROUTING_HEADERS, ...OTHER_PRESET_HEADERS])
      for (const spelled of spellings(name)) forged[spelled] = 'forged';
    const before = echo!.seen.length;
    const res = await send(probe!.port, '/oauth2/callback?code=c&state=s', {
      headers: {
        host: APP_HOST,
        cookie: 'warden_flow_x=the-flow',
        'x-forwarded-for': '198.51.100.1',
        ...forged,
      },
    });
    expect(res.status, res.body).toBe(200);
    const seen = echo!.seen.slice(before);
    // Straight to "warden" (here the echo), never through the auth subrequest first.
    expect(seen.map((r) => r.url)).toEqual(['/oauth2/callback?code=c&state=s']);
    const raw = seen[0]!.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) expect(raw[i + 1], `warden got ${raw[i]}`).not.toBe('forged');
    expect(seen[0]!.headers).toMatchObject({
      host: APP_HOST,
      cookie: 'warden_flow_x=the-flow',
      'x-forwarded-for': CLIENT_ADDRESS,
    });
    expect(seen[0]!.headers['x-original-forwarded-for']).toBeUndefined();
  });
});

// The console Ingress (WARDEN_CONSOLE=true): /console to warden with no auth-url, so that warden
// judges access itself, and its live feed unbuffered even where the controller buffers by default.
describeNeeding('ingress-nginx recipe: the console (e2e)', missing, () => {
  let s: ConsoleSetup | undefined;
  let echo: Echo | undefined;
  let ingress: Proxy | undefined;

  beforeAll(async () => {
    s = await startConsole();
    echo = await startEcho();
    ingress = await startIngressNginx({ wardenPort: s.w.port, upstreamPort: echo.port });
  });
  afterAll(async () => {
    await ingress?.stop();
    await echo?.close();
    await s?.close();
  });

  const verifies = () => s!.w.audit.filter((l) => l.dialect !== undefined).length;

  it('reaches warden without /verify: warden asks for a console permission itself', async () => {
    const asked = verifies();
    const get = (headers: Record<string, string>) =>
      send(ingress!.port, '/console/', { headers: { host: APP_HOST, ...headers } });
    const anonymous = await get({ accept: 'application/json' });
    expect(anonymous.status, anonymous.body).toBe(401);
    // A key the policy lets through everywhere (/** is public) but without warden:console.
    expect((await get({ 'x-api-key': CONSOLE_KEYS.dev.key })).status).toBe(403);
    const page = await get({ 'x-api-key': CONSOLE_KEYS.watcher.key, accept: 'text/html' });
    expect(page.status, page.body.slice(0, 300)).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(verifies()).toBe(asked);
    expect(echo!.seen).toHaveLength(0);
  });

  it('streams the live feed as warden writes it, also where the controller buffers responses', async () => {
    const settings = { ...controllerSettings(), 'proxy-buffering': 'on' };
    const buffered = await startIngressNginx({ wardenPort: s!.w.port, upstreamPort: echo!.port, settings });
    try {
      for (const proxy of [ingress!, buffered]) {
        const live = await openEventStream(proxy.port, '/console/events', {
          host: APP_HOST,
          'x-api-key': CONSOLE_KEYS.watcher.key,
        });
        try {
          expect(live.status).toBe(200);
          await live.next((e) => e.includes('event: hello'));
          expect(live.headers['content-type']).toMatch(/^text\/event-stream/);
        } finally {
          live.close();
        }
      }
    } finally {
      await buffered.stop();
    }
  });
});

// An MCP server on the API Ingress (no auth-signin: MCP clients need the 401), its resource
// declared in warden's policy: the client follows the challenge to the metadata, which the
// recipe's third Ingress serves from warden without asking /verify.
describeNeeding('ingress-nginx recipe: an MCP server as a protected resource (e2e)', missing, () => {
  const RESOURCE = `https://${APP_HOST}/api/mcp`;
  const METADATA = '/.well-known/oauth-protected-resource/api/mcp';
  let idp: TestIssuer | undefined;
  let w: TestWarden | undefined;
  let echo: Echo | undefined;
  let ingress: Proxy | undefined;

  beforeAll(async () => {
    idp = await startIssuer([await makeKey('ES256')]);
    w = await startWarden({
      policy: {
        roles: { agent: ['mcp:use'] },
        resources: [
          { id: 'memory', url: RESOURCE, authorizationServers: [idp.issuer], scopes: ['mcp:tools'] },
        ],
        rules: [
          { match: { path: '/api/mcp/**' }, resource: 'memory', require: ['mcp:use'], scopes: ['mcp:tools'] },
        ],
      },
      env: {
        WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
        WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: 'https://api.example.com' }]),
      },
    });
    echo = await startEcho();
    ingress = await startIngressNginx({ wardenPort: w.port, upstreamPort: echo.port });
  });
  afterAll(async () => {
    await ingress?.stop();
    await echo?.close();
    await w?.close();
    await idp?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    send(ingress!.port, path, { headers: { host: APP_HOST, ...headers } });
  const call = (headers: Record<string, string>) =>
    send(ingress!.port, '/api/mcp', {
      method: 'POST',
      headers: {
        host: APP_HOST,
        accept: 'application/json, text/event-stream',
        'content-length': '0',
        ...headers,
      },
    });

  it('a client without a token follows the 401 challenge to the metadata, served by warden to anyone', async () => {
    const challenge = await call({});
    expect(challenge.status, challenge.body).toBe(401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge.headers['www-authenticate'] ?? '')?.[1];
    expect(metadataUrl).toBe(`https://${APP_HOST}${METADATA}`);

    const seen = echo!.seen.length;
    const verified = w!.audit.length;
    const res = await get(new URL(metadataUrl!).pathname, { authorization: 'Bearer not-looked-at' });
    expect(res.status, `${res.body}\n${ingress!.log().slice(-1500)}`).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.json()).toEqual({
      resource: RESOURCE,
      authorization_servers: [idp!.issuer],
      scopes_supported: ['mcp:tools'],
      bearer_methods_supported: ['header'],
    });
    // Neither the app nor /verify saw it: no auth subrequest on that Ingress.
    expect(echo!.seen.length).toBe(seen);
    expect(w!.audit.length).toBe(verified);
  });

  it('sends only that prefix to warden: other paths stay behind auth-url and reach the app', async () => {
    // Below the prefix, for no resource: warden's 404.
    expect((await get('/.well-known/oauth-protected-resource/other')).status).toBe(404);
    expect((await get('/.well-known/oauth-protected-resource')).status).toBe(404);
    // Not a path element below it, nor warden's own endpoints: the demo-app Ingress asks /verify,
    // which this policy (no rule for them, default deny) refuses.
    for (const path of ['/.well-known/oauth-protected-resourcex', '/verify/nginx', '/metrics']) {
      const mark = w!.audit.length;
      const res = await get(path, { accept: 'application/json' });
      expect(res.status, path).toBe(403);
      expect(w!.audit.slice(mark).at(-1), path).toMatchObject({
        dialect: 'nginx',
        decision: 'forbidden',
        path,
      });
    }
  });

  it('passes a token bound to the resource; the 403 insufficient_scope challenge is lost (no snippets)', async () => {
    const token = (claims: Record<string, unknown>) =>
      idp!.mint({ sub: 'agent-1', aud: RESOURCE, groups: ['agent'], ...claims });
    const seen = echo!.seen.length;
    const ok = await call({ authorization: `Bearer ${await token({ scope: 'mcp:tools' })}` });
    expect(ok.status, ok.body).toBe(200);
    expect(echo!.seen.slice(seen)[0]?.headers['x-user-id']).toBe('agent-1');
    // auth_request answers a 403 with nginx's own page and none of warden's headers: an MCP client
    // cannot step up its scopes from it (deploy/nginx's @warden_forbidden passes the header on).
    const narrow = await call({ authorization: `Bearer ${await token({ scope: 'openid' })}` });
    expect(narrow.status).toBe(403);
    expect(narrow.headers['www-authenticate']).toBeUndefined();
    expect(w!.audit.at(-1)).toMatchObject({ reason: 'insufficient_scope' });
  });
});
