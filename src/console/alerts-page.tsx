// The console's alerts page: the policy's alerts and when each last fired (on any replica).
import type { AlertList, Unavailable } from './data.js';
import { Layout, Time, timeOf, type Viewer } from './layout.js';
import { ListTable, type Column } from './list-table.js';

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
