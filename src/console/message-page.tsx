// The console's refusal and error page, in the console's frame without navigation (no viewer needed).

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
