// Audit search filters: read from a query string (400 naming the field when bad), matched against a line, written back.
import { z } from 'zod';

/** One decision line of the audit trail, as the console shows and exports it. */
export interface AuditRow {
  time: string;
  decision: string;
  status: number | null;
  method: string | null;
  host: string | null;
  path: string | null;
  clientIp: string | null;
  sub: string | null;
  keyId: string | null;
  rule: number | null;
  reason: string | null;
  durationMs: number | null;
  reqId: string | null;
  replica: string | null;
}

/** The filters of a search, all optional; times in epoch ms. */
export interface AuditQuery {
  from?: number;
  to?: number;
  identity?: string;
  clientIp?: string;
  decision?: string;
  status?: number;
  pathPrefix?: string;
  rule?: number;
}

/** The decisions a search can ask for: one outcome, or every refusal. */
export const DECISION_CHOICES = [
  'refused',
  'allow',
  'unauthenticated',
  'forbidden',
  'limited',
  'malformed',
  'error',
  'would-deny',
] as const;

const text = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    .regex(/^[^\x00-\x1f\x7f]*$/, 'no control characters');

/** A time as an ISO date-time, or a datetime-local value (`2026-12-03T02:00`), read as UTC. */
const time = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v) ? `${v}Z` : v;
    const ms = /^\d{4}-\d{2}-\d{2}T/.test(iso) ? Date.parse(iso) : NaN;
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'a date and time such as 2026-12-03T02:00 (UTC)' });
      return z.NEVER;
    }
    return ms;
  });

const schema = z.object({
  from: time.optional(),
  to: time.optional(),
  identity: text(256).optional(),
  ip: text(64).optional(),
  decision: z.enum(DECISION_CHOICES, { error: `one of ${DECISION_CHOICES.join(', ')}` }).optional(),
  status: z.coerce.number().int().min(100).max(599).optional(),
  path: text(1024).optional(),
  rule: z.coerce.number().int().min(0).max(100_000).optional(),
});

/** The query parameters a search reads (also what export links carry). */
export const QUERY_FIELDS = ['from', 'to', 'identity', 'ip', 'decision', 'status', 'path', 'rule'] as const;

/** Read the filters of a query string: empty fields are absent; the first bad field is named. */
export function parseAuditQuery(
  params: Record<string, string | undefined>,
): { query: AuditQuery } | { field: string; message: string } {
  const present = Object.fromEntries(
    QUERY_FIELDS.flatMap((k) => {
      const v = params[k]?.trim();
      return v === undefined || v === '' ? [] : [[k, v]];
    }),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { field: String(issue?.path[0] ?? 'query'), message: issue?.message ?? 'invalid' };
  }
  const d = parsed.data;
  const q: AuditQuery = {};
  if (d.from !== undefined) q.from = d.from;
  if (d.to !== undefined) q.to = d.to;
  if (d.identity !== undefined) q.identity = d.identity;
  if (d.ip !== undefined) q.clientIp = d.ip;
  if (d.decision !== undefined) q.decision = d.decision;
  if (d.status !== undefined) q.status = d.status;
  if (d.path !== undefined) q.pathPrefix = d.path;
  if (d.rule !== undefined) q.rule = d.rule;
  return { query: q };
}

/** The filters as query parameters (the export links and the next page carry exactly these). */
export function queryParams(q: AuditQuery): URLSearchParams {
  const p = new URLSearchParams();
  if (q.from !== undefined) p.set('from', new Date(q.from).toISOString());
  if (q.to !== undefined) p.set('to', new Date(q.to).toISOString());
  if (q.identity !== undefined) p.set('identity', q.identity);
  if (q.clientIp !== undefined) p.set('ip', q.clientIp);
  if (q.decision !== undefined) p.set('decision', q.decision);
  if (q.status !== undefined) p.set('status', String(q.status));
  if (q.pathPrefix !== undefined) p.set('path', q.pathPrefix);
  if (q.rule !== undefined) p.set('rule', String(q.rule));
  return p;
}

const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** A parsed audit line as a row, or null when it is not a decision. */
export function rowOf(line: Record<string, unknown>): AuditRow | null {
  if (line.event !== 'decision' || typeof line.time !== 'string' || typeof line.decision !== 'string')
    return null;
  return {
    time: line.time,
    decision: line.decision,
    status: numOrNull(line.status),
    method: strOrNull(line.method),
    host: strOrNull(line.host),
    path: strOrNull(line.path),
    clientIp: strOrNull(line.clientIp),
    sub: strOrNull(line.sub),
    keyId: strOrNull(line.keyId),
    rule: numOrNull(line.rule),
    reason: strOrNull(line.reason),
    durationMs: numOrNull(line.durationMs),
    reqId: strOrNull(line.reqId),
    replica: strOrNull(line.replica),
  };
}

/** True when the row passes every filter. */
export function matches(r: AuditRow, q: AuditQuery): boolean {
  if (q.from !== undefined || q.to !== undefined) {
    const t = Date.parse(r.time);
    if (q.from !== undefined && !(t >= q.from)) return false;
    if (q.to !== undefined && !(t <= q.to)) return false;
  }
  if (q.identity !== undefined && r.sub !== q.identity) return false;
  if (q.clientIp !== undefined && r.clientIp !== q.clientIp) return false;
  if (q.decision !== undefined) {
    if (q.decision === 'refused' ? r.decision === 'allow' : r.decision !== q.decision) return false;
  }
  if (q.status !== undefined && r.status !== q.status) return false;
  if (q.pathPrefix !== undefined && !(r.path ?? '').startsWith(q.pathPrefix)) return false;
  if (q.rule !== undefined && r.rule !== q.rule) return false;
  return true;
}

/** The CSV columns of an export, in order. */
export const CSV_COLUMNS: readonly (keyof AuditRow)[] = [
  'time',
  'decision',
  'status',
  'method',
  'host',
  'path',
  'clientIp',
  'sub',
  'keyId',
  'rule',
  'reason',
  'durationMs',
  'reqId',
  'replica',
];

/** One CSV field: quoted when needed; a leading `= + - @` is neutralised so a spreadsheet runs no formula. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A row as one CSV line (with its CRLF). */
export function csvLine(r: AuditRow): string {
  return CSV_COLUMNS.map((c) => csvField(r[c])).join(',') + '\r\n';
}
