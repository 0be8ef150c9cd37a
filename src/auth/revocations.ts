// Revocations: key ids (later token ids and sessions) refused on every replica, checked in memory.
import type { MirroredSet } from '../store/mirror.js';
import type { SetEntry } from '../store/store.js';

/**
 * What can be revoked: an API key id, a token's `jti`, every token of a subject issued until the
 * revocation, or sign-in sessions (`sid:<provider>#<IdP sid>`, `sub:<provider>#<sub>`; back-channel logout).
 */
export type RevocationType = 'key' | 'token' | 'subject' | 'session';

/** Every revocation type, for argument checking. */
export const REVOCATION_TYPES: readonly RevocationType[] = ['key', 'token', 'subject'];

/** The revocation set, mirrored in memory on every replica. */
export class Revocations {
  constructor(readonly mirror: MirroredSet) {}

  /** True when the id of that type is revoked now. No I/O. */
  isRevoked(type: RevocationType, id: string, now: number): boolean {
    return this.entry(type, id, now) !== undefined;
  }

  /** When the id of that type was revoked (ms), if it is revoked now. No I/O. */
  revokedAt(type: RevocationType, id: string, now: number): number | undefined {
    return this.entry(type, id, now)?.createdAt;
  }

  private entry(type: RevocationType, id: string, now: number): SetEntry | undefined {
    // Usually nothing is revoked: then no lookup key is built on the request path.
    return this.mirror.size === 0 ? undefined : this.mirror.get(`${type}:${id}`, now);
  }

  /**
   * Revoke; every replica hears it through the store. If the store is unavailable the
   * revocation holds on this replica at once and reaches the store when it returns: `local`.
   */
  async revoke(
    type: RevocationType,
    id: string,
    opts: { reason?: string; expiresAt?: number; now: number },
  ): Promise<'stored' | 'local'> {
    const entry: SetEntry = { id: `${type}:${id}`, createdAt: opts.now };
    if (opts.reason) entry.reason = opts.reason;
    if (opts.expiresAt !== undefined) entry.expiresAt = opts.expiresAt;
    try {
      await this.mirror.add(entry);
      return 'stored';
    } catch {
      this.mirror.addLocal(entry);
      return 'local';
    }
  }

  /** Lift a revocation. */
  unrevoke(type: RevocationType, id: string): Promise<boolean> {
    return this.mirror.remove(`${type}:${id}`);
  }

  /** Every live revocation, as `{ type, id, … }`. */
  list(now: number): { type: string; id: string; reason?: string; expiresAt?: number; createdAt: number }[] {
    return this.mirror.list(now).map((e) => {
      const colon = e.id.indexOf(':');
      return { ...e, type: e.id.slice(0, colon), id: e.id.slice(colon + 1) };
    });
  }
}
