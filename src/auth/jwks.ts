// One issuer's signing keys: found by discovery, fetched with a timeout, refreshed in the background,
// kept while the endpoint is down, re-fetched at most once per cooldown for an unknown kid; each
// fetched set a snapshot that tells whether a remembered token's key is still published.
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { discoverJwksUri, fetchSigningKeys } from './key-set-documents.js';

/** How fetches behave; times in milliseconds. */
export interface KeySetOptions {
  refreshMs: number;
  cooldownMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
  now: () => number;
  /** Called after every fetch of a key set or discovery document. */
  onFetch?(issuer: string, outcome: 'ok' | 'error', error?: string): void;
}

/** The key set could not be obtained and no earlier copy is held. */
export class KeysUnavailable extends Error {
  override name = 'KeysUnavailable';
}

/** A key id no key in the (fresh enough) key set carries. */
export class NoMatchingKey extends Error {
  override name = 'NoMatchingKey';
}

/**
 * What tells one published key from another: the whole JWK, members in a fixed order. Any change a
 * key selection may depend on (kid, alg, key_ops, ext, the public parameters) makes it a new key.
 */
function fingerprint(k: JSONWebKeySet['keys'][number]): string {
  return JSON.stringify(k, Object.keys(k).sort());
}

/** One fetched key set: jose's key selection over it, and what each key looks like. */
export interface KeySnapshot {
  readonly select: JWTVerifyGetKey;
  /** Fingerprints of every key. */
  readonly all: ReadonlySet<string>;
  /** Fingerprints of the keys carrying each `kid`. */
  readonly byKid: ReadonlyMap<string, readonly string[]>;
}

function snapshotOf(jwks: JSONWebKeySet): KeySnapshot {
  const all = new Set<string>();
  const byKid = new Map<string, string[]>();
  for (const k of jwks.keys) {
    const f = fingerprint(k);
    all.add(f);
    if (typeof k.kid === 'string') byKid.set(k.kid, [...(byKid.get(k.kid) ?? []), f]);
  }
  return { select: createLocalJWKSet(jwks), all, byKid };
}

/** The same keys, member for member (their order aside). */
function sameKeys(a: KeySnapshot, b: KeySnapshot): boolean {
  if (a.all.size !== b.all.size) return false;
  for (const f of a.all) if (!b.all.has(f)) return false;
  return true;
}

/** Filled in by a verification: the key set whose key jose verified the token with. */
export interface KeyUse {
  snapshot: KeySnapshot | null;
}

/** The keys of one issuer. `keyFor` gives what jose's jwtVerify calls. */
export class IssuerKeys {
  /** The key set held: replaced when a fetch brings different keys, kept (the same object) when it brings the same. */
  private held: KeySnapshot | null = null;
  private jwksUri: string | null;
  private lastAttempt = -Infinity;
  private lastSuccess = -Infinity;
  private pending: Promise<void> | null = null;
  /** Message of the last failed fetch, for readiness and logs. */
  lastError: string | null = null;

  constructor(
    readonly issuer: string,
    jwksUri: string | undefined,
    private readonly opts: KeySetOptions,
  ) {
    this.jwksUri = jwksUri ?? null;
  }

  /** True once a key set has been fetched. */
  get ready(): boolean {
    return this.held !== null;
  }

  /** The key set held now (null before the first fetch). */
  get current(): KeySnapshot | null {
    return this.held;
  }

  /**
   * Whether a token verified with a key of `used` would still find that key in the key set held
   * now: every key of `used` that jose could have chosen for it (those with its `kid`; for a token
   * without one, every key) is still published, member for member. A refresh that adds keys, or
   * withdraws only other keys, keeps the token; one that withdraws or changes any candidate does not.
   */
  stillHolds(used: KeySnapshot, kid: string | undefined): boolean {
    const now = this.held;
    if (used === now) return true;
    if (now === null) return false;
    const candidates = kid === undefined ? used.all : used.byKid.get(kid);
    if (candidates === undefined) return false;
    for (const f of candidates) if (!now.all.has(f)) return false;
    return true;
  }

  private coolingDown(now: number): boolean {
    return now - this.lastAttempt < this.opts.cooldownMs;
  }

  /** Fetch the key set now (single flight). Failures keep the keys already held. */
  refresh(): Promise<void> {
    this.pending ??= (async () => {
      this.lastAttempt = this.opts.now();
      try {
        this.jwksUri ??= await discoverJwksUri(this.issuer, this.opts);
        const fetched = snapshotOf(await fetchSigningKeys(this.jwksUri, this.opts));
        // The same keys again keep the snapshot tokens were verified with: their check stays a comparison.
        if (this.held === null || !sameKeys(this.held, fetched)) this.held = fetched;
        this.lastSuccess = this.opts.now();
        this.lastError = null;
        this.opts.onFetch?.(this.issuer, 'ok');
      } catch (e) {
        this.lastError = (e as Error).message;
        this.opts.onFetch?.(this.issuer, 'error', this.lastError);
      }
    })().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /**
   * Join the fetch under way (a background refresh, or another token's), whatever the cooldown, or
   * start one once the cooldown has passed; false when neither may happen.
   */
  private async fetchNow(now: number): Promise<boolean> {
    if (this.pending === null && this.coolingDown(now)) return false;
    await this.refresh();
    return true;
  }

  /** Fetch again if no key set is held yet and the cooldown has passed (the start-up retry loop). */
  retryIfMissing(): void {
    if (this.held === null && this.pending === null && !this.coolingDown(this.opts.now()))
      void this.refresh();
  }

  /**
   * Past the refresh interval, fetch the key set again in the background (the keys held serve
   * meanwhile). Called for every token, remembered ones included, so that a withdrawn key is
   * noticed even while every token presented is answered from the cache.
   */
  refreshIfStale(now = this.opts.now()): void {
    if (
      this.held !== null &&
      now - this.lastSuccess > this.opts.refreshMs &&
      this.pending === null &&
      !this.coolingDown(now)
    )
      void this.refresh();
  }

  /**
   * What jose's jwtVerify calls for one token: its key from the key set held, a new kid re-fetching
   * at most once per cooldown (or waiting for a fetch already under way). `use.snapshot` is set to
   * the key set the key came from.
   */
  keyFor(use: KeyUse = { snapshot: null }): JWTVerifyGetKey {
    return async (header, token) => {
      const now = this.opts.now();
      if (this.held === null) await this.fetchNow(now);
      else this.refreshIfStale(now);
      // fetchNow replaced `held` when it could.
      const first = this.held;
      if (first === null) throw new KeysUnavailable(this.lastError ?? 'key set not fetched yet');
      try {
        use.snapshot = first;
        return await first.select(header, token);
      } catch (e) {
        if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
        if (!(await this.fetchNow(now)))
          throw new NoMatchingKey('no key with this kid; key set fetched recently');
        // A key set once held is only ever replaced, never dropped.
        const again = this.held ?? first;
        try {
          use.snapshot = again;
          return await again.select(header, token);
        } catch (e2) {
          if (e2 instanceof errors.JWKSNoMatchingKey) throw new NoMatchingKey('no key with this kid');
          throw e2;
        }
      }
    };
  }
}
