// Revocations: key ids (later token ids and sessions) refused on every replica, checked in memory.
import type { BatchedCounts } from '../store/batched-counts.js';
import type { MirroredSet } from '../store/mirror.js';
import type { SetEntry } from '../store/store.js';
import type { RevocationRef } from './errors.js';

/**
 * What can be revoked: an API key id, a token's `jti`, every token of a subject issued until the
 * revocation, or sign-in sessions (`sid:<provider>#<IdP sid>`, `sub:<provider>#<sub>`; back-channel logout).
 */
export type RevocationType = 'key' | 'token' | 'subject' | 'session';

/** Every revocation type, for argument checking. */
export const REVOCATION_TYPES: readonly RevocationType[] = ['key', 'token', 'subject'];

/** The revocation set, mirrored in memory on every replica. */
export class Revocations {
  constructor(
    readonly mirror: MirroredSet,
    /** Requests refused, per revocation, across replicas; null counts nothing. */
    private readonly refused: BatchedCounts | null = null,
  ) {}

  /** Count one request refused by a revocation (batched to the store). */
  countRefusal(ref: RevocationRef): void {
    this.refused?.count(refusedKey(ref.id, ref.createdAt));
  }

  /** True when the id of that type is revoked now. No I/O. */
  isRevoked(type: RevocationType, id: string, now: number): boolean {
    return this.entry(type, id, now) !== undefined;
  }

  /** The revocation of the id of that type in force now, as an AuthError names it. No I/O. */
  find(type: RevocationType, id: string, now: number): RevocationRef | undefined {
    const e = this.entry(type, id, now);
    return e && { id: e.id, createdAt: e.createdAt };
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
  async unrevoke(type: RevocationType, id: string): Promise<boolean> {
    const had = this.mirror.get(`${type}:${id}`, -Infinity);
    const removed = await this.mirror.remove(`${type}:${id}`);
    if (had) await this.refused?.forget([refusedKey(had.id, had.createdAt)]);
    return removed;
  }

  /** Every live revocation with the requests it has refused since it was made (across replicas). */
  async listWithEffects(
    now: number,
  ): Promise<(ReturnType<Revocations['list']>[number] & { refused: number })[]> {
    const list = this.list(now);
    const counts = this.refused
      ? (await this.refused.read(list.map((r) => refusedKey(`${r.type}:${r.id}`, r.createdAt)))).counts
      : [];
    return list.map((r, i) => ({ ...r, refused: counts[i] ?? 0 }));
  }

  /** Every live revocation, as `{ type, id, … }`. */
  list(now: number): { type: string; id: string; reason?: string; expiresAt?: number; createdAt: number }[] {
    return this.mirror.list(now).map((e) => {
      const colon = e.id.indexOf(':');
      return { ...e, type: e.id.slice(0, colon), id: e.id.slice(colon + 1) };
    });
  }
}

/** Where a revocation's refusals are counted: a revocation made again counts afresh. */
function refusedKey(entryId: string, createdAt: number): string {
  return `rev:${entryId}@${createdAt}`;
}
