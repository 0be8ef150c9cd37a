// The console's form fields (text, reason, choice) and the card an admin's action form sits in.
import type { Child } from 'hono/jsx';
import { Csrf } from './layout.js';

/** A labelled text input, with an optional hint it is described by. */
export function Field(props: {
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

/** The reason every action asks for (required unless said otherwise). */
export function ReasonField(props: { id: string; required?: boolean }) {
  return (
    <div class="field">
      <label for={props.id}>Reason</label>
      <input id={props.id} name="reason" type="text" maxlength={256} required={props.required ?? true} />
    </div>
  );
}

/** A labelled choice of `[value, text]` options; `selected` names the chosen one (none: the first). */
export function SelectField(props: {
  id: string;
  label: string;
  name: string;
  options: [string, string][];
  selected?: string | undefined;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.name}>
        {props.options.map(([value, text]) => (
          <option value={value} selected={props.selected !== undefined && value === props.selected}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** An admin's form (revoke, ban) in a card headed `title`; its submit button says the title. */
export function ActionForm(props: {
  id: string;
  title: string;
  action: string;
  csrf: string;
  children: Child;
}) {
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
