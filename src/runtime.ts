// The runtime: one compiled policy version, swapped atomically on reload, over long-lived shared services.
import { authenticateCert, authenticateKey, compileKeys, type KeyTable } from './auth/apikey.js';
import type { ClientCertSource } from './auth/client-cert.js';
import type { Authenticator, Chain } from './auth/chain.js';
import { claimsMapping, type ClaimsMapping } from './auth/claims.js';
import { JwtAuthenticator, type JwtVerifier } from './auth/jwt.js';
import { keyAuthenticator } from './auth/key-authenticator.js';
import type { StoredKeys } from './auth/stored-keys.js';
import type { Revocations } from './auth/revocations.js';
import { resourceAudiences } from './auth/token-grant.js';
import type { Documents } from './config/load.js';
import { compileClaimHeaders, type ClaimHeader } from './http/claim-headers.js';
import { compileChallenges, type RuleChallenges } from './http/resource-challenges.js';
import { compileResourceMetadata, type ResourceMetadata } from './http/resource-metadata.js';
import { HEADER_PRESETS, type IdentityHeaderNames } from './http/respond.js';
import type { AdminBans } from './limits/admin-bans.js';
import { AlertRules, type AlertLog } from './limits/alerts.js';
import { Bans, type BanSpec } from './limits/bans.js';
import { RateLimits } from './limits/rate-limits.js';
import { compilePolicy, type CompiledPolicy } from './policy/compile.js';
import type { MirroredSet } from './store/mirror.js';
import type { Store } from './store/store.js';
import { collectGarbage } from './util/collect-garbage.js';

/** Services that outlive policy versions: the store and the replicated sets. */
export interface Shared {
  store: Store;
  revocations: Revocations | null;
  banned: MirroredSet | null;
  onBan: (ip: string, until: number) => void;
  /** Trusted JWT issuers and their keys; null when WARDEN_JWT_ISSUERS is not set. */
  jwt: JwtVerifier | null;
  /** Verified tokens each policy version remembers (WARDEN_JWT_CACHE_SIZE). */
  jwtCacheSize: number;
  /**
   * Sign-in sessions (built by oauth2/attach.ts before the first runtime; absent without sign-in): the
   * name of the cookie that carries one, and the session authenticator for a policy version's claims mapping.
   */
  sessionAuth?: { cookie: string; authenticator: (mapping: ClaimsMapping) => Authenticator } | null;
  /** Whose headers carry a verified client certificate (WARDEN_CLIENT_CERT). */
  clientCert?: ClientCertSource;
  /** API keys stored in Redis (WARDEN_KEYS_STORE=redis), looked up after the keys file's. */
  storedKeys?: StoredKeys | null;
  /** Told the keys file's ids at every load: warns about ids also stored in Redis. */
  checkKeyIds?: (ids: readonly string[]) => void;
  /** Bans made through the admin API, checked before the rules. */
  adminBans?: AdminBans | null;
  /** Where the policy's alerts fire. */
  alertLog?: AlertLog | null;
}

/** Everything a request reads, compiled from one version of policy and keys. Never mutated. */
export interface Runtime {
  readonly version: number;
  readonly policy: CompiledPolicy;
  readonly keys: KeyTable;
  readonly chain: Chain;
  /** The bearer-JWT authenticator in `chain`, if issuers are configured (its cache is per version). */
  readonly jwt: JwtAuthenticator | null;
  readonly limits: RateLimits;
  readonly bans: Bans | null;
  /** Admin bans (an IP, a CIDR, an identity), shared by every version. */
  readonly adminBans: AdminBans | null;
  /** The revocations, shared by every version: /verify counts the requests each refuses. */
  readonly revocations: Revocations | null;
  /** This version's alerts (policy `alerts`); null without an alert log. */
  readonly alerts: AlertRules | null;
  readonly headerNames: IdentityHeaderNames;
  /** Extra identity headers from claims (policy `headers.extra`). */
  readonly claimHeaders: readonly ClaimHeader[];
  /** The protected resource metadata documents (RFC 9728) of this version's resources. */
  readonly resourceMetadata: ResourceMetadata;
  /** The WWW-Authenticate challenges of the rules with a resource, by rule index. */
  readonly resourceChallenges: RuleChallenges;
  readonly docs: Documents;
}

function banSpec(docs: Documents): BanSpec {
  const b = docs.policy.bans;
  return b === false
    ? { enabled: false, failures: 10, window: 300, ban: 900 }
    : { enabled: true, failures: b.failures, window: b.window, ban: b.ban };
}

/** Compile documents into a runtime; `previous` lends its unchanged rate-limit and failure counters. */
export function buildRuntime(docs: Documents, shared: Shared, previous?: Runtime): Runtime {
  const policy = compilePolicy(docs.policy);
  const keys = compileKeys(docs.keys);
  const revocations = shared.revocations;
  const spec = banSpec(docs);
  const sameBans = previous?.bans && JSON.stringify(previous.bans.spec) === JSON.stringify(spec);
  // Roles come through this version's claims mapping, so verified tokens are remembered per version.
  const mapping = claimsMapping(docs.policy);
  // A token for one of this version's resources is accepted from that resource's authorization servers.
  const audiences = resourceAudiences(policy.resources.values());
  const jwt = shared.jwt
    ? new JwtAuthenticator(shared.jwt, mapping, revocations, shared.jwtCacheSize, audiences)
    : null;
  const authenticators: Authenticator[] = [
    shared.storedKeys
      ? keyAuthenticator(keys, shared.storedKeys, revocations)
      : (c, req, now) => authenticateKey(keys, c, req, now, revocations),
  ];
  if (shared.storedKeys) shared.checkKeyIds?.(keys.entries.map((k) => k.id));
  if (jwt) authenticators.push((c, _req, now) => jwt.authenticate(c, now));
  if (shared.sessionAuth) authenticators.push(shared.sessionAuth.authenticator(mapping));
  // A transport credential comes last: an explicit key or token in the request takes precedence.
  const certSource = shared.clientCert ?? 'off';
  const readsCert = certSource !== 'off' && keys.bySubject.size > 0;
  if (readsCert) authenticators.push((c, req, now) => authenticateCert(keys, c, req, now, revocations));
  const chain: Chain = Object.freeze({
    sources: Object.freeze({
      sessionCookie: shared.sessionAuth?.cookie ?? null,
      clientCert: readsCert ? certSource : 'off',
    }),
    authenticators: Object.freeze(authenticators),
  });
  return Object.freeze({
    version: (previous?.version ?? 0) + 1,
    policy,
    keys,
    chain,
    jwt,
    limits: new RateLimits(shared.store, policy.rateLimits, previous?.limits),
    bans: sameBans
      ? previous.bans
      : shared.banned
        ? new Bans(shared.store, spec, shared.banned, shared.onBan)
        : null,
    adminBans: shared.adminBans ?? null,
    revocations,
    // No alerts: nothing is built per request for them.
    alerts:
      shared.alertLog && docs.policy.alerts.length > 0
        ? new AlertRules(docs.policy.alerts, shared.store, shared.alertLog, previous?.alerts)
        : null,
    headerNames: HEADER_PRESETS[docs.policy.headers?.preset ?? 'warden'],
    claimHeaders: compileClaimHeaders(docs.policy.headers?.extra),
    resourceMetadata: compileResourceMetadata(policy.resources.values()),
    resourceChallenges: compileChallenges(policy.rules),
    docs,
  });
}

/**
 * Holder of the current runtime; a request reads `current` once and uses that version throughout.
 * It may be created empty, before the first runtime, for what needs the holder in order to build
 * that runtime: sign-in reads the runtime in force at each request, and every runtime's chain
 * holds sign-in's session authenticator.
 */
/** Rules plus keys from which a runtime counts as large: its load is followed by a full collection. */
export const LARGE_RUNTIME = 10_000;

export class RuntimeState {
  private installed: Runtime | null;

  constructor(initial: Runtime | null = null) {
    this.installed = initial;
  }

  /** The version in force; throws before the first one is installed (nothing is served by then). */
  get current(): Runtime {
    if (this.installed === null) throw new Error('no runtime installed yet');
    return this.installed;
  }

  /**
   * Install a new version (or the first) in one assignment. After a large one (10 000 rules and
   * keys or more), collect the garbage its loading left in the old generation (collectGarbage).
   */
  swap(next: Runtime): void {
    this.installed = next;
    if (next.policy.rules.length + next.keys.entries.length >= LARGE_RUNTIME) collectGarbage();
  }
}
