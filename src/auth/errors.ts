// AuthError: the one typed failure of an authenticator, and the table that translates it.

/** Why a credential was refused. `cause` is for the audit log only, never the response. */
export type AuthErrorCode = 'invalid_credentials';

/** Audit-only detail of a refusal: the client always sees `invalid_credentials`. */
export type AuthFailureCause =
  | 'unknown'
  | 'expired'
  | 'network'
  | 'malformed'
  | 'revoked'
  | 'unsupported'
  | 'revocations_unavailable'
  | StoredKeyFailureCause
  | TokenFailureCause
  | SessionFailureCause;

/** Audit-only causes of a refused stored key: Redis did not answer, or its id is also in the keys file. */
export type StoredKeyFailureCause = 'keys_store_unavailable' | 'id_conflict';

/** Audit-only causes of a refused session cookie; none counts toward a ban (a stale cookie is not an attack). */
export type SessionFailureCause = 'bad_session' | 'session_ended';

/** Audit-only causes of a refused bearer token (JWT). */
export type TokenFailureCause =
  | 'too_large'
  | 'jwe'
  | 'not_jws'
  | 'alg_none'
  | 'alg_not_allowed'
  | 'embedded_key'
  | 'nested_token'
  | 'wrong_type'
  | 'bad_kid'
  | 'unknown_crit'
  | 'unknown_issuer'
  | 'unknown_kid'
  | 'keys_unavailable'
  | 'bad_signature'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'bad_claim'
  | 'wrong_audience'
  | 'bad_subject'
  | 'bad_roles'
  | 'sender_constrained';

/** Public `error_description` of a refused token: fixed text per cause, never the token. */
export const TOKEN_ERROR_DESCRIPTION: Partial<Record<AuthFailureCause, string>> = {
  expired: 'the token has expired',
  not_yet_valid: 'the token is not yet valid',
  issued_in_future: 'the token is not yet valid',
  wrong_audience: 'the token is not meant for this audience',
  unknown_issuer: 'the token issuer is not trusted',
  too_large: 'the token is too large',
  keys_unavailable: 'the issuer signing keys are unavailable',
  sender_constrained: 'the token is bound to a key and cannot be used as a bearer token',
};

/** Detail of a refused token for the audit line: jose's error code and the key id. */
export interface TokenErrorDetail {
  joseCode?: string;
  kid?: string;
}

/** A revocation entry: its set id (`<type>:<id>`) and when it was made (a revocation made again counts afresh). */
export interface RevocationRef {
  id: string;
  createdAt: number;
}

/** A presented credential that is not valid. Never carries the secret. */
export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    readonly failure: AuthFailureCause,
    readonly keyId?: string,
    readonly token?: TokenErrorDetail,
    /** The revocation that refused it (`key:agent-7`, `subject:alice`): what its effect is counted under. */
    readonly revocation?: RevocationRef,
  ) {
    super(code);
    this.name = 'AuthError';
  }

  /** The `error_description` a bearer token's refusal may carry, or undefined for API keys. */
  get description(): string | undefined {
    return this.token ? (TOKEN_ERROR_DESCRIPTION[this.failure] ?? 'the token is not valid') : undefined;
  }
}

/** Status, reason and WWW-Authenticate for each code: the single translation point. */
export const AUTH_ERROR_RESPONSE: Record<
  AuthErrorCode | 'missing_credentials',
  { reason: string; message: string; challenge: string }
> = {
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
