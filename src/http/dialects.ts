// Proxy dialects: each turns only its own proxy's headers into a RequestDescription.
import { canonicalizePath, matchKey } from '../request/canonical-path.js';
import { deriveClientIp, type Address } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';
import type { CidrSet } from '../request/cidr-set.js';
import { normalizeHost } from '../policy/matchers.js';
import type { HeaderMap } from './header-map.js';

/** The proxies warden speaks to. */
export type Dialect = 'traefik' | 'caddy' | 'nginx' | 'envoy';

/** Why a description could not be built. */
export type DescribeResult =
  | { ok: true; req: RequestDescription }
  | {
      ok: false;
      reason: 'bad_forwarded_context' | 'bad_path';
      detail: string;
      partial: Partial<RequestDescription>;
    };

/** What the auth request itself carries, besides headers. */
export interface AuthRequest {
  method: string;
  /** For Envoy: the path after the configured prefix (the original request's path and query). */
  pathAfterPrefix: string;
  peer: Address;
  headers: HeaderMap;
}

const FORWARDED_FAMILY = ['x-forwarded-method', 'x-forwarded-uri'] as const;
const ORIGINAL_FAMILY = ['x-original-url', 'x-original-uri', 'x-original-method'] as const;
const METHOD = /^[A-Z][A-Z-]{0,31}$/;
const HOST = /^(?:[A-Za-z0-9-._~]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function bad(detail: string, partial: Partial<RequestDescription> = {}): DescribeResult {
  return { ok: false, reason: 'bad_forwarded_context', detail, partial };
}

/** A required single header: present exactly once and non-empty. */
function one(h: HeaderMap, name: string): string | null {
  const v = h.get(name);
  if (v === undefined || v === '' || h.duplicated(name)) return null;
  return v;
}

/** Validate the original request's parts and build its description: the one place every dialect (and `warden explain`) ends. */
export function finish(
  a: AuthRequest,
  trusted: CidrSet,
  parts: { method: string; proto: string; authority: string; uri: string; forwardedFor: string | undefined },
): DescribeResult {
  const { method, proto, authority, uri } = parts;
  if (!METHOD.test(method)) return bad('malformed method');
  if (proto !== 'http' && proto !== 'https') return bad('malformed proto');
  if (!HOST.test(authority)) return bad('malformed host');
  const host = normalizeHost(authority);
  const ip = deriveClientIp(a.peer, parts.forwardedFor, trusted);
  if (!ip.ok) return bad(ip.detail, { method, host });
  const canon = canonicalizePath(uri);
  const partial = { method, host, clientIp: ip.ip, rawUri: uri };
  if (!canon.ok) return { ok: false, reason: 'bad_path', detail: canon.detail, partial };
  return {
    ok: true,
    req: {
      method,
      proto,
      host,
      authority,
      path: canon.path,
      matchPath: matchKey(canon.path),
      altMatchPaths: canon.alternates ? canon.alternates.map(matchKey) : null,
      rawUri: uri,
      clientIp: ip.ip,
      peer: a.peer,
      headers: a.headers,
    },
  };
}

/** Traefik ForwardAuth and Caddy forward_auth: X-Forwarded-Method, -Proto, -Host, -Uri, -For. */
function describeForwarded(a: AuthRequest, trusted: CidrSet): DescribeResult {
  const h = a.headers;
  for (const name of ORIGINAL_FAMILY) if (h.has(name)) return bad(`unexpected ${name}`);
  const method = one(h, 'x-forwarded-method');
  const proto = one(h, 'x-forwarded-proto');
  const authority = one(h, 'x-forwarded-host');
  const uri = one(h, 'x-forwarded-uri');
  const xff = one(h, 'x-forwarded-for');
  if (!method || !proto || !authority || !uri || !xff)
    return bad('missing or duplicated X-Forwarded-* header');
  return finish(a, trusted, { method, proto: proto.toLowerCase(), authority, uri, forwardedFor: xff });
}

const ABSOLUTE = /^(https?):\/\/([^/?#\s]+)(\/[^\s]*)$/i;

/** nginx auth_request: X-Original-URL (or X-Original-URI + Host), X-Original-Method, X-Forwarded-For or X-Real-IP. */
function describeNginx(a: AuthRequest, trusted: CidrSet): DescribeResult {
  const h = a.headers;
  for (const name of FORWARDED_FAMILY) if (h.has(name)) return bad(`unexpected ${name}`);
  const method = one(h, 'x-original-method');
  if (!method) return bad('missing or duplicated X-Original-Method');
  let proto: string;
  let authority: string;
  let uri: string;
  if (h.has('x-original-url')) {
    const url = one(h, 'x-original-url');
    const m = url ? ABSOLUTE.exec(url) : null;
    const scheme = m?.[1];
    const host = m?.[2];
    const path = m?.[3];
    if (scheme === undefined || host === undefined || path === undefined)
      return bad('malformed or duplicated X-Original-URL');
    proto = scheme.toLowerCase();
    authority = host;
    uri = path;
  } else {
    const rawUri = one(h, 'x-original-uri');
    const hostHeader = one(h, 'host');
    if (!rawUri || !hostHeader) return bad('missing X-Original-URL, or X-Original-URI with Host');
    const xfp = h.get('x-forwarded-proto');
    [proto, authority, uri] = [xfp === undefined ? 'http' : xfp.toLowerCase(), hostHeader, rawUri];
  }
  let forwardedFor: string | undefined;
  if (h.has('x-forwarded-for')) {
    const xff = one(h, 'x-forwarded-for');
    if (!xff) return bad('duplicated X-Forwarded-For');
    forwardedFor = xff;
  } else {
    const real = one(h, 'x-real-ip');
    if (!real) return bad('missing X-Forwarded-For or X-Real-IP');
    forwardedFor = real;
  }
  return finish(a, trusted, { method, proto, authority, uri, forwardedFor });
}

/** Envoy ext_authz (HTTP service): the auth request's own method and path (after the prefix). */
function describeEnvoy(a: AuthRequest, trusted: CidrSet): DescribeResult {
  const h = a.headers;
  for (const name of [...FORWARDED_FAMILY, ...ORIGINAL_FAMILY])
    if (h.has(name)) return bad(`unexpected ${name}`);
  const authority = one(h, 'host');
  const xff = one(h, 'x-forwarded-for');
  if (!authority || !xff) return bad('missing or duplicated Host or X-Forwarded-For');
  const xfp = h.get('x-forwarded-proto');
  const uri = a.pathAfterPrefix;
  if (!uri.startsWith('/')) return bad('no original path after the prefix');
  return finish(a, trusted, {
    method: a.method,
    proto: xfp === undefined ? 'http' : xfp.toLowerCase(),
    authority,
    uri,
    forwardedFor: xff,
  });
}

/** Build the RequestDescription for a dialect. */
export function describe(dialect: Dialect, a: AuthRequest, trusted: CidrSet): DescribeResult {
  const r =
    dialect === 'nginx'
      ? describeNginx(a, trusted)
      : dialect === 'envoy'
        ? describeEnvoy(a, trusted)
        : describeForwarded(a, trusted);
  if (r.ok) r.req.dialect = dialect;
  return r;
}

/**
 * Describe an original request given as method, absolute URL and client IP, exactly as the nginx
 * dialect describes `X-Original-URL` (for `warden explain` and `warden test`): the client IP is
 * the direct peer, no proxy in between.
 */
export function describeUrl(
  method: string,
  url: string,
  clientIp: Address,
  headers: HeaderMap,
  trusted: CidrSet,
): DescribeResult {
  const m = ABSOLUTE.exec(url);
  const scheme = m?.[1];
  const host = m?.[2];
  const path = m?.[3];
  if (scheme === undefined || host === undefined || path === undefined)
    return bad('malformed URL: expected http(s)://host/path');
  return finish({ method, pathAfterPrefix: '', peer: clientIp, headers }, trusted, {
    method,
    proto: scheme.toLowerCase(),
    authority: host,
    uri: path,
    forwardedFor: undefined,
  });
}
