// The authenticator chain: first identity wins; a presented but invalid credential is an error.
import type { AuthOutcome } from '../policy/decide.js';
import type { RequestDescription } from '../request/description.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';

/**
 * One authenticator: an identity, an AuthError for its own bad credential, or null if not its kind;
 * a Promise only when it must do asynchronous work (a token's first signature check).
 */
export type Authenticator = (
  req: RequestDescription,
  now: number,
) => Identity | AuthError | Promise<Identity | AuthError> | null;

const outcome = (r: Identity | AuthError): AuthOutcome =>
  r instanceof AuthError ? { error: r } : { identity: r };

/**
 * Run the chain in order. A credential header no authenticator claims is refused, never ignored; so
 * is a duplicated one (where the headers can tell), unread.
 */
export function authenticate(
  chain: readonly Authenticator[],
  req: RequestDescription,
  now: number,
): AuthOutcome | Promise<AuthOutcome> {
  if (req.headers.duplicated?.('authorization') || req.headers.duplicated?.('x-api-key'))
    return { error: new AuthError('invalid_credentials', 'malformed') };
  // Two warden credentials at once (X-API-Key and a Bearer token) are ambiguous: refuse, never pick one.
  const authz = req.headers.get('authorization');
  if (req.headers.get('x-api-key') !== undefined && authz !== undefined && /^bearer\s/i.test(authz)) {
    return { error: new AuthError('invalid_credentials', 'malformed') };
  }
  for (const auth of chain) {
    const r = auth(req, now);
    if (r === null) continue;
    return r instanceof Promise ? r.then(outcome) : outcome(r);
  }
  if (req.headers.get('x-api-key') !== undefined || req.headers.get('authorization') !== undefined) {
    return { error: new AuthError('invalid_credentials', 'unsupported') };
  }
  return null;
}
