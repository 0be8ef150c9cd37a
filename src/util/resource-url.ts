// Resource identifiers (RFC 8707) compared as clients and IdPs write them: scheme and host in any case, a trailing slash or not.

/**
 * The form in which two resource identifiers are compared: an `http(s)` URL with its scheme and host
 * lower-cased, its default port dropped and one trailing slash removed (`https://MCP.example.com/mcp/`
 * → `https://mcp.example.com/mcp`); the path keeps its case. Anything else (`api://x`, `account`, a
 * URL with credentials or a fragment) is compared as written.
 */
export function resourceKey(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return value;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.hash) return value;
  const path = u.pathname.endsWith('/') ? u.pathname.slice(0, -1) : u.pathname;
  return `${u.protocol}//${u.host}${path}${u.search}`;
}
