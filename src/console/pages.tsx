// The console's pages, server-rendered (hono/jsx escapes every value): overview, audit, keys, revocations, bans, alerts.
import { DECISION_CHOICES, type AuditQuery, type AuditRow } from './audit-query.js';
import type { AlertRow, AuditSourceKind, BanRow, KeyRow, Unavailable } from './data.js';
import { OUTCOMES, type Overview, type Ranked } from './decisions.js';
import { Csrf, DataBlock, Layout, NoticeBox, Time, type Notice, type Viewer } from './layout.js';

const ms = (v: number | null) => (v === null ? 'n/a' : v === Infinity ? '> 10 s' : `≤ ${v} ms`);

function RankedTable(props: { caption: string; head: string; rows: Ranked[] }) {
  return (
    <section class="card">
      <h2>{props.caption}</h2>
      {props.rows.length === 0 ? (
        <p class="empty">Nothing refused in the last hour.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{props.head}</th>
              <th scope="col" class="num">
                Refused
              </th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr>
                <td class="mono">{r.value}</td>
                <td class="num">{r.count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** /console/: decisions per minute by outcome, the most refused, latency, and the live feed. */
export function OverviewPage(props: { viewer: Viewer; data: Overview }) {
  const d = props.data;
  const refused = d.total - d.series.allow.reduce((a, b) => a + b, 0);
  return (
    <Layout title="Overview" current="/console/" viewer={props.viewer} chart>
      <p class="source">Showing {d.source}.</p>
      <section class="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Decisions per minute by outcome</h2>
        {d.total === 0 ? (
          <p class="empty" id="no-decisions">
            No decisions yet: send a request through the proxy, and it shows here within a second.
          </p>
        ) : null}
        <figure>
          <div
            id="chart"
            class="chart"
            role="img"
            aria-label={`Decisions per minute over the last hour: ${d.total} in all, ${refused} refused.`}
          ></div>
          <figcaption>
            {d.total} decisions in the last hour, {refused} refused. Outcomes: {OUTCOMES.join(', ')}.
          </figcaption>
        </figure>
        <DataBlock id="overview-data" value={{ minutes: d.minutes, series: d.series, outcomes: OUTCOMES }} />
      </section>
      <section class="card" aria-labelledby="latency-title">
        <h2 id="latency-title">Decision latency</h2>
        <p>
          Decision latency over {d.latency.count} decisions: median {ms(d.latency.p50Ms)}, p95{' '}
          {ms(d.latency.p95Ms)}, p99 {ms(d.latency.p99Ms)}, slowest{' '}
          {d.latency.maxMs === null ? 'n/a' : `${d.latency.maxMs} ms`}.
        </p>
      </section>
      <div class="grid">
        <RankedTable caption="Most refused identities" head="Identity" rows={d.top.identities} />
        <RankedTable caption="Most refused client IPs" head="Client IP" rows={d.top.ips} />
        <RankedTable caption="Most refused paths" head="Path" rows={d.top.paths} />
      </div>
      <section class="card" aria-labelledby="live-title">
        <h2 id="live-title">Live decisions</h2>
        <p id="live-status" class="source">
          Connecting to the live feed…
        </p>
        <table class="live">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Decision</th>
              <th scope="col">Status</th>
              <th scope="col">Path</th>
              <th scope="col">Identity</th>
            </tr>
          </thead>
          <tbody id="live-rows"></tbody>
        </table>
      </section>
    </Layout>
  );
}

function Field(props: {
  id: string;
  label: string;
  name: string;
  value: string | undefined;
  type?: string;
  hint?: string;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.name}
        type={props.type ?? 'text'}
        value={props.value ?? ''}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
      />
      {props.hint ? (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      ) : null}
    </div>
  );
}

const localValue = (t: number | undefined) =>
  t === undefined ? undefined : new Date(t).toISOString().slice(0, 16);

/** What the audit page shows. */
export interface AuditView {
  viewer: Viewer;
  source: { kind: AuditSourceKind; label: string };
  query: AuditQuery;
  /** The query string of the filters (export links and the next page carry it). */
  params: string;
  result: { rows: AuditRow[]; next: string | null } | Unavailable | null;
  error?: { field: string; message: string };
  /** Given back as typed when a field was refused. */
  raw?: Record<string, string | undefined>;
}

/** /console/audit: the search form, results newest first, pages, exports. */
export function AuditPage(v: AuditView) {
  const q = v.query;
  const raw = v.raw ?? {};
  const val = (name: string, parsed: string | undefined) => (v.error ? raw[name] : parsed);
  const exportHref = (format: string) =>
    `/console/audit/export?format=${format}${v.params ? `&${v.params}` : ''}`;
  return (
    <Layout title="Audit" current="/console/audit" viewer={v.viewer}>
      <p class="source">
        Searching {v.source.label}.
        {v.source.kind === 'file'
          ? ' Other replicas write their own files: add the redis audit sink to search them all.'
          : ''}
      </p>
      {v.error ? (
        <p class="notice error" role="alert">
          {`${v.error.field}: ${v.error.message}`}
        </p>
      ) : null}
      <form method="get" action="/console/audit" class="filters" role="search" aria-label="Audit search">
        <Field
          id="q-from"
          label="From (UTC)"
          name="from"
          type="datetime-local"
          value={val('from', localValue(q.from))}
        />
        <Field
          id="q-to"
          label="To (UTC)"
          name="to"
          type="datetime-local"
          value={val('to', localValue(q.to))}
        />
        <Field id="q-identity" label="Identity" name="identity" value={val('identity', q.identity)} />
        <Field id="q-ip" label="Client IP" name="ip" value={val('ip', q.clientIp)} />
        <div class="field">
          <label for="q-decision">Decision</label>
          <select id="q-decision" name="decision">
            <option value="">any</option>
            {DECISION_CHOICES.map((d) => (
              <option value={d} selected={d === (v.error ? raw.decision : q.decision)}>
                {d === 'refused' ? 'refused (anything but allow)' : d}
              </option>
            ))}
          </select>
        </div>
        <Field
          id="q-status"
          label="Status"
          name="status"
          type="number"
          value={val('status', q.status?.toString())}
        />
        <Field id="q-path" label="Path prefix" name="path" value={val('path', q.pathPrefix)} />
        <Field
          id="q-rule"
          label="Rule"
          name="rule"
          type="number"
          value={val('rule', q.rule?.toString())}
          hint="The rule's index in the policy"
        />
        <div class="actions">
          <button type="submit">Search</button>
          <a href="/console/audit">Clear</a>
        </div>
      </form>
      <p class="exports">
        Export these results: <a href={exportHref('jsonl')}>JSONL</a> · <a href={exportHref('csv')}>CSV</a>
      </p>
      <AuditResults v={v} />
    </Layout>
  );
}

function AuditResults(props: { v: AuditView }) {
  const r = props.v.result;
  if (r === null) return null;
  if ('unavailable' in r)
    return (
      <p class="notice error" role="alert">
        {r.unavailable}
      </p>
    );
  if (r.rows.length === 0)
    return (
      <p class="empty">
        No decisions match these filters. Widen the time range or clear a filter; a decision is searchable
        once the proxy has sent a request through warden.
      </p>
    );
  return (
    <>
      <div class="scroll" tabindex={0} role="region" aria-label="Audit results">
        <table>
          <caption>Decisions, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Decision</th>
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
            </tr>
          </thead>
          <tbody>
            {r.rows.map((row) => (
              <tr>
                <td>
                  <Time ms={Date.parse(row.time)} />
                </td>
                <td>{row.decision}</td>
                <td class="num">{row.status ?? ''}</td>
                <td>{row.method ?? ''}</td>
                <td class="mono path">{row.path ?? ''}</td>
                <td class="mono">{row.sub ?? ''}</td>
                <td class="mono">{row.clientIp ?? ''}</td>
                <td class="num">{row.rule ?? ''}</td>
                <td>{row.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {r.next !== null ? (
        <p>
          <a
            href={`/console/audit?${props.v.params ? `${props.v.params}&` : ''}cursor=${encodeURIComponent(r.next)}`}
          >
            Older results
          </a>
        </p>
      ) : (
        <p class="source">End of the results.</p>
      )}
    </>
  );
}

/** /console/keys: keys of the file and the store, never a key or a hash. */
export function KeysPage(props: { viewer: Viewer; keys: KeyRow[]; storedUnavailable: string | null }) {
  return (
    <Layout title="Keys" current="/console/keys" viewer={props.viewer}>
      <p class="source">
        API keys of the keys file and, with WARDEN_KEYS_STORE=redis, the store. Keys and their hashes are
        never shown.
      </p>
      {props.storedUnavailable ? (
        <p class="notice error" role="alert">
          {props.storedUnavailable}
        </p>
      ) : null}
      {props.keys.length === 0 ? (
        <p class="empty">No API keys yet: create one with `warden keys create` (docs/keys.md).</p>
      ) : (
        <div class="scroll" tabindex={0} role="region" aria-label="Keys">
          <table>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Where</th>
                <th scope="col">Name</th>
                <th scope="col">Roles</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody>
              {props.keys.map((k) => (
                <tr>
                  <td class="mono">{k.id}</td>
                  <td>{k.source === 'file' ? 'keys file' : 'store'}</td>
                  <td>{k.name ?? ''}</td>
                  <td>{k.roles.join(', ')}</td>
                  <td>
                    <Time ms={k.expiresAt} empty="never" />
                  </td>
                  <td>
                    <Time
                      ms={k.lastUsed}
                      empty={k.source === 'file' ? 'not seen by this replica' : 'never'}
                    />
                    {k.lastUsedBy === 'this replica' ? ' (this replica)' : ''}
                  </td>
                  <td>{k.revoked ? 'revoked' : 'active'}</td>
                  <td>
                    {props.viewer.canAct && !k.revoked ? (
                      <form method="get" action="/console/revocations/confirm">
                        <input type="hidden" name="type" value="key" />
                        <input type="hidden" name="id" value={k.id} />
                        <button type="submit" aria-label={`Revoke… ${k.id}`}>
                          Revoke…
                        </button>
                      </form>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

/** A revocation as listed, with the requests it refused on this replica. */
export interface RevocationView {
  type: string;
  id: string;
  reason: string | null;
  createdAt: number;
  expiresAt: number | null;
  refused: number;
}

function ReasonField(props: { id: string; required?: boolean }) {
  return (
    <div class="field">
      <label for={props.id}>Reason</label>
      <input id={props.id} name="reason" type="text" maxlength={256} required={props.required ?? true} />
    </div>
  );
}

/** /console/revocations: the list, revoke and unrevoke with a reason, what each refused. */
export function RevocationsPage(props: {
  viewer: Viewer;
  csrf: string;
  list: RevocationView[];
  notice?: Notice | null;
}) {
  return (
    <Layout title="Revocations" current="/console/revocations" viewer={props.viewer}>
      <NoticeBox notice={props.notice} />
      {props.viewer.canAct ? (
        <section class="card" aria-labelledby="revoke-title">
          <h2 id="revoke-title">Revoke</h2>
          <form method="post" action="/console/revocations" class="inline-form">
            <Csrf token={props.csrf} />
            <div class="field">
              <label for="r-type">Type</label>
              <select id="r-type" name="type">
                <option value="key">API key id</option>
                <option value="token">token id (jti)</option>
                <option value="subject">subject (every token issued until now)</option>
              </select>
            </div>
            <Field id="r-id" label="ID" name="id" value={undefined} />
            <ReasonField id="r-reason" />
            <Field
              id="r-expires"
              label="Until (optional)"
              name="expires"
              value={undefined}
              hint="A duration such as 24h, or empty for always"
            />
            <div class="actions">
              <button type="submit">Revoke</button>
            </div>
          </form>
        </section>
      ) : null}
      <section class="card" aria-labelledby="list-title">
        <h2 id="list-title">In force</h2>
        {props.list.length === 0 ? (
          <p class="empty">
            Nothing is revoked. Revoke a key, a token id or a subject with the form above (warden:admin).
          </p>
        ) : (
          <div class="scroll" tabindex={0} role="region" aria-label="Revocations in force">
            <table>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">ID</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Since</th>
                  <th scope="col">Until</th>
                  <th scope="col" class="num">
                    Refused (this replica)
                  </th>
                  {props.viewer.canAct ? <th scope="col">Action</th> : null}
                </tr>
              </thead>
              <tbody>
                {props.list.map((r, i) => (
                  <tr>
                    <td>{r.type}</td>
                    <td class="mono">{r.id}</td>
                    <td>{r.reason ?? ''}</td>
                    <td>
                      <Time ms={r.createdAt} />
                    </td>
                    <td>
                      <Time ms={r.expiresAt} empty="always" />
                    </td>
                    <td class="num">{r.refused}</td>
                    {props.viewer.canAct ? (
                      <td>
                        <form method="post" action="/console/revocations/remove" class="row-form">
                          <Csrf token={props.csrf} />
                          <input type="hidden" name="type" value={r.type} />
                          <input type="hidden" name="id" value={r.id} />
                          <label for={`u-reason-${i}`}>Reason</label>
                          <input id={`u-reason-${i}`} name="reason" type="text" maxlength={256} required />
                          <button type="submit" aria-label={`Unrevoke ${r.type} ${r.id}`}>
                            Unrevoke
                          </button>
                        </form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}

/** The confirmation step of "Revoke…" on the keys page: the reason, then "Confirm". */
export function ConfirmRevokePage(props: { viewer: Viewer; csrf: string; type: string; id: string }) {
  return (
    <Layout title="Confirm revocation" current="/console/keys" viewer={props.viewer}>
      <p>
        Revoke {props.type} <strong class="mono">{props.id}</strong>? Every replica refuses it within a
        second.
      </p>
      <form method="post" action="/console/revocations" class="inline-form">
        <Csrf token={props.csrf} />
        <input type="hidden" name="type" value={props.type} />
        <input type="hidden" name="id" value={props.id} />
        <ReasonField id="c-reason" />
        <div class="actions">
          <button type="submit">Confirm</button>
          <a href="/console/keys">Cancel</a>
        </div>
      </form>
    </Layout>
  );
}

/** /console/bans: ban an IP, a CIDR or an identity for a while, with a reason; unban. */
export function BansPage(props: {
  viewer: Viewer;
  csrf: string;
  bans: BanRow[] | Unavailable;
  notice?: Notice | null;
}) {
  const b = props.bans;
  return (
    <Layout title="Bans" current="/console/bans" viewer={props.viewer}>
      <NoticeBox notice={props.notice} />
      {props.viewer.canAct ? (
        <section class="card" aria-labelledby="ban-title">
          <h2 id="ban-title">Ban</h2>
          <form method="post" action="/console/bans" class="inline-form">
            <Csrf token={props.csrf} />
            <div class="field">
              <label for="b-type">Kind</label>
              <select id="b-type" name="type">
                <option value="ip">IP address</option>
                <option value="cidr">CIDR range</option>
                <option value="identity">identity</option>
              </select>
            </div>
            <Field id="b-value" label="IP, CIDR or identity" name="value" value={undefined} />
            <Field id="b-duration" label="Duration" name="duration" value="1h" hint="Such as 15m, 1h, 7d" />
            <ReasonField id="b-reason" />
            <div class="actions">
              <button type="submit">Ban</button>
            </div>
          </form>
        </section>
      ) : null}
      <section class="card" aria-labelledby="bans-title">
        <h2 id="bans-title">Active bans</h2>
        {'unavailable' in b ? (
          <p class="notice error" role="alert">
            {b.unavailable}
          </p>
        ) : b.length === 0 ? (
          <p class="empty">
            No active bans. Ban an IP, a CIDR range or an identity with the form above (warden:admin).
          </p>
        ) : (
          <div class="scroll" tabindex={0} role="region" aria-label="Active bans">
            <table>
              <thead>
                <tr>
                  <th scope="col">Kind</th>
                  <th scope="col">Target</th>
                  <th scope="col">Reason</th>
                  <th scope="col">By</th>
                  <th scope="col">Until</th>
                  <th scope="col" class="num">
                    Refused
                  </th>
                  {props.viewer.canAct ? <th scope="col">Action</th> : null}
                </tr>
              </thead>
              <tbody>
                {b.map((ban, i) => (
                  <tr>
                    <td>{ban.type}</td>
                    <td class="mono">{ban.value}</td>
                    <td>{ban.reason ?? ''}</td>
                    <td>{ban.by ?? ''}</td>
                    <td>
                      <Time ms={ban.expiresAt} empty="always" />
                    </td>
                    <td class="num">{ban.refused ?? ''}</td>
                    {props.viewer.canAct ? (
                      <td>
                        <form method="post" action="/console/bans/remove" class="row-form">
                          <Csrf token={props.csrf} />
                          <input type="hidden" name="id" value={ban.id} />
                          <label for={`ub-reason-${i}`}>Reason</label>
                          <input id={`ub-reason-${i}`} name="reason" type="text" maxlength={256} required />
                          <button type="submit" aria-label={`Unban ${ban.value}`}>
                            Unban
                          </button>
                        </form>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </Layout>
  );
}

/** /console/alerts: the policy's alerts and when each last fired. */
export function AlertsPage(props: { viewer: Viewer; alerts: AlertRow[] | Unavailable }) {
  const a = props.alerts;
  return (
    <Layout title="Alerts" current="/console/alerts" viewer={props.viewer}>
      {'unavailable' in a ? (
        <p class="notice error" role="alert">
          {a.unavailable}
        </p>
      ) : a.length === 0 ? (
        <p class="empty">
          No alerts configured: add an `alerts:` list to the policy (for example failed sign-ins by IP, 5 in
          1m) and set WARDEN_ALERT_WEBHOOK_URL (docs/console.md).
        </p>
      ) : (
        <div class="scroll" tabindex={0} role="region" aria-label="Alerts">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Counts</th>
                <th scope="col">Per</th>
                <th scope="col" class="num">
                  Threshold
                </th>
                <th scope="col">Window</th>
                <th scope="col">Last fired</th>
              </tr>
            </thead>
            <tbody>
              {a.map((x) => (
                <tr>
                  <td>{x.name}</td>
                  <td>{x.on}</td>
                  <td>{x.by}</td>
                  <td class="num">{x.threshold}</td>
                  <td>{x.window}</td>
                  <td>
                    <Time ms={x.lastFired} empty="never" />
                    {x.lastSubject ? <span class="mono"> ({x.lastSubject})</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Layout>
  );
}

/** A refusal or error page in the console's frame (no viewer: shown before or without access). */
export function MessagePage(props: { title: string; text: string; link?: { href: string; label: string } }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · warden console`}</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
      </head>
      <body>
        <main id="main">
          <h1>{props.title}</h1>
          <p role="alert">{props.text}</p>
          {props.link ? (
            <p>
              <a href={props.link.href}>{props.link.label}</a>
            </p>
          ) : null}
        </main>
      </body>
    </html>
  );
}
