// The store contract: what limits, bans and revocations need from a backend (memory or Redis).
import type { KeyBackend } from './key-records.js';
import type { RedisAuditStream } from './redis-audit.js';

/** Options of one counter family. */
export interface LimiterOptions {
  /** Distinct per limit name and configuration, so a changed limit starts fresh. */
  keyPrefix: string;
  /** Requests admitted per window. */
  points: number;
  /** The window's length, in seconds. */
  duration: number;
}

/** One request counted against a limit. Read-only: a limiter may hand one answer to several requests. */
export interface LimitResult {
  /** False over the limit. */
  readonly allowed: boolean;
  /** Requests the window still admits after this one (for a shared counter, as of its last answer). */
  readonly remaining: number;
  /** Milliseconds until the window ends (when the limit starts afresh). */
  readonly resetMs: number;
}

/** A counter family of fixed windows. */
export interface Limiter {
  /** Count one request of `key`; over the limit is an answer (allowed: false), only a store error rejects. */
  consume(key: string): Promise<LimitResult>;
  /**
   * Count one request of `key` without a promise when this process can answer; null when only the
   * store can (call consume). Absent: always ask consume.
   */
  consumeSync?(key: string): LimitResult | null;
  delete(key: string): Promise<boolean>;
}

/** One member of a replicated set (a revoked key id, a banned IP). */
export interface SetEntry {
  id: string;
  reason?: string;
  /** Epoch ms after which the entry no longer applies; absent = forever. */
  expiresAt?: number;
  createdAt: number;
  /** What the set's owner keeps with the entry (a ban's type, value and author), stored as given. */
  detail?: Record<string, string>;
}

/** A change another replica (or this one) made to a replicated set. */
export type SetChange = { op: 'add'; entry: SetEntry } | { op: 'remove'; id: string };

/**
 * The shared copy of a set every replica mirrors in memory. Reads on the request path never
 * touch it; it is read at start, on every change notification, and on resync.
 */
export interface SetBackend {
  /**
   * Every live entry. `lost` is true when the store no longer has the set at all (a Redis
   * restarted without persistence): replicas then write back what they hold.
   */
  all(): Promise<{ entries: SetEntry[]; lost: boolean }>;
  add(entry: SetEntry): Promise<void>;
  remove(id: string): Promise<boolean>;
  /** Deliver changes as they happen, and `resync` whenever changes may have been missed (reconnect). */
  watch(onChange: (c: SetChange) => void, resync: () => void): void;
}

/** Short-lived records by id (sessions, used sign-in states), shared by every replica. */
export interface RecordBackend {
  get(id: string): Promise<string | null>;
  /** Write, replacing any record, to expire after `ttlMs`. */
  put(id: string, value: string, ttlMs: number): Promise<void>;
  /** Replace only if present: false when it has expired or been deleted (never resurrects a record). */
  update(id: string, value: string, ttlMs: number): Promise<boolean>;
  /** Write only if absent (`value`, default "1"): true when this call wrote it (a one-time use, across replicas). */
  claim(id: string, ttlMs: number, value?: string): Promise<boolean>;
  delete(id: string): Promise<boolean>;
}

/**
 * Counters shared by every replica, one number per id (requests refused by a ban or a revocation).
 * Written in batches, so a count costs no round trip on the request path.
 */
export interface CountBackend {
  /** Add each id's count (one round trip). */
  add(batch: ReadonlyMap<string, number>): Promise<void>;
  /** The counts of `ids`, 0 for an id never counted. */
  get(ids: readonly string[]): Promise<number[]>;
  /** Forget these ids' counts. */
  remove(ids: readonly string[]): Promise<void>;
}

/** Health of the backend, for readiness and metrics. */
export interface StoreStatus {
  ready: boolean;
  detail: string;
}

/** A backend for shared state. The memory store serves one replica; Redis serves many. */
export interface Store {
  readonly kind: 'memory' | 'redis';
  limiter(opts: LimiterOptions): Limiter;
  /** A named set; `persistent` sets survive restarts (revocations), others may live in memory (bans). */
  set(name: string, opts: { persistent: boolean }): SetBackend;
  /** A named family of expiring records. */
  records(name: string): RecordBackend;
  /** A named family of shared counters. */
  counts(name: string): CountBackend;
  /** Stored API keys (WARDEN_KEYS_STORE=redis); absent in the memory store. */
  keys?(): KeyBackend;
  /**
   * The audit stream over the store's own connection, for small commands: the overview's minute
   * snapshots. The redis audit sink and the search, whose batches are large, use a connection of
   * their own. Absent in the memory store.
   */
  auditStream?(maxLen: number): RedisAuditStream;
  status(): StoreStatus;
  /** Resolve true once the backend answers, false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Drop entries whose time is over. */
export function live(entries: SetEntry[], now: number): SetEntry[] {
  return entries.filter((e) => e.expiresAt === undefined || e.expiresAt > now);
}
