// Identity: who a request is, once an authenticator accepted its credential.

/** How an identity was established; `public` is only used in responses. */
export type AuthMethod = 'api_key' | 'jwt' | 'session' | 'mtls';

/** An authenticated caller. Values are header-safe (no control characters, roles without commas). */
export interface Identity {
  sub: string;
  name: string;
  email: string;
  roles: readonly string[];
  method: AuthMethod;
  keyId?: string;
  /** The token issuer (JWT); rate limits and caches key a subject by issuer, so equal `sub`s of two issuers stay apart. */
  issuer?: string;
  /** When the credential stops being valid (ms): a key's expiry, a token's exp. Bounds how long a decision may be reused. */
  expiresAt?: number;
  /** The credential is only valid from some client networks: a decision about it depends on the client IP. */
  ipBound?: boolean;
  /** Named rate limit that overrides the rule's (API keys). */
  rateLimit?: string;
  /** Claims for extra identity headers (token and session identities). */
  claims?: Readonly<Record<string, unknown>>;
}
