// Client-certificate identities: the proxy terminates mutual TLS and forwards the verification result;
// warden maps a verified subject DN to a keys-file entry (`certSubject:`). Opt-in per proxy family.
import type { RequestDescription } from '../request/description.js';

/** Which headers carry the proxy's verification result (WARDEN_CLIENT_CERT). */
export type ClientCertSource = 'off' | 'nginx' | 'ingress-nginx' | 'traefik';

/**
 * A DN in a comparable form: RDNs split at unescaped commas, attribute types upper-cased, spaces around
 * `=` and `,` dropped, sorted (nginx's RFC 2253 order and a hand-written `CN=…,O=…` compare equal).
 * Null when it is not a list of type=value pairs.
 */
export function normalizeDn(dn: string): string | null {
  const rdns: string[] = [];
  let cur = '';
  for (let i = 0; i < dn.length; i++) {
    const c = dn.charAt(i);
    if (c === '\\' && i + 1 < dn.length) {
      cur += c + dn.charAt(++i);
      continue;
    }
    if (c === ',' || c === ';') {
      rdns.push(cur);
      cur = '';
    } else cur += c;
  }
  rdns.push(cur);
  const out: string[] = [];
  for (const rdn of rdns) {
    const eq = rdn.indexOf('=');
    if (eq <= 0) return null;
    const type = rdn.slice(0, eq).trim().toUpperCase();
    const value = rdn.slice(eq + 1).trim();
    if (!/^[A-Z][A-Z0-9-]*$|^\d+(?:\.\d+)+$/.test(type) || value === '') return null;
    out.push(`${type}=${value}`);
  }
  return out.sort().join(',');
}

/** Traefik's X-Forwarded-Tls-Client-Cert-Info (URL-encoded `Subject="CN=…,O=…";Issuer="…"`): the subject. */
function traefikSubject(info: string): string | null {
  let text: string;
  try {
    text = decodeURIComponent(info);
  } catch {
    return null;
  }
  const m = /(?:^|;)Subject="([^"]*)"/.exec(text);
  return m?.[1] ?? null;
}

/** The dialect whose proxy sets each family's headers: on any other, they are a client's. */
const DIALECT_OF: Record<Exclude<ClientCertSource, 'off'>, RequestDescription['dialect']> = {
  nginx: 'nginx',
  'ingress-nginx': 'nginx',
  traefik: 'traefik',
};

/**
 * The verified subject DN the proxy reports, or null: only from the configured family's headers,
 * only on that proxy's dialect (each dialect reads only what its proxy sets), each header present
 * exactly once, and (nginx families) only when verification says SUCCESS. /verify only answers
 * trusted proxies, and the recipes overwrite or strip client copies.
 */
export function verifiedSubject(source: ClientCertSource, req: RequestDescription): string | null {
  if (source === 'off' || req.dialect !== DIALECT_OF[source]) return null;
  const h = req.headers;
  const one = (name: string): string | undefined => (h.duplicated?.(name) ? undefined : h.get(name));
  switch (source) {
    case 'nginx':
      return one('x-ssl-client-verify') === 'SUCCESS' ? (one('x-ssl-client-s-dn') ?? null) : null;
    case 'ingress-nginx':
      return one('ssl-client-verify') === 'SUCCESS' ? (one('ssl-client-subject-dn') ?? null) : null;
    case 'traefik': {
      const info = one('x-forwarded-tls-client-cert-info');
      return info === undefined ? null : traefikSubject(info);
    }
  }
}
