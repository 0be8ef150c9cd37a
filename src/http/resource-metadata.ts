// Protected resource metadata (RFC 9728): the document an MCP client reads to find a resource's authorization servers.
import { Hono, type Context } from 'hono';
import type { CompiledResource } from '../policy/compile.js';

/** Where RFC 9728 puts the metadata: this, then the resource url's path. */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The metadata documents of one policy version, found by the request's host and path. */
export interface ResourceMetadata {
  /** The JSON document for this Host header and path, or undefined for any other. */
  find(host: string | undefined, path: string): string | undefined;
}

/** A url's path as the metadata path takes it: none for `/`, else without a trailing slash. */
function trimmedPath(pathname: string): string {
  return pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

/** The metadata URL of a resource url: its origin, the well-known path, then its path (RFC 9728 §3.1). */
export function metadataUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${METADATA_PATH}${trimmedPath(u.pathname)}`;
}

/** The document, as RFC 9728 §2 names its members. */
function document(r: CompiledResource): string {
  return JSON.stringify({
    resource: r.url,
    authorization_servers: [...r.authorizationServers],
    scopes_supported: r.scopes,
    bearer_methods_supported: ['header'],
    ...(r.name !== null ? { resource_name: r.name } : {}),
  });
}

/** Host (lower-case) and port of a Host header; `[::1]:8080` → `[::1]`, `8080`. Null when it is not one. */
function splitHost(host: string): { name: string; port: string | null } | null {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host);
  if (!m?.[1]) return null;
  return { name: m[1].toLowerCase(), port: m[2] ?? null };
}

/**
 * Compile the documents of a policy's resources, keyed by the authority a client reaches them on
 * and the metadata path: the url's host, and its port when it names one (a url without a port is
 * found whatever port the Host header carries).
 */
export function compileResourceMetadata(resources: Iterable<CompiledResource>): ResourceMetadata {
  const byKey = new Map<string, string>();
  for (const r of resources) {
    const u = new URL(r.url);
    byKey.set(
      `${u.hostname}${u.port ? `:${u.port}` : ''}${METADATA_PATH}${trimmedPath(u.pathname)}`,
      document(r),
    );
  }
  return {
    find(host, path) {
      if (host === undefined || byKey.size === 0) return undefined;
      const h = splitHost(host);
      if (!h) return undefined;
      const p = path.length > METADATA_PATH.length ? trimmedPath(path) : path;
      return (h.port !== null ? byKey.get(`${h.name}:${h.port}${p}`) : undefined) ?? byKey.get(h.name + p);
    },
  };
}

/** Anyone may read the metadata, from any origin: it is public, and MCP clients in a browser read it too. */
const CORS = { 'access-control-allow-origin': '*' } as const;
const FOUND = {
  ...CORS,
  'content-type': 'application/json',
  // Clients and shared caches may keep it a while; a policy reload shows within five minutes.
  'cache-control': 'public, max-age=300',
} as const;
const PREFLIGHT = {
  ...CORS,
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': '*',
  'access-control-max-age': '300',
} as const;

/**
 * GET (and HEAD, OPTIONS) `/.well-known/oauth-protected-resource[/<path>]`: the document of the
 * resource this host and path name, read from the policy in force; 404 for anything else, as for
 * any unknown path, so it tells nothing of the other resources.
 */
export function resourceMetadataRoutes(current: () => ResourceMetadata): Hono {
  const app = new Hono();
  const answer = (c: Context) => {
    // The path as sent (Hono's c.req.path is percent-decoded; resource urls keep their encoding).
    const doc = current().find(c.req.header('host'), new URL(c.req.url).pathname);
    if (doc === undefined) return c.json({ error: 'not_found' }, 404, { 'cache-control': 'no-store' });
    if (c.req.method === 'OPTIONS') return c.body(null, 204, PREFLIGHT);
    return c.body(doc, 200, FOUND);
  };
  app.on(['GET', 'OPTIONS'], [METADATA_PATH, `${METADATA_PATH}/*`], answer);
  return app;
}
