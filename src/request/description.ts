// RequestDescription: what every dialect turns its proxy's headers into.
import type { Address } from './client-ip.js';

/** Read-only view of the original request's headers (lower-case names). */
export interface HeaderView {
  /** The single value of a header; undefined when absent. */
  get(name: string): string | undefined;
  /** True when the header appeared more than once (where the source can tell). */
  duplicated?(name: string): boolean;
}

/**
 * The auth request's body, for the proxies that forward it (Traefik `forwardBody`, Envoy
 * `with_request_body`) and only read when a rule has per-tool (`mcp`) sub-rules.
 */
export interface RequestBody {
  bytes: Uint8Array;
  /** Why it is not the whole body (over WARDEN_MCP_MAX_BODY, Envoy's partial body); null when it is. */
  cut: string | null;
}

/** The original client request, as the proxy described it. */
export interface RequestDescription {
  method: string;
  /** `http` or `https`. */
  proto: string;
  /** Host without port, lower-case. */
  host: string;
  /** Host header as sent (with port), for building the original URL. */
  authority: string;
  /** Canonical path (case preserved). */
  path: string;
  /** Lower-cased canonical path, what rules match. */
  matchPath: string;
  /** Other readings of a path with dot segments (lower-cased); every one must be allowed too. */
  altMatchPaths: readonly string[] | null;
  /** Raw original request target (path and query), for redirects. */
  rawUri: string;
  clientIp: Address;
  peer: Address;
  headers: HeaderView;
  /** The body the proxy forwarded, when warden read it; absent or null: none. */
  body?: RequestBody | null;
  /** The proxy dialect that described it (absent for offline evaluation). */
  dialect?: 'traefik' | 'caddy' | 'nginx' | 'envoy';
}
