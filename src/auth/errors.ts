// AuthError: the one typed failure of an authenticator, and the table that translates it.

/** Why a credential was refused. `cause` is for the audit log only, never the response. */
export type AuthErrorCode = 'invalid_credentials';

/** Audit-only detail of a refusal: the client always sees `invalid_credentials`. */
export type AuthFailureCause = 'unknown' | 'expired' | 'network' | 'malformed' | 'revoked' | 'unsupported' | 'revocations_unavailable';

/** A presented credential that is not valid. Never carries the secret. */
export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    readonly failure: AuthFailureCause,
    readonly keyId?: string,
  ) {
    super(code);
    this.name = 'AuthError';
  }
}

/** Status, reason and WWW-Authenticate for each code: the single translation point. */
export const AUTH_ERROR_RESPONSE: Record<AuthErrorCode | 'missing_credentials', { reason: string; message: string; challenge: string }> = {
  missing_credentials: {
    reason: 'missing_credentials',
    message: 'credentials required',
    challenge: 'Bearer realm="warden"',
  },
  invalid_credentials: {
    reason: 'invalid_credentials',
    message: 'credentials not valid',
    challenge: 'Bearer realm="warden", error="invalid_token"',
  },
};
