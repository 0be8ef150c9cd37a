// Which dialect a /verify request target asks for, and the fast path that serves it from node:http.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dialect } from './dialects.js';
import { HeaderMap } from './header-map.js';
import { errorResponse, type Answer } from './respond.js';
import { trustedPeer } from '../request/client-ip.js';
import type { RequestBody } from '../request/description.js';
import { announcesBody, readBody } from './read-body.js';
import { verify, type RawAuthRequest, type VerifyDeps } from './verify.js';

/** A /verify target resolved to its dialect. */
export interface VerifyRoute {
  dialect: Dialect;
  /** For Envoy: the original path and query, after the prefix. */
  pathAfterPrefix: string;
}

const ENVOY = '/verify/envoy';

/**
 * Resolve a raw request target (`/verify/nginx`, `/verify/caddy?x=1`, `/verify/envoy/api/x?q`)
 * to a dialect; null when it is not a /verify endpoint.
 */
export function resolveVerify(target: string, defaultDialect: Dialect): VerifyRoute | null {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  switch (path) {
    case '/verify/traefik':
      return { dialect: 'traefik', pathAfterPrefix: '' };
    case '/verify/caddy':
      return { dialect: 'caddy', pathAfterPrefix: '' };
    case '/verify/nginx':
      return { dialect: 'nginx', pathAfterPrefix: '' };
    case '/verify':
      return { dialect: defaultDialect, pathAfterPrefix: '' };
  }
  // Envoy appends the original path to the configured path_prefix. With WARDEN_PROXY=envoy the
  // prefix is bare /verify, and everything after it is the original path, /envoy/… included: else
  // a request for /envoy/public/x would be judged as /public/x while the app serves /envoy/public/x.
  if (defaultDialect === 'envoy' && path.startsWith('/verify/'))
    return { dialect: 'envoy', pathAfterPrefix: target.slice('/verify'.length) };
  if (path === ENVOY || path.startsWith(ENVOY + '/'))
    return { dialect: 'envoy', pathAfterPrefix: target.slice(ENVOY.length) };
  return null;
}

function write(req: IncomingMessage, res: ServerResponse, a: Answer): void {
  try {
    // The proxy does not use a Date on an auth answer: fewer bytes to write and parse.
    res.sendDate = false;
    // Nor `Connection: keep-alive` and `Keep-Alive: timeout=…`: an HTTP/1.1 connection persists by
    // default, and every header the proxy parses costs it CPU on every request. A connection that is
    // closing (shutdown, HTTP/1.0, the client's own `Connection: close`) still says `Connection: close`.
    if (res.shouldKeepAlive && req.httpVersion === '1.1') res.removeHeader('connection');
    res.writeHead(a.status, a.headers);
    res.end(a.body ?? undefined);
  } catch {
    // An invalid header value must never take the process down; the proxy sees a dead auth answer.
    if (!res.headersSent) {
      const e = errorResponse();
      res.writeHead(e.status, e.headers);
      res.end(e.body);
    } else res.destroy();
  }
}

/**
 * Serve /verify straight from node:http, without building Fetch Request/Response objects: the
 * request every proxied request pays for. Returns false for any other target (Hono serves it).
 */
export function createVerifyListener(
  deps: VerifyDeps,
  defaultDialect: Dialect,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const target = req.url ?? '';
    if (!target.startsWith('/verify')) return false;
    const route = resolveVerify(target, defaultDialect);
    if (!route) return false;
    // A body is read only from a trusted proxy, and only when a rule has mcp sub-rules to judge it.
    if (
      deps.state.current.policy.readsBodies &&
      announcesBody(req) &&
      trustedPeer(deps.trustedProxies, req.socket.remoteAddress)
    ) {
      readBody(req, deps.mcpMaxBody ?? DEFAULT_MCP_MAX_BODY).then(
        (body) => {
          reply(req, res, deps, route, body);
        },
        () => {
          write(req, res, errorResponse());
        },
      );
      return true;
    }
    reply(req, res, deps, route, null);
    return true;
  };
}

/** `WARDEN_MCP_MAX_BODY`'s default: 1 MiB. */
export const DEFAULT_MCP_MAX_BODY = 1024 * 1024;

function rawOf(req: IncomingMessage, route: VerifyRoute, body: RequestBody | null): RawAuthRequest {
  return {
    method: req.method ?? 'GET',
    pathAfterPrefix: route.pathAfterPrefix,
    peer: req.socket.remoteAddress,
    headers: HeaderMap.fromIncoming(req.rawHeaders, req.headers),
    body,
  };
}

/** Verify and write the answer, now or when it settles; an exception is a 500. */
function reply(
  req: IncomingMessage,
  res: ServerResponse,
  deps: VerifyDeps,
  route: VerifyRoute,
  body: RequestBody | null,
): void {
  let answer: Answer | Promise<Answer>;
  try {
    answer = verify(deps, route.dialect, rawOf(req, route, body));
  } catch {
    answer = errorResponse();
  }
  if (answer instanceof Promise)
    answer.then(
      (a) => {
        write(req, res, a);
      },
      () => {
        write(req, res, errorResponse());
      },
    );
  else write(req, res, answer);
}
