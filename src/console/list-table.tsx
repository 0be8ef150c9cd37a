// The console's lists (revocations, bans, alerts): unavailable, empty or a table, columns as data, a lifting form per row.
import type { Child } from 'hono/jsx';
import type { Unavailable } from './data.js';
import { Csrf } from './layout.js';

/** A column of a list: its heading and each row's cell. */
export interface Column<T> {
  head: string;
  cell: (row: T) => Child;
  /** A number: right-aligned. */
  num?: boolean;
  /** An id, a value or an address: monospaced. */
  mono?: boolean;
}

/** The form on each row that lifts it (unrevoke, unban), with the reason it asks for. */
export interface RowRemoval<T> {
  /** Where the form posts. */
  action: string;
  /** The button's text and the start of its accessible name. */
  verb: string;
  /** The reason field's id is `<idPrefix><row index>`. */
  idPrefix: string;
  /** The hidden fields naming the row. */
  fields: (row: T) => Record<string, string>;
  /** The row as the button's accessible name says it (`Unban 203.0.113.7`). */
  name: (row: T) => string;
  csrf: string;
}

function cellClass(c: { num?: boolean; mono?: boolean }): string | undefined {
  return c.num ? 'num' : c.mono ? 'mono' : undefined;
}

function RemoveForm<T>(props: { removal: RowRemoval<T>; row: T; index: number }) {
  const { removal: r, row } = props;
  const id = `${r.idPrefix}${props.index}`;
  return (
    <form method="post" action={r.action} class="row-form">
      <Csrf token={r.csrf} />
      {Object.entries(r.fields(row)).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <label for={id}>Reason</label>
      <input id={id} name="reason" type="text" maxlength={256} required />
      <button type="submit" aria-label={`${r.verb} ${r.name(row)}`}>
        {r.verb}
      </button>
    </form>
  );
}

/**
 * A list the console shows: why it cannot be read, what to do when it is empty, or a scrolling
 * table (labelled `label`) with one column per entry of `columns` and, given `removal`, an
 * "Action" column holding each row's form.
 */
export function ListTable<T>(props: {
  label: string;
  rows: readonly T[] | Unavailable;
  empty: string;
  columns: readonly Column<T>[];
  removal?: RowRemoval<T> | null;
}) {
  const { rows, columns, removal } = props;
  if ('unavailable' in rows)
    return (
      <p class="notice error" role="alert">
        {rows.unavailable}
      </p>
    );
  if (rows.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="scroll" tabindex={0} role="region" aria-label={props.label}>
      <table>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" class={c.num ? 'num' : undefined}>
                {c.head}
              </th>
            ))}
            {removal ? <th scope="col">Action</th> : null}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr>
              {columns.map((c) => (
                <td class={cellClass(c)}>{c.cell(row)}</td>
              ))}
              {removal ? (
                <td>
                  <RemoveForm removal={removal} row={row} index={i} />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
