// The console's audit routes: the search page and the export (the audit search of this process, as GET /admin/audit).
import type { Hono } from 'hono';
import { CursorError, SearchUnavailableError } from '../audit/search.js';
import { exportDownload } from '../http/admin-audit.js';
import type { ConsoleEnv, CsrfTokens } from './access.js';
import { formParams, readAuditForm } from './audit-form.js';
import { AuditPage } from './audit-page.js';
import type { ConsoleDeps } from './deps.js';
import { guard, html } from './guard.js';

/** GET /audit and GET /audit/export: the audit search of this process (the same as GET /admin/audit). */
export function auditRoutes(app: Hono<ConsoleEnv>, deps: ConsoleDeps, csrf: CsrfTokens): void {
  app.get('/console/audit', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const form = readAuditForm((k) => c.req.query(k));
    const base = {
      viewer: seen.viewer,
      source: deps.data.auditSource(),
      sourceOf: (kind: 'redis' | 'file') => deps.data.auditSource(kind),
      values: form.values,
    };
    const refused = (error: { field: string; message: string }) =>
      html(<AuditPage {...base} query={{}} params="" result={null} error={error} />, 400, seen.cookies);
    if ('problem' in form) return refused(form.problem);
    let result;
    try {
      result = await deps.data.searchAudit(form.query, c.req.query('cursor') || null);
    } catch (e) {
      if (!(e instanceof CursorError)) throw e;
      return refused({ field: 'cursor', message: 'not a page of these results; search again' });
    }
    return html(
      <AuditPage {...base} query={form.query} params={formParams(form.values)} result={result} />,
      200,
      seen.cookies,
    );
  });
  app.get('/console/audit/export', async (c) => {
    const seen = await guard(deps, csrf, c, 'read');
    if (seen instanceof Response) return seen;
    const format = c.req.query('format');
    if (format !== 'jsonl' && format !== 'csv')
      return c.json({ error: 'bad_request', field: 'format', message: 'jsonl or csv' }, 400);
    const form = readAuditForm((k) => c.req.query(k));
    if ('problem' in form) return c.json({ error: 'bad_request', ...form.problem }, 400);
    const search = deps.auditView.search;
    if (!search)
      return c.json(
        { error: 'unavailable', message: 'no audit sink to export: add redis or file to WARDEN_AUDIT_SINKS' },
        503,
      );
    try {
      return await exportDownload(deps, search, form.query, format, {
        by: seen.viewer.sub,
        filter: { format, ...form.values },
      });
    } catch (e) {
      if (e instanceof SearchUnavailableError)
        return c.json({ error: 'unavailable', message: e.message }, 503);
      throw e;
    }
  });
}
