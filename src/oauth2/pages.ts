// The sign-in pages: small server-rendered HTML, no external assets, readable without JavaScript.

/** Escape text for HTML element content and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f8;color:#1c2430}
main{max-width:26rem;margin:8vh auto;padding:2rem 2.25rem;background:#fff;border:1px solid #dde3ea;border-radius:12px;box-shadow:0 6px 24px rgba(20,30,50,.08)}
.brand{display:flex;align-items:center;gap:.6rem;font-weight:600;color:#2b4a7a;margin-bottom:1.25rem}
.brand svg{flex:none}h1{font-size:1.35rem;margin:0 0 .5rem}p{margin:.5rem 0 1rem;color:#4a5566}
label{display:block;font-weight:600;font-size:.9rem;margin:.9rem 0 .3rem}
input[type=text],input[type=password]{width:100%;padding:.6rem .7rem;border:1px solid #b9c3d0;border-radius:8px;font:inherit}
input:focus,button:focus,a.button:focus{outline:3px solid #9cc0f5;outline-offset:1px}
button,a.button{display:block;width:100%;margin-top:1.1rem;padding:.65rem 1rem;border:0;border-radius:8px;background:#2b5fb3;color:#fff;font:inherit;font-weight:600;text-align:center;text-decoration:none;cursor:pointer}
a.button.secondary,button.secondary{background:#e8edf4;color:#1c2430}
.divider{display:flex;align-items:center;gap:.75rem;margin:1.5rem 0 .5rem;color:#6b7687;font-size:.85rem}.divider:before,.divider:after{content:"";flex:1;border-top:1px solid #dde3ea}
.error{background:#fdecec;border:1px solid #f3b7b7;color:#8a1f1f;padding:.6rem .8rem;border-radius:8px}
.note{font-size:.85rem;color:#6b7687;margin-top:1.5rem}`;

const LOGO =
  '<svg width="28" height="28" viewBox="0 0 24 24" aria-hidden="true"><path fill="#2b5fb3" d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5z"/><path fill="#fff" d="m10.5 15.5-3-3 1.4-1.4 1.6 1.6 4.6-4.6 1.4 1.4z"/></svg>';

/** Headers of every page: never cached, never framed, no script or remote resource. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form POSTs, which the cross-site check refuses.
  'referrer-policy': 'same-origin',
  'x-content-type-options': 'nosniff',
};

/** A whole page around `body` (already escaped HTML). */
export function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body><main><div class="brand">${LOGO}<span>warden</span></div>${body}</main></body></html>`;
}

/** The sign-in page: a button per provider and, when enabled, the dev users form. */
export function loginPage(opts: {
  providers: { id: string; name: string }[];
  dev: boolean;
  rd: string;
  csrf: string;
  error?: string;
  username?: string;
  signedOut?: boolean;
}): string {
  const parts = ['<h1>Sign in</h1>', "<p>Sign in to continue to your organisation's applications.</p>"];
  if (opts.signedOut) parts.push('<p role="status">You have been signed out.</p>');
  if (opts.error) parts.push(`<p class="error" role="alert">${esc(opts.error)}</p>`);
  for (const p of opts.providers) {
    parts.push(
      `<a class="button" href="start?provider=${encodeURIComponent(p.id)}&amp;rd=${encodeURIComponent(opts.rd)}">Continue with ${esc(p.name)}</a>`,
    );
  }
  if (opts.dev) {
    if (opts.providers.length > 0) parts.push('<div class="divider">or with a development account</div>');
    parts.push(
      `<form method="post" action="login"><input type="hidden" name="csrf" value="${esc(opts.csrf)}"><input type="hidden" name="rd" value="${esc(opts.rd)}">` +
        `<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required value="${esc(opts.username ?? '')}">` +
        `<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>` +
        '<button type="submit">Sign in</button></form>',
      '<p class="note">Development accounts are for local testing only.</p>',
    );
  }
  if (opts.providers.length === 0 && !opts.dev)
    parts.push(
      '<p class="error" role="alert">No sign-in method is configured. Contact your administrator.</p>',
    );
  return layout('Sign in', parts.join(''));
}

/** The sign-out confirmation (a GET never signs out: a link or image cannot end a session). */
export function logoutPage(opts: { csrf: string; who: string | null }): string {
  const who = opts.who
    ? `<p>You are signed in as <strong>${esc(opts.who)}</strong>.</p>`
    : '<p>You are not signed in.</p>';
  return layout(
    'Sign out',
    `<h1>Sign out?</h1>${who}<form method="post" action="logout"><input type="hidden" name="csrf" value="${esc(opts.csrf)}"><button type="submit">Sign out</button></form>`,
  );
}

/** An error page that says what to do next. */
export function errorPage(
  title: string,
  message: string,
  next: { href: string; label: string } | null = { href: 'login', label: 'Try signing in again' },
): string {
  return layout(
    title,
    `<h1>${esc(title)}</h1><p class="error" role="alert">${esc(message)}</p>${next ? `<a class="button secondary" href="${esc(next.href)}">${esc(next.label)}</a>` : ''}<p class="note">If this keeps happening, contact your administrator.</p>`,
  );
}
