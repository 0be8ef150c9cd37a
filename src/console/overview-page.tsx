// The console's overview page: decisions per minute by outcome, the most refused, latency and the live feed.
import type { Overview, TopEntry } from '../audit/overview.js';
import { OUTCOMES } from '../audit/overview-minute.js';
import { DataBlock, Layout, type Viewer } from './layout.js';

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
