// Export of an audit search's whole filtered set: JSONL (the lines as stored) or CSV, pulled page by page.
import type { AuditQuery, AuditRecord } from './search-query.js';
import type { AuditSearch } from './search.js';

export type ExportFormat = 'jsonl' | 'csv';

/** The CSV columns, in order (the header row). */
export const CSV_COLUMNS = [
  'time',
  'decision',
  'status',
  'identity',
  'client IP',
  'method',
  'host',
  'path',
  'rule',
  'reason',
  'replica',
  'seq',
] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a quote, comma, CR or LF, quotes doubled. A text
 * starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` so a spreadsheet shows it as
 * text instead of running it as a formula (OWASP "CSV injection").
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s =
    typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A line's CSV row (CRLF-terminated): an admin event's name stands in the decision column. */
export function csvRow(r: AuditRecord): string {
  const isDecision = r.event === 'decision';
  const cells = [
    r.time,
    isDecision ? r.decision : r.event,
    r.status,
    r.sub ?? r.keyId ?? r.by,
    isDecision ? r.clientIp : (r.clientIp ?? r.peer),
    r.method,
    r.host,
    r.path,
    r.rule,
    r.reason,
    r.replica,
    r.seq,
  ];
  return cells.map(csvField).join(',') + '\r\n';
}

/** Lines per page while exporting: one page is what is held in memory at a time. */
const EXPORT_PAGE = 1000;

/**
 * Every line matching `query`, newest first, as JSONL or CSV text chunks (one per page; CSV starts
 * with its header row). Pulled by the consumer: the next page is read only when it asks, so a slow
 * client holds one page in memory at most. No scan budget: the query's time range bounds the work.
 */
export async function* exportAudit(
  search: AuditSearch,
  query: AuditQuery,
  format: ExportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_COLUMNS.map(csvField).join(',') + '\r\n';
  let cursor: string | null = null;
  do {
    const page = await search.search(query, cursor, {
      limit: EXPORT_PAGE,
      maxScan: Number.MAX_SAFE_INTEGER,
      maxMs: Infinity,
    });
    if (page.lines.length > 0)
      yield format === 'csv'
        ? page.lines.map((l) => csvRow(l.record)).join('')
        : page.lines.map((l) => l.text + '\n').join('');
    cursor = page.next;
  } while (cursor !== null);
}
