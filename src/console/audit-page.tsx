// The console's audit page: the search form over the audit search's filters, its results and exports.
import type { AuditPage as SearchPage } from '../audit/search.js';
import type { AuditQuery } from '../audit/search-query.js';
import { DECISION_CHOICES, localValue, type FormValues } from './audit-form.js';
import { AuditResults } from './audit-results.js';
import type { AuditSource, Unavailable } from './data.js';
import { Field, SelectField } from './form-fields.js';
import { Layout, type Viewer } from './layout.js';

/** What the audit page shows. */
export interface AuditPageProps {
  viewer: Viewer;
  /** The source a search reads first; the page of results says which one answered. */
  source: AuditSource;
  /** Named the way a page of results is. */
  sourceOf?: (kind: 'redis' | 'file') => AuditSource;
  /** The form's values as sent. */
  values: FormValues;
  query: AuditQuery;
  /** The query string of the filters (export links and the next page carry it). */
  params: string;
  result: SearchPage | Unavailable | null;
  error?: { field: string; message: string };
}

/** /console/audit: the search form, results newest first, pages, exports. */
export function AuditPage(v: AuditPageProps) {
  const raw = v.values;
  const time = (name: 'from' | 'to') => (v.error ? raw[name] : localValue(v.query[name]));
  const exportHref = (format: string) =>
    `/console/audit/export?format=${format}${v.params ? `&${v.params}` : ''}`;
  const r = v.result;
  const source = r && 'lines' in r && v.sourceOf ? v.sourceOf(r.source) : v.source;
  return (
    <Layout title="Audit" current="/console/audit" viewer={v.viewer}>
      <p class="source">
        Searching {source.label}.
        {v.source.kind === 'file'
          ? ' Other replicas write their own files: add the redis audit sink to search them all.'
          : ''}
      </p>
      {r && 'lines' in r && r.unavailable ? (
        <p class="notice error" role="alert">
          {`The shared audit stream could not be read (${r.unavailable}): these are this replica's lines only.`}
        </p>
      ) : null}
      {v.error ? (
        <p class="notice error" role="alert">
          {`${v.error.field}: ${v.error.message}`}
        </p>
      ) : null}
      <form method="get" action="/console/audit" class="filters" role="search" aria-label="Audit search">
        <Field id="q-from" label="From (UTC)" name="from" type="datetime-local" value={time('from')} />
        <Field id="q-to" label="To (UTC)" name="to" type="datetime-local" value={time('to')} />
        <Field id="q-identity" label="Identity" name="identity" value={raw.identity} />
        <Field
          id="q-ip"
          label="Client IP"
          name="ip"
          value={raw.ip}
          hint="An address or a CIDR range (203.0.113.0/24)"
        />
        <SelectField
          id="q-decision"
          label="Decision"
          name="decision"
          options={[
            ['', 'any'],
            ...DECISION_CHOICES.map((d): [string, string] => [
              d,
              d === 'refused' ? 'refused (anything but allow)' : d,
            ]),
          ]}
          selected={raw.decision}
        />
        <Field id="q-status" label="Status" name="status" type="number" value={raw.status} />
        <Field id="q-path" label="Path prefix" name="path" value={raw.path} />
        <Field
          id="q-rule"
          label="Rule"
          name="rule"
          value={raw.rule}
          hint="The rule's index in the policy, or default"
        />
        <div class="actions">
          <button type="submit">Search</button>
          <a href="/console/audit">Clear</a>
        </div>
      </form>
      <p class="exports">
        Export these results: <a href={exportHref('jsonl')}>JSONL</a> · <a href={exportHref('csv')}>CSV</a>
      </p>
      <AuditResults result={v.result} params={v.params} />
    </Layout>
  );
}
