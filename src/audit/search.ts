// Audit search: filtered pages newest first with an opaque cursor, over the shared Redis stream or this replica's file.
import { compileQuery, type AuditQuery, type AuditRecord } from './search-query.js';
import type { ScanSource } from './search-source.js';

/** One matching line: its text exactly as stored, and its parsed fields. */
export interface AuditHit {
  text: string;
  record: AuditRecord;
}

/** One page of results. */
export interface AuditPage {
  /** Matching lines, newest first. */
  lines: AuditHit[];
  /** Pass back as `cursor` for the next page; null when nothing older is left. */
  next: string | null;
  /** `redis`: every replica's lines (the shared stream); `file`: this replica's file sink. */
  source: 'redis' | 'file';
  /** Lines read for this page. */
  scanned: number;
  /** The page stopped at the scan budget (lines or time) before it was full: `next` goes on where it stopped. */
  partial: boolean;
  /** Set when the shared stream could not be read and this replica's file answered instead. */
  unavailable?: string;
}

/** Page settings. */
export interface PageOptions {
  /** Lines per page (1–1000). */
  limit: number;
  /** Lines read at most for this page (default 100 000): a filter matching nothing cannot scan forever. */
  maxScan?: number;
  /**
   * Milliseconds spent reading at most (default 400): a first page comes back within half a
   * second on a loaded machine too, partial with a cursor when the filter is rare. Infinity: none.
   */
  maxMs?: number;
  /** The clock the time budget reads, in ms (default `performance.now`): tests move it by hand. */
  now?: () => number;
}

/** A cursor that is not one this search gave out. */
export class CursorError extends Error {}

/** Neither the shared stream nor a file can be read. */
export class SearchUnavailableError extends Error {}

export const DEFAULT_MAX_SCAN = 100_000;
export const DEFAULT_MAX_MS = 400;
/** Lines between two looks at the clock: a look costs far less than reading 64 lines. */
const CLOCK_EVERY = 64;

/** The audit search of this replica. */
export interface AuditSearch {
  /** The source searched when it answers: `redis` with the redis sink, else `file`. */
  readonly primary: 'redis' | 'file';
  /** One page of lines matching `query`, older than `cursor` (null: from the newest). */
  search(query: AuditQuery, cursor: string | null, opts: PageOptions): Promise<AuditPage>;
}

function encodeCursor(kind: 'redis' | 'file', position: string): string {
  return Buffer.from(`${kind === 'redis' ? 'r' : 'f'}:${position}`).toString('base64url');
}

function decodeCursor(cursor: string): { kind: 'redis' | 'file'; position: string } {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString() : '';
  const kind = text.startsWith('r:') ? 'redis' : text.startsWith('f:') ? 'file' : null;
  if (kind === null) throw new CursorError('not a cursor this search gave out');
  return { kind, position: text.slice(2) };
}

/** Read one page from `source`. */
async function pageFrom(
  source: ScanSource,
  query: AuditQuery,
  position: string | null,
  opts: PageOptions,
): Promise<AuditPage> {
  const m = compileQuery(query);
  const lines: AuditHit[] = [];
  const limit = Math.max(1, Math.min(opts.limit, 1000));
  const now = opts.now ?? (() => performance.now());
  const deadline = now() + (opts.maxMs ?? DEFAULT_MAX_MS);
  let read = 0;
  const hit = (bytes: Buffer): AuditHit | null => {
    if (!m.maybe(bytes)) return null;
    const text = bytes.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return null;
    }
    if (parsed === null || typeof parsed !== 'object') return null;
    const record = parsed as AuditRecord;
    return m.matches(record) ? { text, record } : null;
  };
  // Each line is judged before the budget is looked at: the position a stop leaves is the last
  // line judged, so the next page starts right after it and no line is skipped.
  const r = await source.scan(query, position, opts.maxScan ?? DEFAULT_MAX_SCAN, (bytes) => {
    const h = hit(bytes);
    if (h) lines.push(h);
    if (lines.length >= limit) return false;
    return ++read % CLOCK_EVERY !== 0 || now() < deadline;
  });
  return {
    lines,
    next: r.position === null ? null : encodeCursor(source.kind, r.position),
    source: source.kind,
    scanned: r.scanned,
    partial: r.position !== null && lines.length < limit,
  };
}

/**
 * The search over `redis` (the shared stream, when the redis sink is on) and `file` (this
 * replica's file sink). When Redis fails, a first page (or a file cursor) is answered from the file
 * with `unavailable` saying why; a Redis cursor then fails with {@link SearchUnavailableError}.
 */
export function createAuditSearch(sources: {
  redis?: ScanSource | null;
  file?: ScanSource | null;
}): AuditSearch {
  const redis = sources.redis ?? null;
  const file = sources.file ?? null;
  return {
    primary: redis ? 'redis' : 'file',
    async search(query, cursor, opts) {
      const at = cursor === null ? null : decodeCursor(cursor);
      const source = at?.kind === 'file' ? file : at?.kind === 'redis' ? redis : (redis ?? file);
      if (!source)
        throw new SearchUnavailableError('no audit sink to search: add redis or file to WARDEN_AUDIT_SINKS');
      if (at && !source.validPosition(at.position))
        throw new CursorError('not a cursor this search gave out');
      if (source !== redis) return pageFrom(source, query, at?.position ?? null, opts);
      try {
        return await pageFrom(source, query, at?.position ?? null, opts);
      } catch (e) {
        const why = `Redis: ${(e as Error).message}`;
        if (!file || at) throw new SearchUnavailableError(`the shared audit stream is unavailable (${why})`);
        return { ...(await pageFrom(file, query, null, opts)), unavailable: why };
      }
    },
  };
}
