// The contract of API keys kept in a store (WARDEN_KEYS_STORE=redis): entries by id, lookups by key hash, usage.

/** A stored key's entry as the admin API shows it: never the key, never its hash. */
export interface StoredKeyEntry {
  id: string;
  name?: string;
  email?: string;
  roles: string[];
  /** Epoch ms after which the key is refused; absent = never. */
  expiresAt?: number;
  networks?: string[];
  rateLimit?: string;
  createdAt: number;
}

/** A key hash still accepted after a rotation, until `expiresAt`. */
export interface PreviousHash {
  sha256: string;
  expiresAt: number;
}

/** What a key hash resolves to: the entry, and whether it is the entry's current key or a rotated-out one. */
export interface KeyLookup {
  entry: StoredKeyEntry;
  version: 'current' | 'previous';
  /** For a previous key: when its grace period ends (ms). */
  until?: number;
}

/** One page of entries, in id order; `cursor` continues after the last one, null at the end. */
export interface KeyPage {
  entries: StoredKeyEntry[];
  cursor: string | null;
}

/** Requests counted per key id on one day (`YYYY-MM-DD`, UTC), and the latest use seen (ms). */
export interface UsageBatch {
  counts: Map<string, Map<string, number>>;
  lastUsed: Map<string, number>;
}

/** A key's usage: its latest use (ms) and requests per day for the days asked. */
export interface KeyUsage {
  lastUsed: number | null;
  days: { day: string; requests: number }[];
}

/** The shared copy of stored keys; every replica reads it through a bounded cache. */
export interface KeyBackend {
  /** The entry a key hash belongs to, or null. Rejects when the store cannot answer. */
  lookup(sha256: string): Promise<KeyLookup | null>;
  /** Store a new entry with its key hash; false when the id is taken. */
  create(entry: StoredKeyEntry, sha256: string): Promise<boolean>;
  get(id: string): Promise<StoredKeyEntry | null>;
  list(cursor: string | null, limit: number): Promise<KeyPage>;
  /** Remove an entry, every hash of it and its usage on `days`; the hashes removed, null when there was no such id. */
  remove(id: string, days: readonly string[]): Promise<string[] | null>;
  /**
   * Give an entry a new key hash; the old one stays valid until `graceEnd`. The hashes whose meaning
   * changed, or null when there is no such id.
   */
  rotate(id: string, sha256: string, graceEnd: number, now: number): Promise<string[] | null>;
  /** Which of `ids` are stored. */
  existing(ids: readonly string[]): Promise<string[]>;
  /** Add a batch of counted requests (one round trip); counts expire after 31 days. */
  addUsage(batch: UsageBatch): Promise<void>;
  usage(id: string, days: readonly string[]): Promise<KeyUsage>;
  /** Tell every replica (this one too) that these hashes changed meaning. */
  invalidate(hashes: readonly string[]): Promise<void>;
  /** Hear invalidations; `resync` when some may have been missed (a reconnect). */
  watch(onInvalidate: (hashes: string[]) => void, resync: () => void): void;
}
