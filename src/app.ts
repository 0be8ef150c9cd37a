// createApp(deps) → the Hono app: /verify dialects, health, readiness, metrics, admin, resource metadata. No env, no listen.
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import type { JWK } from 'jose';
import type { Dialect } from './http/dialects.js';
import { HeaderMap } from './http/header-map.js';
import { resourceMetadataRoutes } from './http/resource-metadata.js';
import { errorResponse, toResponse } from './http/respond.js';
import { resolveVerify } from './http/verify-route.js';
import { verify, type VerifyDeps } from './http/verify.js';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';
import type { Services } from './services.js';
import { adminRoutes } from './http/admin.js';
import type { AuditView } from './audit/view.js';
import type { ConsoleDeps } from './console/deps.js';
import { consoleRoutes } from './console/routes.js';

/** Everything the app needs from the outside. */
export interface AppDeps extends VerifyDeps {
  /** Dialect of bare `/verify` (`WARDEN_PROXY`). */
  defaultDialect: Dialect;
  services: Pick<Services, 'revocations' | 'store'> &
    Partial<Pick<Services, 'storedKeys' | 'adminBans' | 'alertLog'>>;
  /** `WARDEN_TRUSTED_PROXIES` as written: no admin ban may cover one of them. */
  trustedProxyCidrs?: readonly string[];
  /** True when WARDEN_ALERT_WEBHOOK_URL is set (GET /admin/alerts says so). */
  alertWebhook?: boolean;
  /** Named readiness checks (policy, keys, store, accepting; JWKS and OIDC add theirs). */
  readiness: Readiness;
  /** False when /metrics is served on WARDEN_METRICS_PORT instead, or metrics are off. */
  serveMetrics: boolean;
  /** The public keys of audit checkpoints, listed at /.well-known/jwks.json after the assertion keys. */
  auditKeys?: JWK[] | null;
  /** The /oauth2 sign-in routes, when sign-in is configured. */
  signIn?: Hono<Env> | null;
  /** The audit search and overview behind /admin/audit and /admin/overview. */
  auditView?: AuditView | null;
  /** The web console's dependencies with WARDEN_CONSOLE=true (it calls the admin routes built here). */
  console?: Omit<ConsoleDeps, 'admin'> | null;
}

type Env = { Bindings: { incoming?: IncomingMessage } };

/** Node's request under @hono/node-server; in-process requests (`app.request()`) have no env at all. */
function incomingOf(c: Context<Env>): IncomingMessage | undefined {
  return (c.env as Env['Bindings'] | undefined)?.incoming;
}

function rawRequest(c: Context<Env>, pathAfterPrefix: string) {
  const incoming = incomingOf(c);
  return {
    method: c.req.method,
    pathAfterPrefix,
    peer: incoming?.socket.remoteAddress,
    headers: incoming?.rawHeaders
      ? HeaderMap.fromRaw(incoming.rawHeaders)
      : HeaderMap.fromHeaders(c.req.raw.headers),
  };
}

/** The request target as sent (never re-encoded); in-process requests have only their URL. */
function requestTarget(c: Context<Env>): string {
  const raw = incomingOf(c)?.url;
  if (raw !== undefined) return raw;
  const u = new URL(c.req.url);
  return u.pathname + u.search;
}

/** GET /metrics alone: on the main app, or on its own port (WARDEN_METRICS_PORT). */
export function metricsRoutes(metrics: Metrics): Hono {
  const app = new Hono();
  app.get('/metrics', async (c) => {
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}

/** Build the HTTP application. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const report = deps.readiness.report();
    const store = { kind: deps.services.store.kind, state: deps.services.store.status().detail };
    return c.json({ ...report, store }, report.ready ? 200 : 503, { 'cache-control': 'no-store' });
  });
  if (deps.serveMetrics) app.route('/', metricsRoutes(deps.metrics));

  // The same resolution as the node:http fast path in main.ts, for in-process use (app.request).
  const verifyHandler = async (c: Context<Env>) => {
    const route = resolveVerify(requestTarget(c), deps.defaultDialect);
    if (!route) return c.json({ error: 'not_found' }, 404, { 'cache-control': 'no-store' });
    return toResponse(await verify(deps, route.dialect, rawRequest(c, route.pathAfterPrefix)));
  };
  app.all('/verify', verifyHandler);
  app.all('/verify/*', verifyHandler);

  const admin = adminRoutes(deps);
  app.route('/admin', admin);
  // The console answers for itself (its own access check): no policy rule reaches it.
  if (deps.console) {
    app.route(
      '/',
      consoleRoutes({
        ...deps.console,
        admin: (req, env) => admin.fetch(req, env as Env['Bindings'] | undefined),
      }),
    );
  }
  // Protected resource metadata (RFC 9728) of the policy in force, chosen by Host and path.
  app.route(
    '/',
    resourceMetadataRoutes(() => deps.state.current.resourceMetadata),
  );
  if (deps.signIn) app.route('/oauth2', deps.signIn);

  // The public keys of X-Warden-Assertion (apps verify assertions against them) and of audit
  // checkpoints (auditors verify the trail); every kid is distinct, a key's thumbprint.
  app.get('/.well-known/jwks.json', (c) =>
    deps.assertion || deps.auditKeys
      ? c.json({ keys: [...(deps.assertion?.jwks().keys ?? []), ...(deps.auditKeys ?? [])] }, 200, {
          'cache-control': 'public, max-age=30',
        })
      : c.json(
          { error: 'not_found', message: 'neither WARDEN_ASSERTION_KEY nor WARDEN_AUDIT_SIGNING_KEY is set' },
          404,
          { 'cache-control': 'no-store' },
        ),
  );

  app.notFound((c) => c.json({ error: 'not_found' }, 404, { 'cache-control': 'no-store' }));
  app.onError(() => toResponse(errorResponse()));
  return app;
}
