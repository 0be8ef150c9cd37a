// The credentials a request presents, read once: API key, bearer token, session cookie, client certificate.
import type { RequestDescription } from '../request/description.js';
import { cookieValues } from '../session/cookies.js';
import { verifiedSubject, type ClientCertSource } from './client-cert.js';

/** What to read besides the credential headers, fixed per runtime (sign-in's cookie, WARDEN_CLIENT_CERT). */
export interface CredentialSources {
  /** The session cookie's name; null without sign-in. */
  sessionCookie: string | null;
  /** Whose headers carry a verified client certificate; `off` reads none. */
  clientCert: ClientCertSource;
}

/** Read only the credential headers: the API key and the bearer token. */
export const HEADERS_ONLY: CredentialSources = Object.freeze({ sessionCookie: null, clientCert: 'off' });

/** The credentials one request presents, as the authenticators read them. */
export interface Credentials {
  /**
   * Why the credentials are ambiguous, refused before any authenticator runs: `duplicated`, an
   * Authorization or X-API-Key header sent twice (where the headers can tell); `key_and_bearer`,
   * X-API-Key beside an `Authorization: Bearer`.
   */
  ambiguous: 'duplicated' | 'key_and_bearer' | null;
  /** An Authorization or X-API-Key header is present: one no authenticator claims is refused, not ignored. */
  header: boolean;
  /**
   * The API key: X-API-Key, else a bearer value without a JWT's dots; trimmed, maybe empty or too long
   * (the key authenticator refuses those).
   */
  apiKey: string | null;
  /** A bearer value shaped like a JWT or JWE (two dots or more; API keys have none); trimmed, any length. */
  jwt: string | null;
  /** Every value of the session cookie in the Cookie header (the session authenticator refuses two). */
  session: readonly string[];
  /** The subject DN of the client certificate the proxy verified and reports (see verifiedSubject). */
  certSubject: string | null;
}

const NO_COOKIES: readonly string[] = Object.freeze([]);

/**
 * Read a request's credentials. `Bearer` is matched case-insensitively and must be followed by one
 * space (a tab makes it no bearer credential, only an unclaimed header); values are trimmed.
 */
export function readCredentials(
  req: RequestDescription,
  sources: CredentialSources = HEADERS_ONLY,
): Credentials {
  const h = req.headers;
  const key = h.get('x-api-key');
  const authz = h.get('authorization');
  let bearer: string | null = null;
  let jwt: string | null = null;
  if (authz !== undefined && authz.length >= 7 && authz.slice(0, 7).toLowerCase() === 'bearer ') {
    bearer = authz.slice(7).trim();
    // Only in a header of 10 characters or more: `Bearer ..` is read as an API key.
    if (authz.length >= 10 && hasTwoDots(bearer)) jwt = bearer;
  }
  return {
    ambiguous:
      h.duplicated?.('authorization') || h.duplicated?.('x-api-key')
        ? 'duplicated'
        : key !== undefined && authz !== undefined && /^bearer\s/i.test(authz)
          ? 'key_and_bearer'
          : null,
    header: key !== undefined || authz !== undefined,
    apiKey: key !== undefined ? key.trim() : jwt === null ? bearer : null,
    jwt,
    session:
      sources.sessionCookie === null ? NO_COOKIES : cookieValues(h.get('cookie'), sources.sessionCookie),
    certSubject: sources.clientCert === 'off' ? null : verifiedSubject(sources.clientCert, req),
  };
}

function hasTwoDots(token: string): boolean {
  const dot = token.indexOf('.');
  return dot !== -1 && token.indexOf('.', dot + 1) !== -1;
}
