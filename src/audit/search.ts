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
  /** The page stopped at the scan budget before it was full: `next` goes on where it stopped. */
  partial: boolean;
  /** Set when the shared stream could not be read and this replica's file answered instead. */
  unavailable?: string;
}

/** Page settings. */
export interface PageOptions {
  /** Lines per page (1–1000). */
  limit: number;
  /** Lines read at most for this page (default 100 000, about a second): a filter matching nothing cannot scan forever. */
  maxScan?: number;
}

/** A cursor that is not one this search gave out. */
export class CursorError extends Error {}

/** Neither the shared stream nor a file can be read. */
export class SearchUnavailableError extends Error {}

export const DEFAULT_MAX_SCAN = 100_000;

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
  const r = await source.scan(query, position, opts.maxScan ?? DEFAULT_MAX_SCAN, (bytes) => {
    if (!m.maybe(bytes)) return true;
    const text = bytes.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return true;
    }
    if (parsed === null || typeof parsed !== 'object') return true;
    const record = parsed as AuditRecord;
    if (!m.matches(record)) return true;
    lines.push({ text, record });
    return lines.length < limit;
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
