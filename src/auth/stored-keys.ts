// API keys stored in Redis (WARDEN_KEYS_STORE=redis): lookups cached per replica, invalidated by pub/sub.
import type { KeyBackend, KeyLookup, KeyPage, StoredKeyEntry } from '../store/key-records.js';
import { compileCidrs } from '../request/client-ip.js';
import type { Clock } from '../util/clock.js';
import { headerSafe } from '../util/header-safe.js';
import { Lru } from '../util/lru.js';
import { generateKey, hashKey, type KeyRecord } from './apikey.js';
import { dayOf, UsageCounter } from './key-usage.js';

export type { StoredKeyEntry };

/** Cache sizes and times; the defaults suit a million keys and a key-guessing flood. */
export interface StoredKeysOptions {
  clock: Clock;
  /** Key hashes remembered as found, and as not found (each its own LRU, so a flood never evicts a good key). */
  cacheSize?: number;
  /** How long a found key is answered from memory (invalidations end it sooner; a Redis outage does not). */
  positiveMs?: number;
  /** How long an unknown hash is answered from memory: a flood of guesses asks Redis once per guess per this time. */
  negativeMs?: number;
  /** Usage is written to Redis this often. */
  flushMs?: number;
  onError?(err: Error): void;
  /** Told each lookup that went to Redis (not a cache hit) and what it found. */
  onStoreLookup?(result: 'found' | 'unknown' | 'unavailable'): void;
}

/** What a lookup found: a compiled record, nothing, or no answer from the store. */
export type StoredLookup = KeyRecord | null | 'unavailable';

interface Cached {
  record: KeyRecord | null;
  until: number;
}

/** Lookups waiting for Redis at once; beyond, a new hash gets no answer rather than more memory. */
const MAX_IN_FLIGHT = 10_000;

/** A stored key's lookup compiled once: the identity it grants and the checks it must pass. */
function compileLookup({ entry, version, until }: KeyLookup): KeyRecord {
  const expiresAt =
    version === 'previous' ? Math.min(until ?? 0, entry.expiresAt ?? Infinity) : entry.expiresAt;
  const identity: KeyRecord['identity'] = Object.freeze({
    sub: entry.id,
    name: headerSafe(entry.name ?? ''),
    email: headerSafe(entry.email ?? ''),
    roles: Object.freeze([...entry.roles]),
    method: 'api_key' as const,
    keyId: entry.id,
    ...(version === 'previous' ? { keyVersion: version } : {}),
    ...(entry.rateLimit ? { rateLimit: entry.rateLimit } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(entry.networks ? { ipBound: true } : {}),
  });
  return {
    identity,
    expiresAt: expiresAt ?? null,
    networks: entry.networks ? compileCidrs(entry.networks) : null,
  };
}

/** The UTC days of the last `n` days, today first. */
const lastDays = (now: number, n: number) => Array.from({ length: n }, (_, i) => dayOf(now - i * 86_400_000));

/** A new stored key's fields, checked by the caller against the policy. */
export type NewStoredKey = Omit<StoredKeyEntry, 'createdAt'>;

/**
 * The stored keys of this replica: lookups by hash through two bounded LRUs (found, not found) and
 * one Redis request per hash at a time; admin operations that tell every replica what changed.
 */
export class StoredKeys {
  private readonly found: Lru<Cached>;
  private readonly absent: Lru<Cached>;
  private readonly inFlight = new Map<string, Promise<StoredLookup>>();
  /** Bumped by every invalidation: a lookup that started before one is not cached. */
  private generation = 0;
  private readonly positiveMs: number;
  private readonly negativeMs: number;
  readonly usage: UsageCounter;
  /** Lookups that went to Redis (the flood test counts them). */
  storeLookups = 0;

  constructor(
    private readonly backend: KeyBackend,
    private readonly opts: StoredKeysOptions,
  ) {
    this.found = new Lru(opts.cacheSize ?? 100_000);
    this.absent = new Lru(opts.cacheSize ?? 100_000);
    this.positiveMs = opts.positiveMs ?? 60_000;
    this.negativeMs = opts.negativeMs ?? 5_000;
    this.usage = new UsageCounter(backend, opts.clock, opts.flushMs ?? 1000);
  }

  /** Hear invalidations and start writing usage. */
  start(): void {
    this.backend.watch(
      (hashes) => this.forget(hashes),
      () => this.forgetAll(),
    );
    this.usage.start();
  }

  private forget(hashes: readonly string[]): void {
    this.generation++;
    for (const h of hashes) {
      this.found.delete(h);
      this.absent.delete(h);
    }
  }

  private forgetAll(): void {
    this.generation++;
    this.found.clear();
    this.absent.clear();
  }

  /** The record of a key hash: from memory when cached, else a Promise of Redis's answer. */
  lookup(sha256: string, now: number): StoredLookup | Promise<StoredLookup> {
    const hit = this.found.get(sha256) ?? this.absent.get(sha256);
    if (hit && hit.until > now) return hit.record;
    return this.inFlight.get(sha256) ?? this.fetch(sha256, now);
  }

  private fetch(sha256: string, now: number): Promise<StoredLookup> | 'unavailable' {
    if (this.inFlight.size >= MAX_IN_FLIGHT) return 'unavailable';
    const generation = this.generation;
    this.storeLookups++;
    const p = this.backend.lookup(sha256).then(
      (found) => {
        let record: KeyRecord | null = null;
        try {
          record = found ? compileLookup(found) : null;
        } catch {
          // An entry that does not compile grants nothing (it was checked when created).
        }
        if (generation === this.generation) {
          if (record) this.found.set(sha256, { record, until: now + this.positiveMs });
          else this.absent.set(sha256, { record, until: now + this.negativeMs });
        }
        this.opts.onStoreLookup?.(record ? 'found' : 'unknown');
        return record;
      },
      (err: unknown) => {
        this.opts.onError?.(err as Error);
        this.opts.onStoreLookup?.('unavailable');
        return 'unavailable' as const;
      },
    );
    const settled = p.finally(() => this.inFlight.delete(sha256));
    this.inFlight.set(sha256, settled);
    return settled;
  }

  /** Create a key: the key itself (shown once) and its entry; 'exists' when the id is taken. */
  async create(
    fields: NewStoredKey,
    now: number,
  ): Promise<{ key: string; entry: StoredKeyEntry } | 'exists'> {
    const key = generateKey();
    const sha = hashKey(key);
    const entry: StoredKeyEntry = { ...fields, createdAt: now };
    if (!(await this.backend.create(entry, sha))) return 'exists';
    await this.tell([sha]);
    return { key, entry };
  }

  list(cursor: string | null, limit: number): Promise<KeyPage> {
    return this.backend.list(cursor, limit);
  }

  /** An entry with its latest use and its requests on each of the last 30 days (this replica's counts written first). */
  async describe(
    id: string,
    now: number,
  ): Promise<
    (StoredKeyEntry & { lastUsed: number | null; usage: { day: string; requests: number }[] }) | null
  > {
    await this.usage.flush();
    const entry = await this.backend.get(id);
    if (!entry) return null;
    const days = lastDays(now, 30);
    const usage = await this.backend.usage(id, days);
    return { ...entry, lastUsed: usage.lastUsed, usage: usage.days };
  }

  /** Remove a key and its usage; false when there was no such id. */
  async remove(id: string, now: number): Promise<boolean> {
    const hashes = await this.backend.remove(id, lastDays(now, 31));
    if (!hashes) return false;
    await this.tell(hashes);
    return true;
  }

  /** A new key for `id`; the old one is accepted until `graceEnd`. Null when there is no such id. */
  async rotate(
    id: string,
    graceEnd: number,
    now: number,
  ): Promise<{ key: string; entry: StoredKeyEntry } | null> {
    const key = generateKey();
    const hashes = await this.backend.rotate(id, hashKey(key), graceEnd, now);
    if (!hashes) return null;
    await this.tell(hashes);
    const entry = await this.backend.get(id);
    return entry ? { key, entry } : null;
  }

  /** Which of `ids` are stored (for the keys file's ids: the conflicts). */
  storedIds(ids: readonly string[]): Promise<string[]> {
    return this.backend.existing(ids);
  }

  /** Forget here at once, and tell the other replicas. */
  private async tell(hashes: string[]): Promise<void> {
    this.forget(hashes);
    await this.backend.invalidate(hashes);
  }

  async close(): Promise<void> {
    this.usage.stop();
    await this.usage.flush();
  }
}
