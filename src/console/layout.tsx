// The console's page frame (navigation, who is signed in, status messages) and small shared pieces.
import type { Child } from 'hono/jsx';

/** The pages, in navigation order: path under /console and its name. */
export const NAV = [
  ['/console/', 'Overview'],
  ['/console/audit', 'Audit'],
  ['/console/keys', 'Keys'],
  ['/console/revocations', 'Revocations'],
  ['/console/bans', 'Bans'],
  ['/console/alerts', 'Alerts'],
] as const;

/** Who is looking, as the header says it. */
export interface Viewer {
  sub: string;
  name: string | null;
  canAct: boolean;
  /** True when signed in with a session (a sign-out link is offered). */
  session: boolean;
}

/** A message after an action or a refusal: `ok` as a status, anything else as an alert. */
export interface Notice {
  kind: 'ok' | 'error';
  text: string;
}

/** A time in epoch ms from an ISO text, or null. */
export const timeOf = (v: unknown): number | null => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? null : t;
};

/** A time: UTC in `datetime` and `title`; the script shows it in the viewer's zone. */
export function Time(props: { ms: number | null | undefined; empty?: string }) {
  if (props.ms === null || props.ms === undefined) return <span>{props.empty ?? 'never'}</span>;
  const iso = new Date(props.ms).toISOString();
  return (
    <time datetime={iso} title={`${iso.replace('T', ' ').slice(0, 19)} UTC`}>
      {iso.replace('T', ' ').slice(0, 19)} UTC
    </time>
  );
}

/** A status message (role status) or an error (role alert). */
export function NoticeBox(props: { notice: Notice | null | undefined }) {
  const n = props.notice;
  if (!n) return null;
  return n.kind === 'ok' ? (
    <p class="notice ok" role="status">
      {n.text}
    </p>
  ) : (
    <p class="notice error" role="alert">
      {n.text}
    </p>
  );
}

/** The hidden CSRF field every POST form carries. */
export function Csrf(props: { token: string }) {
  return <input type="hidden" name="csrf" value={props.token} />;
}

/** The whole page: `current` is the path of the page shown (marked in the navigation). */
export function Layout(props: {
  title: string;
  current: string;
  viewer: Viewer;
  children: Child;
  /** Extra assets: the overview's chart library. */
  chart?: boolean;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} · warden console`}</title>
        {props.chart ? <link rel="stylesheet" href="/console/assets/uPlot.min.css" /> : null}
        <link rel="stylesheet" href="/console/assets/console.css" />
        {props.chart ? <script src="/console/assets/uPlot.iife.min.js" defer></script> : null}
        <script src="/console/assets/console.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <p class="brand">warden console</p>
          <nav aria-label="Console">
            <ul>
              {NAV.map(([href, name]) => (
                <li>
                  <a href={href} aria-current={href === props.current ? 'page' : undefined}>
                    {name}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <p class="who">
            {props.viewer.name !== null && props.viewer.name !== '' ? props.viewer.name : props.viewer.sub}
            {props.viewer.canAct ? ' (admin)' : ' (read only)'}
            {props.viewer.session ? (
              <>
                {' · '}
                <a href="/oauth2/logout">Sign out</a>
              </>
            ) : null}
          </p>
        </header>
        <main id="main" tabindex={-1}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A JSON data block for the script (never run: `type="application/json"`), `<` escaped so it cannot end the element. */
export function DataBlock(props: { id: string; value: unknown }) {
  const json = JSON.stringify(props.value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
  return <script type="application/json" id={props.id} dangerouslySetInnerHTML={{ __html: json }}></script>;
}
