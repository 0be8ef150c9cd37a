// The console's revocations pages: the list with what each refused, revoke and unrevoke, the confirm step.
import type { RevocationRow, Unavailable } from './data.js';
import { ActionForm, Field, ReasonField, SelectField } from './form-fields.js';
import { Csrf, Layout, NoticeBox, Time, type Notice, type Viewer } from './layout.js';
import { ListTable, type Column } from './list-table.js';

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
