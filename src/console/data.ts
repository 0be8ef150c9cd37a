// The console's data sources: one interface per kind of data, over warden's modules or the admin API's JSON.
import type { Revocations } from '../auth/revocations.js';
import type { StoredKeys } from '../auth/stored-keys.js';
import type { RuntimeState } from '../runtime.js';
import { AuditFileSearch, type AuditPage } from './audit-file.js';
import { queryParams, type AuditQuery, type AuditRow } from './audit-query.js';
import type { DecisionFeed, Overview } from './decisions.js';

/**
 * warden's admin API, called in-process with the caller's own credentials (the console's actions
 * go through exactly the admin API's code: its checks, its audit events with the acting identity).
 */
export type AdminCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

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

/** A ban as the admin API lists it. */
export interface BanRow {
  id: string;
  type: string;
  value: string;
  reason: string | null;
  by: string | null;
  createdAt: number | null;
  expiresAt: number | null;
  /** Requests refused by it, when the API counts them. */
  refused: number | null;
}

/** A configured alert and when it last fired. */
export interface AlertRow {
  name: string;
  on: string;
  by: string;
  threshold: number;
  window: string;
  lastFired: number | null;
  lastSubject: string | null;
}

/** Where the audit search reads, said on the page. */
export type AuditSourceKind = 'redis' | 'file' | 'none';

/** Everything the pages read. */
export interface ConsoleData {
  overview(admin: AdminCall): Promise<Overview>;
  auditSource(admin: AdminCall): Promise<{ kind: AuditSourceKind; label: string }>;
  searchAudit(admin: AdminCall, q: AuditQuery, cursor: string | null): Promise<AuditPage | Unavailable>;
  exportAudit(
    admin: AdminCall,
    q: AuditQuery,
  ): Promise<AsyncIterable<AuditRow> | Iterable<AuditRow> | Unavailable>;
  keys(): Promise<{ keys: KeyRow[]; storedUnavailable: string | null }>;
  revocations(): {
    type: string;
    id: string;
    reason: string | null;
    createdAt: number;
    expiresAt: number | null;
  }[];
  bans(admin: AdminCall): Promise<BanRow[] | Unavailable>;
  alerts(admin: AdminCall): Promise<AlertRow[] | Unavailable>;
}

/** What the local data sources are built from. */
export interface LocalSources {
  state: Pick<RuntimeState, 'current'>;
  revocations: Revocations;
  storedKeys: StoredKeys | null;
  feed: DecisionFeed;
  now: () => number;
  /** The audit file sink (WARDEN_AUDIT_FILE with `file` in WARDEN_AUDIT_SINKS), if on. */
  auditFile: { path: string; keep: number } | null;
}

const PAGE_SIZE = 50;
/** Stored keys listed on the keys page at most (each costs a usage lookup). */
const MAX_STORED_SHOWN = 1000;

// --- Reading the admin API's JSON: tolerant of the fields it may add, strict on the ones shown. ---

const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
/** A time given as epoch ms or an ISO string. */
const when = (v: unknown): number | null => {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
};

/** Why an admin answer is no data: not in this build (404), not permitted, or failed. */
function refusal(status: number, body: unknown, what: string): Unavailable {
  if (status === 404) return { unavailable: `${what} are not available in this version of warden.` };
  if (status === 401 || status === 403)
    return { unavailable: `Reading ${what} needs the warden:admin permission.` };
  const message = str(obj(body).message);
  return { unavailable: `${what} could not be read (${status}${message ? `: ${message}` : ''}).` };
}

/** `GET /admin/bans` → `{ bans: [{ id, type, value, reason, createdBy, createdAt, expiresAt, refused? }] }`. */
export function bansFromAdmin(body: unknown): BanRow[] {
  const list = obj(body).bans;
  return (Array.isArray(list) ? list : []).map((b) => {
    const o = obj(b);
    const effect = obj(o.effect);
    return {
      id: str(o.id) ?? '',
      type: str(o.type) ?? '',
      value: str(o.value) ?? '',
      reason: str(o.reason),
      by: str(o.createdBy) ?? str(o.by),
      createdAt: when(o.createdAt),
      expiresAt: when(o.expiresAt),
      refused: num(o.refused) ?? num(effect.refused),
    };
  });
}

/** `GET /admin/alerts` → `{ alerts: [{ name, on, by, threshold, window, lastFired?: { at, subject } }] }`. */
export function alertsFromAdmin(body: unknown): AlertRow[] {
  const list = obj(body).alerts;
  return (Array.isArray(list) ? list : []).map((a) => {
    const o = obj(a);
    const last = obj(o.lastFired);
    return {
      name: str(o.name) ?? '',
      on: str(o.on) ?? '',
      by: str(o.by) ?? '',
      threshold: num(o.threshold) ?? 0,
      window: str(o.window) ?? String(num(o.window) ?? ''),
      lastFired: when(o.lastFired) ?? when(last.at) ?? when(last.time),
      lastSubject: str(last.subject) ?? str(o.lastSubject),
    };
  });
}

/** `GET /admin/audit?…` → `{ source, records: [audit line…], next }`. */
export function auditPageFromAdmin(
  body: unknown,
  rowOf: (l: Record<string, unknown>) => AuditRow | null,
): AuditPage {
  const o = obj(body);
  const list = Array.isArray(o.records) ? o.records : Array.isArray(o.items) ? o.items : [];
  return {
    rows: list.map((l) => rowOf(obj(l))).filter((r): r is AuditRow => r !== null),
    next: str(o.next) ?? str(o.cursor),
  };
}

/** The console's data over the modules of this build; bans, alerts and the Redis audit view through the admin API. */
export function localData(
  src: LocalSources,
  rowOf: (l: Record<string, unknown>) => AuditRow | null,
): ConsoleData {
  const file = src.auditFile ? new AuditFileSearch(src.auditFile.path, src.auditFile.keep) : null;
  const fileLabel = src.auditFile ? `this replica's audit file (${src.auditFile.path})` : '';
  /** The Redis audit view when the admin API serves one (a 404 means this build or sink has none). */
  const redisAudit = async (admin: AdminCall, params: URLSearchParams) => {
    const r = await admin('GET', `/audit?${params.toString()}`).catch(() => ({ status: 503, body: null }));
    return r.status === 200 ? r.body : null;
  };
  return {
    overview: async (admin) => {
      const r = await admin('GET', '/overview').catch(() => null);
      return r?.status === 200 ? overviewFromAdmin(r.body, src.feed.overview()) : src.feed.overview();
    },
    auditSource: async (admin) => {
      if ((await redisAudit(admin, new URLSearchParams({ limit: '1' }))) !== null)
        return { kind: 'redis', label: 'the Redis audit stream, shared by every replica' };
      return file ? { kind: 'file', label: fileLabel } : { kind: 'none', label: 'no searchable audit sink' };
    },
    searchAudit: async (admin, q, cursor) => {
      const params = queryParams(q);
      params.set('limit', String(PAGE_SIZE));
      if (cursor !== null) params.set('cursor', cursor);
      const shared = await redisAudit(admin, params);
      if (shared !== null) return auditPageFromAdmin(shared, rowOf);
      if (!file)
        return {
          unavailable:
            'No audit sink can be searched: add `file` (with WARDEN_AUDIT_FILE) or `redis` to WARDEN_AUDIT_SINKS.',
        };
      return file.page(q, cursor, PAGE_SIZE);
    },
    exportAudit: (_admin, q) =>
      Promise.resolve(
        file
          ? file.all(q)
          : { unavailable: 'No audit sink can be exported: add `file` or `redis` to WARDEN_AUDIT_SINKS.' },
      ),
    keys: () => keyRows(src),
    revocations: () =>
      src.revocations.list(src.now()).map((r) => ({
        type: r.type,
        id: r.id,
        reason: r.reason ?? null,
        createdAt: r.createdAt,
        expiresAt: r.expiresAt ?? null,
      })),
    bans: async (admin) => {
      const r = await admin('GET', '/bans');
      return r.status === 200 ? bansFromAdmin(r.body) : refusal(r.status, r.body, 'Bans');
    },
    alerts: async (admin) => {
      const r = await admin('GET', '/alerts');
      return r.status === 200 ? alertsFromAdmin(r.body) : refusal(r.status, r.body, 'Alerts');
    },
  };
}

/** `GET /admin/overview` → the console's Overview; fields it lacks come from this replica's view. */
export function overviewFromAdmin(body: unknown, local: Overview): Overview {
  const o = obj(body);
  const minutes = Array.isArray(o.minutes) ? o.minutes.map(obj) : null;
  if (!minutes || minutes.length === 0) return local;
  const starts = minutes.map((m) => when(m.start) ?? when(m.t) ?? 0);
  const series = Object.fromEntries(
    Object.keys(local.series).map((k) => [k, minutes.map((m) => num(obj(m.counts)[k]) ?? 0)]),
  ) as Overview['series'];
  const top = obj(o.top);
  const ranked = (v: unknown) =>
    (Array.isArray(v) ? v : []).map((x) => ({
      value: str(obj(x).value) ?? '',
      count: num(obj(x).count) ?? 0,
    }));
  const lat = obj(o.latency);
  return {
    source: 'every replica (the shared audit stream, last hour)',
    minutes: starts,
    series,
    top: { identities: ranked(top.identities), ips: ranked(top.ips), paths: ranked(top.paths) },
    latency: {
      count: num(lat.count) ?? 0,
      p50Ms: num(lat.p50Ms),
      p95Ms: num(lat.p95Ms),
      p99Ms: num(lat.p99Ms),
      maxMs: num(lat.maxMs),
    },
    total: Object.values(series).reduce((a, s) => a + s.reduce((x, y) => x + y, 0), 0),
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
