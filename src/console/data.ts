// The console's data, read straight from warden's modules: the audit view, the revocation set, keys, bans and alerts.
import type { Overview } from '../audit/overview.js';
import { SearchUnavailableError, type AuditPage } from '../audit/search.js';
import type { AuditQuery } from '../audit/search-query.js';
import type { AuditView } from '../audit/view.js';
import type { Revocations } from '../auth/revocations.js';
import type { StoredKeys } from '../auth/stored-keys.js';
import { listAlerts, listBans, type AdminBansDeps, type PublicBan } from '../http/admin-bans.js';
import type { RuntimeState } from '../runtime.js';
import type { DecisionFeed } from './decisions.js';

/** A source that cannot answer, and why (said on the page). */
export interface Unavailable {
  unavailable: string;
}

/** A key as the console lists it: never the key, never its hash. */
export interface KeyRow {
  id: string;
  source: 'file' | 'stored';
  name: string | null;
  roles: string[];
  expiresAt: number | null;
  lastUsed: number | null;
  /** Where `lastUsed` comes from. */
  lastUsedBy: 'store' | 'this replica' | null;
  revoked: boolean;
}

/** The bans in force as `GET /admin/bans` lists them; `countsShared` false: this replica's counts only. */
export interface BanList {
  bans: PublicBan[];
  countsShared: boolean;
}

/** The policy's alerts as `GET /admin/alerts` lists them, and whether firings go to a webhook. */
export type AlertList = Awaited<ReturnType<typeof listAlerts>>;

/** A revocation in force, with the requests it refused on every replica. */
export type RevocationRow = Awaited<ReturnType<Revocations['listWithEffects']>>[number];

/** Where the audit search reads, said on the page. */
export interface AuditSource {
  kind: 'redis' | 'file' | 'none';
  label: string;
}

/** What the console reads. */
export interface ConsoleData {
  overview(): Promise<Overview>;
  /** The source named `kind`, or the one a search reads first (a page may come from the other: see `AuditPage.unavailable`). */
  auditSource(kind?: 'redis' | 'file'): AuditSource;
  /** A page of the audit search; a cursor it did not give throws `CursorError`. */
  searchAudit(q: AuditQuery, cursor: string | null): Promise<AuditPage | Unavailable>;
  keys(): Promise<{ keys: KeyRow[]; storedUnavailable: string | null }>;
  revocations(): Promise<RevocationRow[] | Unavailable>;
  bans(): Promise<BanList | Unavailable>;
  alerts(): Promise<AlertList | Unavailable>;
}

/** What the console's data is read from. */
export interface LocalSources {
  state: Pick<RuntimeState, 'current'>;
  revocations: Revocations;
  storedKeys: StoredKeys | null;
  feed: DecisionFeed;
  now: () => number;
  /** The audit search (null without a searchable sink) and the overview. */
  auditView: AuditView;
  /** WARDEN_AUDIT_FILE when the file sink is on: named on the audit page. */
  auditFile: string | null;
  /** What the admin API's bans and alerts routes are built on (the console calls the same functions). */
  incident: AdminBansDeps;
}

const PAGE_SIZE = 50;
/** Stored keys listed on the keys page at most (each costs a usage lookup). */
const MAX_STORED_SHOWN = 1000;

/** How each audit source is named on the page. */
function sourceLabel(kind: 'redis' | 'file', auditFile: string | null): string {
  return kind === 'redis'
    ? 'the Redis audit stream, shared by every replica'
    : `this replica's audit file${auditFile ? ` (${auditFile})` : ''}`;
}

const STORE_DOWN = 'Redis did not answer: try again in a moment.';

/** The console's data over the modules of this process. */
export function localData(src: LocalSources): ConsoleData {
  const search = src.auditView.search;
  return {
    overview: () => src.auditView.overview.overview(src.now()),
    auditSource: (kind = search?.primary) =>
      kind
        ? { kind, label: sourceLabel(kind, src.auditFile) }
        : { kind: 'none', label: 'no searchable audit sink' },
    searchAudit: async (q, cursor) => {
      if (!search)
        return {
          unavailable:
            'No audit sink can be searched: add `file` (with WARDEN_AUDIT_FILE) or `redis` to WARDEN_AUDIT_SINKS.',
        };
      try {
        return await search.search(q, cursor, { limit: PAGE_SIZE });
      } catch (e) {
        if (e instanceof SearchUnavailableError) return { unavailable: e.message };
        throw e;
      }
    },
    keys: () => keyRows(src),
    revocations: () => src.revocations.listWithEffects(src.now()).catch(() => ({ unavailable: STORE_DOWN })),
    bans: () => listBans(src.incident).catch(() => ({ unavailable: STORE_DOWN })),
    alerts: () => listAlerts(src.incident).catch(() => ({ unavailable: STORE_DOWN })),
  };
}

/** The keys of the keys file and the store, with expiry, last use and whether revoked. */
async function keyRows(src: LocalSources): Promise<{ keys: KeyRow[]; storedUnavailable: string | null }> {
  const now = src.now();
  const revoked = (id: string) => src.revocations.isRevoked('key', id, now);
  const fileKeys: KeyRow[] = src.state.current.keys.entries.map((k) => {
    const seen = src.feed.keyLastSeen(k.id);
    return {
      id: k.id,
      source: 'file',
      name: k.name ?? null,
      roles: [...k.roles],
      expiresAt: k.expires ? k.expires.getTime() : null,
      lastUsed: seen ?? null,
      lastUsedBy: seen === undefined ? null : 'this replica',
      revoked: revoked(k.id),
    };
  });
  const storedKeys = src.storedKeys;
  if (!storedKeys) return { keys: fileKeys, storedUnavailable: null };
  try {
    const stored: KeyRow[] = [];
    let cursor: string | null = null;
    do {
      const page = await storedKeys.list(cursor, 100);
      // One page's usage looked up together rather than key by key.
      const described = await Promise.all(page.entries.map((e) => storedKeys.describe(e.id, now)));
      for (const [i, e] of page.entries.entries()) {
        const d = described[i];
        stored.push({
          id: e.id,
          source: 'stored',
          name: e.name ?? null,
          roles: [...e.roles],
          expiresAt: e.expiresAt ?? null,
          lastUsed: d?.lastUsed ?? null,
          lastUsedBy: d?.lastUsed ? 'store' : null,
          revoked: revoked(e.id),
        });
      }
      cursor = page.cursor;
    } while (cursor !== null && stored.length < MAX_STORED_SHOWN);
    return { keys: [...fileKeys, ...stored], storedUnavailable: null };
  } catch {
    return { keys: fileKeys, storedUnavailable: 'Redis did not answer: stored keys cannot be listed now.' };
  }
}
