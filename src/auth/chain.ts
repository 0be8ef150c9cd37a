// The authenticator chain: credentials read once; the first identity wins; a bad credential is an error.
import type { AuthOutcome } from '../policy/decide.js';
import type { RequestDescription } from '../request/description.js';
import { readCredentials, type CredentialSources, type Credentials } from './credentials.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';

/**
 * One authenticator: an identity, an AuthError for its own bad credential, or null if not its kind;
 * a Promise only when it must do asynchronous work (a token's first signature check, a session).
 */
export type Authenticator = (
  creds: Credentials,
  req: RequestDescription,
  now: number,
) => Identity | AuthError | Promise<Identity | AuthError> | null;

/** The chain of one runtime: what to read from a request, and the authenticators in order. */
export interface Chain {
  readonly sources: CredentialSources;
  readonly authenticators: readonly Authenticator[];
}

const outcome = (r: Identity | AuthError): AuthOutcome =>
  r instanceof AuthError ? { error: r } : { identity: r };

/**
 * Read the request's credentials and run the chain in order. Ambiguous credentials (a duplicated
 * credential header, X-API-Key beside a Bearer token) are refused unread, never one picked; a
 * credential header no authenticator claims is refused, never ignored.
 */
export function authenticate(
  chain: Chain,
  req: RequestDescription,
  now: number,
): AuthOutcome | Promise<AuthOutcome> {
  const creds = readCredentials(req, chain.sources);
  if (creds.ambiguous !== null) return { error: new AuthError('invalid_credentials', 'malformed') };
  for (const auth of chain.authenticators) {
    const r = auth(creds, req, now);
    if (r === null) continue;
    return r instanceof Promise ? r.then(outcome) : outcome(r);
  }
  if (creds.header) return { error: new AuthError('invalid_credentials', 'unsupported') };
  return null;
}
