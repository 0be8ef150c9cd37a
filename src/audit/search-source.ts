// Where an audit search reads lines, newest first: the contract of a source, and the Redis stream's.
import type { AuditStream } from './audit-stream.js';
import type { AuditQuery } from './search-query.js';

/** Where a scan stopped: the position of the last line visited, or null when nothing older is left. */
export interface ScanResult {
  position: string | null;
  scanned: number;
}

/** Lines newest first from a position (exclusive), at most `budget` of them, until `visit` says stop. */
export interface ScanSource {
  readonly kind: 'redis' | 'file';
  /** Whether a position (from a cursor) has this source's shape. */
  validPosition(p: string): boolean;
  /**
   * Visit lines older than `position` (null: from the newest) that may lie in the query's time
   * range, as UTF-8 bytes (decoded only if the filters may match); `visit` returns false to stop after that line.
   */
  scan(
    q: AuditQuery,
    position: string | null,
    budget: number,
    visit: (line: Buffer) => boolean,
  ): Promise<ScanResult>;
}

/**
 * How far a line's stream id may run ahead of its `time`: ids never go back, so a replica whose
 * clock lags the others (or a batch retried late) gets ids up to its lag later than its lines.
 */
const ID_LAG_MS = 60_000;
const FIRST_CHUNK = 256;
const MAX_CHUNK = 4096;

/**
 * The shared stream, read with XREVRANGE in growing chunks. The time range maps onto stream ids
 * (an id is never earlier than its line's time): `from` is the lowest id, `to` plus the lag allowed
 * the highest; the exact range is then checked on each line's `time`.
 */
export function redisSource(stream: Pick<AuditStream, 'newest'>): ScanSource {
  return {
    kind: 'redis',
    validPosition: (p) => /^\d{1,16}-\d{1,20}$/.test(p),
    async scan(q, position, budget, visit): Promise<ScanResult> {
      let end = position !== null ? `(${position}` : q.to !== undefined ? String(q.to + ID_LAG_MS) : '+';
      const start = q.from !== undefined ? String(q.from) : '-';
      let scanned = 0;
      let last = position;
      let chunk = FIRST_CHUNK;
      for (;;) {
        const n = Math.min(chunk, budget - scanned);
        if (n <= 0) return { position: last, scanned };
        const entries = await stream.newest(end, start, n);
        for (const e of entries) {
          scanned++;
          last = e.id;
          if (!visit(e.line)) return { position: last, scanned };
        }
        if (entries.length < n || last === null) return { position: null, scanned };
        end = `(${last}`;
        chunk = Math.min(chunk * 2, MAX_CHUNK);
      }
    },
  };
}
