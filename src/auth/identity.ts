// Identity: who a request is, once an authenticator accepted its credential.
import type { AuthnFacts } from './authn-facts.js';

/** How an identity was established; `public` is only used in responses. */
export type AuthMethod = 'api_key' | 'jwt' | 'session' | 'mtls';

/**
 * What a bearer token (JWT) was issued for, read once when it is verified: decide() binds tokens
 * to a rule's resource with it, and checks a rule's scopes.
 */
export interface TokenGrant {
  /** The token's `aud` values, each as resourceKey() writes it (scheme and host lower-case, no trailing slash). */
  audience: ReadonlySet<string>;
  /**
   * `aud` names the issuer's configured audience: the token is for the APIs warden protects. A token
   * only for a resource (an MCP server) is not, and opens no rule but that resource's.
   */
  issuerAudience: boolean;
  /** The token's scopes: `scope` (space-delimited) and `scp` (a list, as Okta writes it, or a string, as Entra does). */
  scopes: ReadonlySet<string>;
}

/** An authenticated caller. Values are header-safe (no control characters, roles without commas). */
export interface Identity {
  sub: string;
  name: string;
  email: string;
  roles: readonly string[];
  method: AuthMethod;
  keyId?: string;
  /** An API key entry in rotation (`previous:` in the keys file): which of its keys was sent. */
  keyVersion?: 'current' | 'previous';
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
  /** What the bearer token was issued for (JWT identities only; API keys and sessions are judged by roles). */
  token?: TokenGrant;
  /** How and when the person signed in (`acr`, `amr`, `auth_time`): judged by a rule's `authn` (step-up). */
  authn?: AuthnFacts;
  /** The sign-in provider of a session (`dev` for a dev user): where a step-up sends the browser. */
  provider?: string;
}
