// The console's audit search form read into the audit search's own filters (its parser, its messages).
import { DECISIONS, parseAuditQuery, type AuditQuery, type QueryProblem } from '../audit/search-query.js';

/** The form's fields: the audit search's query parameters (export links and the next page carry them). */
export const QUERY_FIELDS = ['from', 'to', 'identity', 'ip', 'decision', 'status', 'path', 'rule'] as const;

/** The decision choices of the form: every refusal, or one outcome. */
export const DECISION_CHOICES = ['refused', ...DECISIONS] as const;

/** What the form sent, field by field (empty fields left out). */
export type FormValues = Partial<Record<(typeof QUERY_FIELDS)[number], string>>;

/** A `datetime-local` value (`2026-12-03T02:00`, no zone) is read as UTC, as the form says. */
const LOCAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?$/;

/** The form's values, and the filters they make or the field at fault. */
export function readAuditForm(
  get: (name: string) => string | undefined,
): { values: FormValues } & ({ query: AuditQuery } | { problem: QueryProblem }) {
  const values: FormValues = {};
  for (const k of QUERY_FIELDS) {
    const v = get(k)?.trim();
    if (v) values[k] = v;
  }
  const parsed = parseAuditQuery((name) => {
    const v = values[name as keyof FormValues];
    return (name === 'from' || name === 'to') && v !== undefined && LOCAL_TIME.test(v) ? `${v}Z` : v;
  });
  return { values, ...parsed };
}

/** The form's values as a query string (the export links and "Older results" carry exactly these). */
export function formParams(values: FormValues): string {
  return new URLSearchParams(values as Record<string, string>).toString();
}

/** A time filter as a `datetime-local` value (UTC), seconds only when there are some. */
export function localValue(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const iso = new Date(ms).toISOString();
  return iso.slice(17, 23) === '00.000' ? iso.slice(0, 16) : iso.slice(0, 19);
}
