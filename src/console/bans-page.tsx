// The console's bans page: ban an IP, a CIDR range or an identity for a while, with a reason; unban.
import type { BanList, Unavailable } from './data.js';
import { ActionForm, Field, ReasonField, SelectField } from './form-fields.js';
import { Layout, NoticeBox, Time, timeOf, type Notice, type Viewer } from './layout.js';
import { ListTable, type Column } from './list-table.js';

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
