// createApp(deps) → the Hono app: /verify dialects, health, readiness, metrics. No env, no listen.
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import type { Dialect } from './http/dialects.js';
import { HeaderMap } from './http/header-map.js';
import { errorResponse } from './http/respond.js';
import { verify, type VerifyDeps } from './http/verify.js';
import type { Services } from './services.js';
import { adminRoutes } from './http/admin.js';

/** Everything the app needs from the outside. */
export interface AppDeps extends VerifyDeps {
  /** Dialect of bare `/verify` (`WARDEN_PROXY`). */
  defaultDialect: Dialect;
  services: Pick<Services, 'ready' | 'revocations' | 'store'>;
  /** False while starting or draining. */
  isReady: () => boolean;
}

type Env = { Bindings: { incoming?: IncomingMessage } };

const DIALECTS: readonly Dialect[] = ['traefik', 'caddy', 'nginx', 'envoy'];

function rawRequest(c: Context<Env>, pathAfterPrefix: string) {
  const incoming = c.env?.incoming;
  return {
    method: c.req.method,
    pathAfterPrefix,
    peer: incoming?.socket?.remoteAddress,
    headers: incoming?.rawHeaders ? HeaderMap.fromRaw(incoming.rawHeaders) : HeaderMap.fromHeaders(c.req.raw.headers),
  };
}

/** The raw path and query after `prefix`, taken from the request target as sent (never re-encoded). */
function afterPrefix(c: Context<Env>, prefix: string): string {
  const target = c.env?.incoming?.url ?? new URL(c.req.url).pathname + new URL(c.req.url).search;
  return target.startsWith(prefix) ? target.slice(prefix.length) : '';
}

/** Build the HTTP application. */
export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const s = deps.services.ready();
    const parts = { policy: deps.state.current !== undefined, store: s.ready, revocations: s.revocations, bans: s.bans, accepting: deps.isReady() };
    const ready = parts.policy && parts.store && parts.accepting;
    return c.json({ ready, parts, store: { kind: deps.services.store.kind, state: s.store } }, ready ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    const body = await deps.metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': deps.metrics.registry.contentType });
  });

  for (const dialect of DIALECTS) {
    if (dialect === 'envoy') continue;
    app.all(`/verify/${dialect}`, (c) => verify(deps, dialect, rawRequest(c, '')));
  }
  // Envoy appends the original path to the configured path_prefix: /verify/envoy/<original path>.
  app.all('/verify/envoy/*', (c) => verify(deps, 'envoy', rawRequest(c, afterPrefix(c, '/verify/envoy'))));
  app.all('/verify/envoy', (c) => verify(deps, 'envoy', rawRequest(c, '')));
  app.all('/verify', (c) => verify(deps, deps.defaultDialect, rawRequest(c, '')));
  if (deps.defaultDialect === 'envoy') {
    app.all('/verify/*', (c) => verify(deps, 'envoy', rawRequest(c, afterPrefix(c, '/verify'))));
  }

  app.route('/admin', adminRoutes(deps));

  app.notFound((c) => c.json({ error: 'not_found' }, 404));
  app.onError(() => errorResponse());
  return app;
}
