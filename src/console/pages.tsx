// The console's pages, server-rendered (hono/jsx escapes every value): overview, audit, keys, revocations, bans, alerts.
import type { Child } from 'hono/jsx';
import type { Overview, TopEntry } from '../audit/overview.js';
import { OUTCOMES } from '../audit/overview-minute.js';
import type { AuditPage as SearchPage } from '../audit/search.js';
import type { AuditQuery, AuditRecord } from '../audit/search-query.js';
import { DECISION_CHOICES, localValue, type FormValues } from './audit-form.js';
import type { AlertList, AuditSource, BanList, KeyRow, RevocationRow, Unavailable } from './data.js';
import { Csrf, DataBlock, Layout, NoticeBox, Time, type Notice, type Viewer } from './layout.js';
import { ListTable, type Column } from './list-table.js';

/** A time in epoch ms from an ISO text, or null. */
const timeOf = (v: unknown): number | null => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? null : t;
};

function RankedTable(props: { caption: string; head: string; rows: TopEntry[] }) {
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

/** Where the overview's counts come from, in words. */
function overviewSource(d: Overview): string {
  return d.source === 'redis'
    ? `every replica sharing its counts through Redis (${d.replicas.length}: ${d.replicas.join(', ')}), last hour`
    : "this replica's decisions, last hour";
}

/** /console/: decisions per minute by outcome, the most refused, latency (the audit view's overview), and the live feed. */
export function OverviewPage(props: { viewer: Viewer; data: Overview }) {
  const d = props.data;
  const total = OUTCOMES.reduce((a, o) => a + d.totals[o], 0);
  const refused = total - d.totals.allow - d.totals['would-deny'];
  const chart = {
    minutes: d.minutes.map((m) => Date.parse(m.time)),
    series: Object.fromEntries(OUTCOMES.map((o) => [o, d.minutes.map((m) => m.counts[o])])),
    outcomes: OUTCOMES,
  };
  return (
    <Layout title="Overview" current="/console/" viewer={props.viewer} chart>
      <p class="source">Showing {overviewSource(d)}.</p>
      {d.unavailable ? (
        <p class="notice error" role="alert">
          {`The shared counts could not be read (${d.unavailable}): this replica's only.`}
        </p>
      ) : null}
      <section class="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Decisions per minute by outcome</h2>
        {total === 0 ? (
          <p class="empty" id="no-decisions">
            No decisions yet: send a request through the proxy, and it shows here within a second.
          </p>
        ) : null}
        <figure>
          <div
            id="chart"
            class="chart"
            role="img"
            aria-label={`Decisions per minute over the last hour: ${total} in all, ${refused} refused.`}
          ></div>
          <figcaption>
            {total} decisions in the last hour, {refused} refused. Outcomes: {OUTCOMES.join(', ')}.
          </figcaption>
        </figure>
        <DataBlock id="overview-data" value={chart} />
      </section>
      <section class="card" aria-labelledby="latency-title">
        <h2 id="latency-title">Decision latency</h2>
        <p>
          {d.latency
            ? `Decision latency over ${total} decisions: median ${d.latency.p50} ms, p95 ${d.latency.p95} ms, p99 ${d.latency.p99} ms (within 9 %).`
            : 'Decision latency: no decisions in the last hour.'}
        </p>
      </section>
      <div class="grid">
        <RankedTable caption="Most refused identities" head="Identity" rows={d.top.identities} />
        <RankedTable caption="Most refused client IPs" head="Client IP" rows={d.top.clientIps} />
        <RankedTable caption="Most refused paths" head="Path" rows={d.top.paths} />
      </div>
      <section class="card" aria-labelledby="live-title">
        <h2 id="live-title">Live decisions</h2>
        <p id="live-status" class="source">
          Connecting to the live feed (this replica's decisions)…
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
        <div class="field">
          <label for="q-decision">Decision</label>
          <select id="q-decision" name="decision">
            <option value="">any</option>
            {DECISION_CHOICES.map((d) => (
              <option value={d} selected={d === raw.decision}>
                {d === 'refused' ? 'refused (anything but allow)' : d}
              </option>
            ))}
          </select>
        </div>
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
      <AuditResults v={v} />
    </Layout>
  );
}

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

function AuditResults(props: { v: AuditPageProps }) {
  const r = props.v.result;
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
          href={`/console/audit?${props.v.params ? `${props.v.params}&` : ''}cursor=${encodeURIComponent(r.next)}`}
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

function ReasonField(props: { id: string; required?: boolean }) {
  return (
    <div class="field">
      <label for={props.id}>Reason</label>
      <input id={props.id} name="reason" type="text" maxlength={256} required={props.required ?? true} />
    </div>
  );
}

function SelectField(props: { id: string; label: string; name: string; options: [string, string][] }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.name}>
        {props.options.map(([value, text]) => (
          <option value={value}>{text}</option>
        ))}
      </select>
    </div>
  );
}

/** An admin's form (revoke, ban) in a card headed `title`; its submit button says the title. */
function ActionForm(props: { id: string; title: string; action: string; csrf: string; children: Child }) {
  return (
    <section class="card" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      <form method="post" action={props.action} class="inline-form">
        <Csrf token={props.csrf} />
        {props.children}
        <div class="actions">
          <button type="submit">{props.title}</button>
        </div>
      </form>
    </section>
  );
}

const REVOCATION_COLUMNS: Column<RevocationRow>[] = [
  { head: 'Type', cell: (r) => r.type },
  { head: 'ID', cell: (r) => r.id, mono: true },
  { head: 'Reason', cell: (r) => r.reason ?? '' },
  { head: 'Since', cell: (r) => <Time ms={r.createdAt} /> },
  { head: 'Until', cell: (r) => <Time ms={r.expiresAt} empty="always" /> },
  { head: 'Refused', cell: (r) => r.refused, num: true },
];

/** /console/revocations: the list, revoke and unrevoke with a reason, what each refused. */
export function RevocationsPage(props: {
  viewer: Viewer;
  csrf: string;
  /** With the requests each refused, on every replica. */
  list: RevocationRow[] | Unavailable;
  notice?: Notice | null;
}) {
  return (
    <Layout title="Revocations" current="/console/revocations" viewer={props.viewer}>
      <NoticeBox notice={props.notice} />
      {props.viewer.canAct ? (
        <ActionForm id="revoke-title" title="Revoke" action="/console/revocations" csrf={props.csrf}>
          <SelectField
            id="r-type"
            label="Type"
            name="type"
            options={[
              ['key', 'API key id'],
              ['token', 'token id (jti)'],
              ['subject', 'subject (every token issued until now)'],
            ]}
          />
          <Field id="r-id" label="ID" name="id" value={undefined} />
          <ReasonField id="r-reason" />
          <Field
            id="r-expires"
            label="Until (optional)"
            name="expires"
            value={undefined}
            hint="A duration such as 24h, or empty for always"
          />
        </ActionForm>
      ) : null}
      <section class="card" aria-labelledby="list-title">
        <h2 id="list-title">In force</h2>
        <ListTable
          label="Revocations in force"
          rows={props.list}
          empty="Nothing is revoked. Revoke a key, a token id or a subject with the form above (warden:admin)."
          columns={REVOCATION_COLUMNS}
          removal={
            props.viewer.canAct
              ? {
                  action: '/console/revocations/remove',
                  verb: 'Unrevoke',
                  idPrefix: 'u-reason-',
                  fields: (r) => ({ type: r.type, id: r.id }),
                  name: (r) => `${r.type} ${r.id}`,
                  csrf: props.csrf,
                }
              : null
          }
        />
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

const BAN_COLUMNS: Column<BanList['bans'][number]>[] = [
  { head: 'Kind', cell: (ban) => ban.type },
  { head: 'Target', cell: (ban) => ban.value, mono: true },
  { head: 'Reason', cell: (ban) => ban.reason },
  { head: 'By', cell: (ban) => ban.createdBy },
  { head: 'Until', cell: (ban) => <Time ms={timeOf(ban.expiresAt)} /> },
  { head: 'Refused', cell: (ban) => ban.refused, num: true },
];

/** /console/bans: ban an IP, a CIDR or an identity for a while, with a reason; unban. */
export function BansPage(props: {
  viewer: Viewer;
  csrf: string;
  bans: BanList | Unavailable;
  notice?: Notice | null;
}) {
  const list = props.bans;
  return (
    <Layout title="Bans" current="/console/bans" viewer={props.viewer}>
      <NoticeBox notice={props.notice} />
      {props.viewer.canAct ? (
        <ActionForm id="ban-title" title="Ban" action="/console/bans" csrf={props.csrf}>
          <SelectField
            id="b-type"
            label="Kind"
            name="type"
            options={[
              ['ip', 'IP address'],
              ['cidr', 'CIDR range'],
              ['identity', 'identity'],
            ]}
          />
          <Field id="b-value" label="IP, CIDR or identity" name="value" value={undefined} />
          <Field
            id="b-duration"
            label="Duration"
            name="duration"
            value="1h"
            hint="Such as 15m, 1h, 7d (1 minute to 30 days), or when it ends (2026-12-31T00:00:00Z)"
          />
          <ReasonField id="b-reason" />
        </ActionForm>
      ) : null}
      <section class="card" aria-labelledby="bans-title">
        <h2 id="bans-title">Active bans</h2>
        {'countsShared' in list && !list.countsShared && list.bans.length > 0 ? (
          <p class="source">{"The store did not answer: the refused counts are this replica's only."}</p>
        ) : null}
        <ListTable
          label="Active bans"
          rows={'unavailable' in list ? list : list.bans}
          empty="No active bans. Ban an IP, a CIDR range or an identity with the form above (warden:admin)."
          columns={BAN_COLUMNS}
          removal={
            props.viewer.canAct
              ? {
                  action: '/console/bans/remove',
                  verb: 'Unban',
                  idPrefix: 'ub-reason-',
                  fields: (ban) => ({ id: ban.id }),
                  name: (ban) => ban.value,
                  csrf: props.csrf,
                }
              : null
          }
        />
      </section>
    </Layout>
  );
}

/** A window in seconds as the policy writes it (`90s`, `5m`, `1h`). */
function windowText(sec: number): string {
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  return sec % 60 === 0 ? `${sec / 60}m` : `${sec}s`;
}

const ALERT_COLUMNS: Column<AlertList['alerts'][number]>[] = [
  { head: 'Name', cell: (x) => x.name },
  { head: 'Counts', cell: (x) => x.on },
  { head: 'Per', cell: (x) => x.by },
  { head: 'Threshold', cell: (x) => x.threshold, num: true },
  { head: 'Window', cell: (x) => windowText(x.window) },
  {
    head: 'Last fired',
    cell: (x) => (
      <>
        <Time ms={timeOf(x.lastFired?.at)} empty="never" />
        {x.lastFired ? <span class="mono"> ({x.lastFired.subject})</span> : null}
      </>
    ),
  },
];

/** /console/alerts: the policy's alerts and when each last fired (on any replica). */
export function AlertsPage(props: { viewer: Viewer; alerts: AlertList | Unavailable }) {
  const list = props.alerts;
  return (
    <Layout title="Alerts" current="/console/alerts" viewer={props.viewer}>
      {'webhook' in list && list.alerts.length > 0 ? (
        <p class="source">
          {list.webhook
            ? 'Each firing is sent to WARDEN_ALERT_WEBHOOK_URL.'
            : 'WARDEN_ALERT_WEBHOOK_URL is not set: firings are only recorded here.'}
        </p>
      ) : null}
      <ListTable
        label="Alerts"
        rows={'unavailable' in list ? list : list.alerts}
        empty="No alerts configured: add an `alerts:` list to the policy (for example failed sign-ins by IP, 5 in 1m) and set WARDEN_ALERT_WEBHOOK_URL (docs/console.md)."
        columns={ALERT_COLUMNS}
      />
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
