// The key CSRF tokens are signed with: from the session secret, else one random key shared through Redis, else this process's.
import { hkdfSync, randomBytes } from 'node:crypto';

/** The record every replica reads the shared key from (the store's records, in Redis under warden's prefix). */
export interface SharedKeyRecord {
  get(id: string): Promise<string | null>;
  /** Write only if absent: true when this call wrote it. */
  claim(id: string, ttlMs: number, value: string): Promise<boolean>;
}

/** The record's id, under the store's prefix (`<prefix>rec:{console}:csrf-key`). */
export const SHARED_KEY_ID = 'csrf-key';
/** How long the shared key lives once written: a replica writes it back if it went (a Redis restart). */
const SHARED_KEY_TTL_MS = 365 * 24 * 3600_000;
/** A token that fails re-reads the shared key at most this often (a replica started alone, Redis refilled). */
const RECHECK_MS = 1000;
/** Replicas re-read the shared key at most this often when they issue tokens, so they converge after a divergence. */
const REFRESH_MS = 60_000;

const KEY_BYTES = 32;

/** Where a CSRF key comes from. */
export interface CsrfKeySource {
  /** The key new tokens are signed with. */
  signing(): Promise<Buffer>;
  /** Every key a token may have been signed with (the signing key first). */
  accepted(): Buffer[];
  /** After a token failed: read the shared key again (throttled); true when a new key is now accepted. */
  recheck(): Promise<boolean>;
}

/** A fixed key: derived from WARDEN_SESSION_SECRET (every replica derives the same), or random for this process. */
export function fixedCsrfKey(secret: string | undefined): CsrfKeySource {
  // Derived from the session secret, so every replica issues and accepts the same tokens.
  const key =
    secret === undefined
      ? randomBytes(KEY_BYTES)
      : Buffer.from(hkdfSync('sha256', secret, 'warden-console', 'csrf', KEY_BYTES));
  return {
    signing: () => Promise.resolve(key),
    accepted: () => [key],
    recheck: () => Promise.resolve(false),
  };
}

/** A key read from the store's value, or null for anything but 32 bytes of base64url. */
function parseKey(value: string | null): Buffer | null {
  if (value === null || !/^[A-Za-z0-9_-]{43}$/.test(value)) return null;
  const key = Buffer.from(value, 'base64url');
  return key.length === KEY_BYTES ? key : null;
}

/**
 * One random key shared by every replica through the store: the first replica to ask writes its own
 * (SET NX), every other reads it. While the store does not answer, this process's own key signs (its
 * tokens then hold on this replica only) and the store is asked again on the next use. The key is never
 * logged or rendered.
 */
export class SharedCsrfKey implements CsrfKeySource {
  private readonly own = randomBytes(KEY_BYTES);
  private current: Buffer | null = null;
  /** Keys this process signed with before (kept so the forms it already gave out still work here). */
  private readonly earlier: Buffer[] = [];
  private loading: Promise<void> | null = null;
  private lastRead = -Infinity;

  constructor(
    private readonly record: SharedKeyRecord,
    private readonly now: () => number,
  ) {}

  async signing(): Promise<Buffer> {
    // Until the store has answered, ask it again at most once a second (a page never waits on every render).
    if (this.now() - this.lastRead >= (this.current === null ? RECHECK_MS : REFRESH_MS)) await this.read();
    return this.current ?? this.own;
  }

  accepted(): Buffer[] {
    return [this.current ?? this.own, ...this.earlier];
  }

  async recheck(): Promise<boolean> {
    if (this.now() - this.lastRead < RECHECK_MS) return false;
    const before = this.current;
    await this.read();
    return this.current !== null && this.current !== before;
  }

  /** Read the shared key, writing this process's key first when there is none; one read at a time. */
  private read(): Promise<void> {
    this.loading ??= (async () => {
      this.lastRead = this.now();
      try {
        const signing = this.current ?? this.own;
        let found = parseKey(await this.record.get(SHARED_KEY_ID));
        if (found === null) {
          // None yet (or lost with a Redis restart): offer the key this process signs with, so its forms stay valid.
          await this.record.claim(SHARED_KEY_ID, SHARED_KEY_TTL_MS, signing.toString('base64url'));
          found = parseKey(await this.record.get(SHARED_KEY_ID));
        }
        if (found !== null && !found.equals(signing)) {
          this.earlier.unshift(signing);
          this.earlier.length = Math.min(this.earlier.length, 2);
          this.current = found;
        } else if (found !== null) this.current = signing;
      } catch {
        // The store does not answer: this process's key signs meanwhile; the next use asks again.
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }
}
