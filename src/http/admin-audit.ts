// Admin reads of the audit trail: search pages, the filtered set exported (JSONL, CSV), the overview (`warden:console`).
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import type { AuditLog } from '../audit/audit-log.js';
import { exportAudit, type ExportFormat } from '../audit/search-export.js';
import { parseAuditQuery, type AuditQuery } from '../audit/search-query.js';
import { CursorError, SearchUnavailableError, type AuditSearch } from '../audit/search.js';
import type { AuditView } from '../audit/view.js';
import type { AdminHelpers } from './admin-keys.js';

/** What the audit routes use of the admin API's dependencies. */
export interface AdminAuditDeps {
  now: () => number;
  audit: AuditLog;
  auditView?: AuditView | null;
}

const NO_STORE = { 'cache-control': 'no-store' };
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1000;

type Query = { query: AuditQuery } | { response: Response };

/** The filters of the request's query string, or the 400 naming the field at fault. */
function filters(c: Context, h: AdminHelpers): Query {
  const parsed = parseAuditQuery((name) => c.req.query(name));
  return 'problem' in parsed
    ? { response: h.bad(c, parsed.problem.field, parsed.problem.message) }
    : { query: parsed.query };
}

/** The search, or the 404 saying how to get one. */
function searchOf(deps: AdminAuditDeps, c: Context): AuditSearch | Response {
  return (
    deps.auditView?.search ??
    c.json(
      { error: 'not_found', message: 'no audit sink to search: add redis or file to WARDEN_AUDIT_SINKS' },
      404,
      NO_STORE,
    )
  );
}

/** A search failure as an answer: a bad cursor 400, Redis and no file 503; anything else is thrown on. */
function failure(c: Context, e: unknown, h: AdminHelpers): Response {
  if (e instanceof CursorError) return h.bad(c, 'cursor', e.message);
  if (e instanceof SearchUnavailableError)
    return c.json({ error: 'unavailable', message: e.message }, 503, NO_STORE);
  throw e;
}

/** GET /audit: one page of matching lines, newest first. */
async function searchPage(deps: AdminAuditDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const q = filters(c, h);
  if ('response' in q) return q.response;
  const limitText = c.req.query('limit') ?? String(DEFAULT_LIMIT);
  if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT)
    return h.bad(c, 'limit', `a number of lines from 1 to ${MAX_LIMIT}`);
  const cursor = c.req.query('cursor') || null;
  const search = searchOf(deps, c);
  if (search instanceof Response) return search;
  try {
    const page = await search.search(q.query, cursor, { limit: Number(limitText) });
    return c.json(
      {
        source: page.source,
        lines: page.lines.map((l) => l.record),
        next: page.next,
        scanned: page.scanned,
        partial: page.partial,
        ...(page.unavailable ? { unavailable: page.unavailable } : {}),
      },
      200,
      NO_STORE,
    );
  } catch (e) {
    return failure(c, e, h);
  }
}

const EXPORT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};

/**
 * GET /audit/export: every matching line as JSONL or CSV, streamed: the next page is read only
 * when the client has taken the previous one (a pull stream), so a slow client holds one page.
 */
async function exportSet(deps: AdminAuditDeps, c: Context, h: AdminHelpers): Promise<Response> {
  const format = c.req.query('format') ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') return h.bad(c, 'format', 'jsonl or csv');
  const q = filters(c, h);
  if ('response' in q) return q.response;
  const search = searchOf(deps, c);
  if (search instanceof Response) return search;
  try {
    return await exportDownload(deps, search, q.query, format, { by: h.adminSub(c), filter: c.req.query() });
  } catch (e) {
    return failure(c, e, h);
  }
}

/**
 * The filtered set as a JSONL or CSV download, audited `audit_exported` with who asked and the
 * filter: what `GET /admin/audit/export` and the console's export links answer. Pulled page by
 * page as the client reads. The first page is read before the headers: its failure (a bad
 * cursor, no source answering) is thrown, to be answered on its own.
 */
export async function exportDownload(
  deps: Pick<AdminAuditDeps, 'now' | 'audit'>,
  search: AuditSearch,
  query: AuditQuery,
  format: ExportFormat,
  asked: { by: string; filter: Record<string, string> },
): Promise<Response> {
  const chunks = exportAudit(search, query, format);
  const first = await chunks.next();
  deps.audit.admin({ event: 'audit_exported', by: asked.by, format, filter: asked.filter });
  const encoder = new TextEncoder();
  let pending: IteratorResult<string> | null = first;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = pending ?? (await chunks.next());
        pending = null;
        if (r.done) controller.close();
        else controller.enqueue(encoder.encode(r.value));
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
  const stamp = new Date(deps.now()).toISOString().replace(/[:.]/g, '-');
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': EXPORT_TYPES[format],
      'content-disposition': `attachment; filename="warden-audit-${stamp}.${format}"`,
      'x-content-type-options': 'nosniff',
      ...NO_STORE,
    },
  });
}

/** Add GET /audit, /audit/export and /overview to the admin routes. */
export function addAuditRoutes(
  admin: Hono<{ Bindings: { incoming?: IncomingMessage } }>,
  deps: AdminAuditDeps,
  h: AdminHelpers,
): void {
  admin.get('/audit', (c) => searchPage(deps, c, h));
  admin.get('/audit/export', (c) => exportSet(deps, c, h));
  admin.get('/overview', async (c) => {
    const view = deps.auditView;
    if (!view) return c.json({ error: 'not_found' }, 404, NO_STORE);
    return c.json(await view.overview.overview(deps.now()), 200, NO_STORE);
  });
}
