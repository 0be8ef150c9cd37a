// What Traefik (v2.x and v3.x) sends to a forwardAuth address for a client request, step by step as
// its code does: the entry point's forwarded-headers handling (pkg/middlewares/forwardedheaders),
// then forwardAuth's writeHeader (pkg/middlewares/auth/forward.go), then Go's HTTP client.

/** A client request as it reaches Traefik's entry point. */
export interface TraefikClientRequest {
  method: string;
  /** Host header (Go's req.Host). */
  host: string;
  /** The raw request target (Go's req.URL.RequestURI()). */
  requestUri: string;
  tls: boolean;
  /** The connection's remote address. */
  remoteIp: string;
  headers: [string, string][];
}

/** The parts of Traefik's configuration that change the auth request. */
export interface TraefikSettings {
  /** forwardAuth.trustForwardHeader. */
  trustForwardHeader: boolean;
  /** entryPoints.<ep>.forwardedHeaders.trustedIPs: peers whose X-Forwarded-* are kept. */
  trustedIPs: string[];
  /** forwardAuth.authRequestHeaders (empty: every header). */
  authRequestHeaders?: string[];
  /** Traefik's own host name (X-Forwarded-Server). */
  hostname?: string;
}

/** Go's http.CanonicalHeaderKey. */
export function canonical(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

/** Go's http.Header: canonical names, several values each, insertion order kept. */
class GoHeader {
  readonly map = new Map<string, string[]>();
  constructor(pairs: [string, string][] = []) {
    for (const [k, v] of pairs) this.add(k, v);
  }
  add(k: string, v: string): void {
    const key = canonical(k);
    this.map.set(key, [...(this.map.get(key) ?? []), v]);
  }
  get(k: string): string {
    return this.map.get(canonical(k))?.[0] ?? '';
  }
  values(k: string): string[] | undefined {
    return this.map.get(canonical(k));
  }
  set(k: string, v: string): void {
    this.map.set(canonical(k), [v]);
  }
  del(k: string): void {
    this.map.delete(canonical(k));
  }
  pairs(): [string, string][] {
    return [...this.map].flatMap(([k, vs]) => vs.map((v) => [k, v] as [string, string]));
  }
}

const HOP_HEADERS = [
  'Connection',
  'Keep-Alive',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Te',
  'Trailer',
  'Trailers',
  'Transfer-Encoding',
  'Upgrade',
];
const X_HEADERS = [
  'X-Forwarded-Proto',
  'X-Forwarded-For',
  'X-Forwarded-Host',
  'X-Forwarded-Port',
  'X-Forwarded-Server',
  'X-Real-Ip',
];

/** The entry point: an untrusted peer's X-Forwarded-* (and -Uri, -Method) are dropped, then Traefik fills them in. */
function entryPoint(c: TraefikClientRequest, s: TraefikSettings): GoHeader {
  const h = new GoHeader(c.headers);
  if (!s.trustedIPs.includes(c.remoteIp)) {
    for (const name of ['X-Forwarded-Uri', 'X-Forwarded-Method', ...X_HEADERS]) h.del(name);
  }
  if (h.get('X-Real-Ip') === '') h.set('X-Real-Ip', c.remoteIp);
  if (h.get('X-Forwarded-Proto') === '') h.set('X-Forwarded-Proto', c.tls ? 'https' : 'http');
  if (h.get('X-Forwarded-Port') === '')
    h.set('X-Forwarded-Port', c.host.includes(':') ? c.host.split(':').pop()! : c.tls ? '443' : '80');
  if (h.get('X-Forwarded-Host') === '' && c.host !== '') h.set('X-Forwarded-Host', c.host);
  h.set('X-Forwarded-Server', s.hostname ?? 'traefik-0');
  return h;
}

/** The auth request Traefik sends to `address` for the client request `c`: method, path and headers as they go on the wire. */
export function traefikAuthRequest(
  address: string,
  c: TraefikClientRequest,
  s: TraefikSettings,
): { method: 'GET'; rawPath: string; headers: [string, string][] } {
  const req = entryPoint(c, s);
  // writeHeader: copy everything, strip hop-by-hop headers (and those Connection names).
  let fwd = new GoHeader(req.pairs());
  for (const listed of (req.get('Connection') || '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean))
    fwd.del(listed);
  for (const name of HOP_HEADERS) fwd.del(name);
  if (s.authRequestHeaders && s.authRequestHeaders.length > 0) {
    const kept = new GoHeader();
    for (const name of s.authRequestHeaders) for (const v of fwd.values(name) ?? []) kept.add(name, v);
    fwd = kept;
  }
  const prior = req.values('X-Forwarded-For');
  fwd.set(
    'X-Forwarded-For',
    s.trustForwardHeader && prior ? `${prior.join(', ')}, ${c.remoteIp}` : c.remoteIp,
  );
  const pick = (name: string, own: string) =>
    fwd.set(name, s.trustForwardHeader && req.get(name) !== '' ? req.get(name) : own);
  pick('X-Forwarded-Method', c.method);
  pick('X-Forwarded-Proto', c.tls ? 'https' : 'http');
  if (s.trustForwardHeader && req.get('X-Forwarded-Port') !== '')
    fwd.set('X-Forwarded-Port', req.get('X-Forwarded-Port'));
  pick('X-Forwarded-Host', c.host);
  pick('X-Forwarded-Uri', c.requestUri);
  // Go's client: GET to the address, its own Host; User-Agent and Accept-Encoding unless copied.
  const u = new URL(address);
  fwd.del('Host');
  if (fwd.get('User-Agent') === '') fwd.set('User-Agent', 'Go-http-client/1.1');
  if (fwd.get('Accept-Encoding') === '') fwd.set('Accept-Encoding', 'gzip');
  return { method: 'GET', rawPath: u.pathname + u.search, headers: [['Host', u.host], ...fwd.pairs()] };
}

/** How Traefik turns a Location from the auth server into the one the client gets: Go's resp.Location(), resolved against the auth address. */
export function traefikLocation(address: string, location: string): string {
  return new URL(location, address).toString();
}
