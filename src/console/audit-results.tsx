// The audit page's results: lines of the trail as rows (decisions and admin events), pages, partial scans.
import type { AuditPage as SearchPage } from '../audit/search.js';
import type { AuditRecord } from '../audit/search-query.js';
import type { Unavailable } from './data.js';
import { Time, timeOf } from './layout.js';

const cell = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A line of the trail as a row: a decision, or an admin event (its name in the decision column). */
function AuditLine(props: { r: AuditRecord }) {
  const r = props.r;
  const decision = r.event === 'decision';
  return (
    <tr>
      <td>
        <Time ms={timeOf(r.time)} empty="" />
      </td>
      <td>{decision ? cell(r.decision) : cell(r.event)}</td>
      <td class="num">{cell(r.status)}</td>
      {/* An admin event's `method` may name a sign-in method rather than an HTTP one. */}
      <td>{/^[A-Z]{1,16}$/.test(cell(r.method)) ? cell(r.method) : ''}</td>
      <td class="mono path">{cell(r.path)}</td>
      <td class="mono">{cell(r.sub ?? r.keyId ?? r.by)}</td>
      <td class="mono">{cell(decision ? r.clientIp : (r.clientIp ?? r.peer))}</td>
      <td class="num">{decision && r.rule === null ? 'default' : cell(r.rule)}</td>
      <td>{cell(r.reason)}</td>
      <td class="mono">{cell(r.replica)}</td>
    </tr>
  );
}

/** The results of an audit search: a table newest first, or why there is none; "Older results" carries `params`. */
export function AuditResults(props: { result: SearchPage | Unavailable | null; params: string }) {
  const r = props.result;
  if (r === null) return null;
  if (!('lines' in r))
    return (
      <p class="notice error" role="alert">
        {r.unavailable}
      </p>
    );
  const more =
    r.next === null ? null : (
      <p>
        <a
          href={`/console/audit?${props.params ? `${props.params}&` : ''}cursor=${encodeURIComponent(r.next)}`}
        >
          Older results
        </a>
      </p>
    );
  if (r.lines.length === 0)
    return (
      <>
        <p class="empty">
          {r.partial
            ? `No match in the ${r.scanned} lines read so far: "Older results" reads on.`
            : 'Nothing matches these filters. Widen the time range or clear a filter; a decision is searchable once the proxy has sent a request through warden.'}
        </p>
        {more}
      </>
    );
  return (
    <>
      <div class="scroll" tabindex={0} role="region" aria-label="Audit results">
        <table>
          <caption>Decisions and admin events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Decision or event</th>
              <th scope="col" class="num">
                Status
              </th>
              <th scope="col">Method</th>
              <th scope="col">Path</th>
              <th scope="col">Identity</th>
              <th scope="col">Client IP</th>
              <th scope="col" class="num">
                Rule
              </th>
              <th scope="col">Reason</th>
              <th scope="col">Replica</th>
            </tr>
          </thead>
          <tbody>
            {r.lines.map((l) => (
              <AuditLine r={l.record} />
            ))}
          </tbody>
        </table>
      </div>
      {r.partial ? (
        <p class="source">{`The page stopped after reading ${r.scanned} lines: "Older results" goes on from there.`}</p>
      ) : null}
      {more ?? <p class="source">End of the results.</p>}
    </>
  );
}
