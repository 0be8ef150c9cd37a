// Bearer JWTs from trusted issuers: routed by `iss`, checked strictly with jose, remembered once verified.
import { hash } from 'node:crypto';
import { errors, type JWTPayload } from 'jose';
import type { IssuerConfig } from '../config/issuers-schema.js';
import { ASYMMETRIC_ALGORITHMS } from '../config/issuers-schema.js';
import type { Credentials } from './credentials.js';
import { identityFromClaims, type ClaimsMapping } from './claims.js';
import { AuthError, type AuthFailureCause, type RevocationRef, type TokenFailureCause } from './errors.js';
import type { Identity, TokenGrant } from './identity.js';
import {
  IssuerKeys,
  KeysUnavailable,
  NoMatchingKey,
  type KeySetOptions,
  type KeySnapshot,
  type KeyUse,
} from './jwks.js';
import { verifyWithKeySet } from './key-set-verify.js';
import type { Revocations } from './revocations.js';
import { NO_RESOURCES, tokenGrant, type ResourceAudiences } from './token-grant.js';
import { Lru } from '../util/lru.js';

/** Longest bearer token warden reads; longer ones are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

const KID = /^[A-Za-z0-9._~+/=:-]{1,256}$/;
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt']);
/** Header parameters that carry or point at key material: never honoured, so refused outright. */
const EMBEDDED_KEY_PARAMS = ['jwk', 'jku', 'x5u', 'x5c'] as const;

/** An issuer warden trusts, with its keys. */
export interface TrustedIssuer {
  config: IssuerConfig;
  keys: IssuerKeys;
  algorithms: string[];
}

/** A token that passed the structural checks, routed to its issuer. */
interface Routed {
  issuer: TrustedIssuer;
  kid: string | undefined;
}

function refuse(
  cause: TokenFailureCause | AuthFailureCause,
  detail: { kid?: string | undefined; joseCode?: string | undefined } = {},
  revocation?: RevocationRef,
): AuthError {
  const token: { kid?: string; joseCode?: string } = {};
  if (detail.kid !== undefined) token.kid = detail.kid;
  if (detail.joseCode !== undefined) token.joseCode = detail.joseCode;
  return new AuthError('invalid_credentials', cause, undefined, token, revocation);
}

function decodeSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Every issuer's keys and the strict checks; lives as long as the process. */
export class JwtVerifier {
  readonly issuers: ReadonlyMap<string, TrustedIssuer>;

  constructor(configs: readonly IssuerConfig[], opts: KeySetOptions) {
    const map = new Map<string, TrustedIssuer>();
    for (const config of configs) {
      map.set(config.issuer, {
        config,
        keys: new IssuerKeys(config.issuer, config.jwksUri, opts),
        algorithms: [...(config.algorithms ?? ASYMMETRIC_ALGORITHMS)],
      });
    }
    this.issuers = map;
  }

  /** Fetch every key set once (failures are retried when tokens arrive, after the cooldown). */
  async start(): Promise<void> {
    await Promise.all([...this.issuers.values()].map((i) => i.keys.refresh()));
  }

  /** Retry, after the cooldown, every key set not fetched yet. */
  retryMissing(): void {
    for (const i of this.issuers.values()) i.keys.retryIfMissing();
  }

  /** Ready when every issuer's key set has been fetched at least once. */
  ready(): { ready: boolean; pending: string[] } {
    const pending = [...this.issuers.values()].filter((i) => !i.keys.ready).map((i) => i.config.issuer);
    return { ready: pending.length === 0, pending };
  }

  /** Structural checks on the compact form, before any signature work: route by `iss`. */
  route(token: string): Routed | AuthError {
    if (token.length > MAX_TOKEN_LENGTH) return refuse('too_large');
    const parts = token.split('.');
    if (parts.length === 5) return refuse('jwe');
    if (parts.length !== 3) return refuse('not_jws');
    const header = decodeSegment(parts[0] ?? '');
    if (!header) return refuse('not_jws');
    const kid =
      typeof header.kid === 'string' && KID.test(header.kid) && !header.kid.includes('..')
        ? header.kid
        : undefined;
    if (header.kid !== undefined && kid === undefined) return refuse('bad_kid');
    const alg = header.alg;
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') return refuse('alg_none', { kid });
    if (EMBEDDED_KEY_PARAMS.some((p) => header[p] !== undefined)) return refuse('embedded_key', { kid });
    if (header.crit !== undefined) return refuse('unknown_crit', { kid });
    if (header.enc !== undefined) return refuse('jwe', { kid });
    if (typeof header.cty === 'string' && /jwt$/i.test(header.cty)) return refuse('nested_token', { kid });
    if (
      header.typ !== undefined &&
      (typeof header.typ !== 'string' ||
        !ACCEPTED_TYP.has(header.typ.toLowerCase().replace(/^application\//, '')))
    ) {
      return refuse('wrong_type', { kid });
    }
    const payload = decodeSegment(parts[1] ?? '');
    if (!payload) return refuse('not_jws', { kid });
    const issuer = typeof payload.iss === 'string' ? this.issuers.get(payload.iss) : undefined;
    if (!issuer) return refuse('unknown_issuer', { kid });
    if (!issuer.algorithms.includes(alg)) return refuse('alg_not_allowed', { kid });
    return { issuer, kid };
  }

  /**
   * Verify signature and claims with jose; resolves to the payload, the issuer's key set the
   * verification key came from and what the token was issued for, or rejects with an AuthError.
   * `aud` must name the issuer's audience or, when given, one of `resources` (resourceKey()s of
   * the resources this issuer serves).
   */
  async verify(
    token: string,
    routed: Routed,
    now: number,
    resources?: ReadonlySet<string>,
  ): Promise<{ payload: JWTPayload; keySet: KeySnapshot; grant: TokenGrant }> {
    const { config, keys, algorithms } = routed.issuer;
    const kid = routed.kid;
    const use: KeyUse = { snapshot: null };
    try {
      const { payload } = await verifyWithKeySet(token, keys.keyFor(use), {
        issuer: config.issuer,
        // With resources, tokenGrant checks the audience below (resource urls compare without case).
        audience: resources && resources.size > 0 ? undefined : config.audience,
        algorithms,
        clockTolerance: config.clockToleranceSec,
        requiredClaims: ['exp', 'iss', 'aud'],
        currentDate: new Date(now),
      });
      const grant = tokenGrant(payload, config.audience, resources);
      if (grant === null) throw refuse('wrong_audience', { kid });
      if (typeof payload.iat === 'number' && payload.iat > now / 1000 + config.clockToleranceSec)
        throw refuse('issued_in_future', { kid });
      // Keycloak marks its token kinds in a `typ` claim: only access tokens are bearer credentials.
      if (
        payload.typ !== undefined &&
        (typeof payload.typ !== 'string' || !/^(?:bearer|at\+jwt)$/i.test(payload.typ))
      )
        throw refuse('wrong_type', { kid });
      // A sender-constrained token (`cnf`: DPoP `jkt`, mutual-TLS `x5t#S256`, RFC 9449 / 8705) is only
      // good with a proof of possession of its key, which a bearer request does not carry: accepting it
      // would turn a stolen bound token back into a bearer token.
      if (payload.cnf !== undefined) throw refuse('sender_constrained', { kid });
      // Set by keyFor before it handed jose the key.
      const keySet = use.snapshot;
      if (keySet === null) throw new Error('token verified without a key from the key set');
      return { payload, keySet, grant };
    } catch (e) {
      throw e instanceof AuthError
        ? e
        : refuse(joseCause(e), { kid, joseCode: (e as { code?: string }).code ?? (e as Error).name });
    }
  }
}

function joseCause(e: unknown): TokenFailureCause | 'expired' | 'malformed' {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf') return 'not_yet_valid';
    if (e.claim === 'aud') return 'wrong_audience';
    if (e.claim === 'iss') return 'unknown_issuer';
    return 'bad_claim';
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (e instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (e instanceof NoMatchingKey || e instanceof errors.JWKSNoMatchingKey) return 'unknown_kid';
  if (e instanceof KeysUnavailable) return 'keys_unavailable';
  if (e instanceof errors.JOSEError) return 'malformed';
  throw e;
}

interface CachedToken {
  identity: Identity;
  /**
   * The issuer's keys, and the key set the token's key came from (moved on to the one held when a
   * refresh keeps every key it could have been): a withdrawn or changed key sends it back to verification.
   */
  keys: IssuerKeys;
  snapshot: KeySnapshot;
  expiresAt: number;
  jti: string | undefined;
  iat: number | undefined;
  kid: string | undefined;
}

/** After a refresh brought other keys: whether the token's key is still held (then it is held against the new set). */
function keptKey(hit: CachedToken): boolean {
  const current = hit.keys.current;
  if (current === null || !hit.keys.stillHolds(hit.snapshot, hit.kid)) return false;
  hit.snapshot = current;
  return true;
}

/**
 * The bearer-JWT authenticator of one policy version: claim mapping, the audiences its resources add
 * to their authorization servers' (`audiences`), and a cache of verified tokens.
 */
export class JwtAuthenticator {
  private readonly cache: Lru<CachedToken>;

  constructor(
    private readonly verifier: JwtVerifier,
    private readonly mapping: ClaimsMapping,
    private readonly revocations: Revocations | null,
    cacheSize: number,
    private readonly audiences: ResourceAudiences = NO_RESOURCES,
  ) {
    this.cache = new Lru(cacheSize);
  }

  /** Tokens currently remembered. */
  get cached(): number {
    return this.cache.size;
  }

  /** An identity (cached), an AuthError, a pending verification, or null when no JWT is presented. */
  authenticate(creds: Credentials, now: number): Identity | AuthError | Promise<Identity | AuthError> | null {
    const token = creds.jwt;
    if (token === null) return null;
    if (token.length > MAX_TOKEN_LENGTH) return refuse('too_large');
    const key = hash('sha256', token, 'base64');
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      hit.keys.refreshIfStale(now);
      if (now < hit.expiresAt && (hit.snapshot === hit.keys.current || keptKey(hit))) {
        const revoked = this.revoked(hit.identity, hit.jti, hit.iat, now, hit.kid);
        if (revoked === null) return hit.identity;
        this.cache.delete(key);
        return revoked;
      }
      this.cache.delete(key);
    }
    const routed = this.verifier.route(token);
    if (routed instanceof AuthError) return routed;
    const keys = routed.issuer.keys;
    const resources = this.audiences.get(routed.issuer.config.issuer);
    return this.verifier.verify(token, routed, now, resources).then(
      ({ payload, keySet, grant }) => {
        // jose refuses a token without exp (requiredClaims): this is never taken.
        if (payload.exp === undefined) return refuse('bad_claim', { kid: routed.kid });
        const expiresAt = payload.exp * 1000;
        const claimed = identityFromClaims(payload, routed.issuer.config, this.mapping, expiresAt);
        // The audit line names the kid of every refused token, its claims' refusals included.
        if (claimed instanceof AuthError) return refuse(claimed.failure, { kid: routed.kid });
        const identity: Identity = Object.freeze({ ...claimed, token: grant });
        const jti = typeof payload.jti === 'string' ? payload.jti : undefined;
        const revoked = this.revoked(identity, jti, payload.iat, now, routed.kid);
        if (revoked) return revoked;
        this.cache.set(key, {
          identity,
          keys,
          snapshot: keySet,
          expiresAt,
          jti,
          iat: payload.iat,
          kid: routed.kid,
        });
        return identity;
      },
      (e: unknown) => {
        if (e instanceof AuthError) return e;
        throw e;
      },
    );
  }

  /** A token id revoked, or a subject whose tokens issued before its revocation are refused. */
  private revoked(
    identity: Identity,
    jti: string | undefined,
    iat: number | undefined,
    now: number,
    kid: string | undefined,
  ): AuthError | null {
    const revs = this.revocations;
    if (!revs) return null;
    if (!revs.mirror.loaded) return refuse('revocations_unavailable', { kid });
    const token = jti === undefined ? undefined : revs.find('token', jti, now);
    if (token) return refuse('revoked', { kid }, token);
    const subject = revs.find('subject', identity.sub, now);
    if (subject && (iat === undefined || iat * 1000 <= subject.createdAt))
      return refuse('revoked', { kid }, subject);
    return null;
  }
}
