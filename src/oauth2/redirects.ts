// The `rd` target after sign-in or sign-out: an allowlisted absolute URL or a same-site path, else the default.

/** Allowed hosts: exact names and `.example.com` suffixes (a subdomain at a dot boundary). */
export interface RedirectAllowlist {
  exact: ReadonlySet<string>;
  suffixes: readonly string[];
}

/** Compile WARDEN_REDIRECT_DOMAINS; warden's own host is always allowed. */
export function redirectAllowlist(domains: readonly string[], publicUrl: string): RedirectAllowlist {
  const exact = new Set<string>([new URL(publicUrl).hostname.toLowerCase()]);
  const suffixes: string[] = [];
  for (const d of domains) {
    if (d.startsWith('.')) suffixes.push(d);
    else exact.add(d);
  }
  return { exact, suffixes };
}

/** True when the host is on the allowlist (`.example.com` allows `a.example.com`, never `evilexample.com`). */
export function hostAllowed(list: RedirectAllowlist, host: string): boolean {
  const h = host.toLowerCase();
  if (list.exact.has(h)) return true;
  return list.suffixes.some((s) => h.endsWith(s) && h.length > s.length);
}

// Browsers drop tabs and newlines inside URLs and read `\` as `/`: refuse rather than guess.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\x00-\x20\x7f\\]/;

/**
 * The absolute URL to send a person to after sign-in, or null when `rd` is not acceptable (the
 * caller falls back to the default and audits the refusal). Checked after parsing, never by prefix.
 */
export function safeRedirect(
  rd: string | undefined | null,
  list: RedirectAllowlist,
  publicUrl: string,
): string | null {
  if (rd === undefined || rd === null || rd === '' || rd.length > 4096 || UNSAFE.test(rd)) return null;
  if (rd.startsWith('/')) {
    // A same-site path: `/x`, never `//host` (scheme-relative).
    if (rd.startsWith('//')) return null;
    try {
      const u = new URL(rd, publicUrl);
      return u.origin === new URL(publicUrl).origin ? u.toString() : null;
    } catch {
      return null;
    }
  }
  // Absolute only: the scheme followed by `//` (`https:evil.com` is not accepted).
  if (!/^https?:\/\/[^/]/i.test(rd)) return null;
  let u: URL;
  try {
    u = new URL(rd);
  } catch {
    return null;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username !== '' || u.password !== '')
    return null;
  return hostAllowed(list, u.hostname) ? u.toString() : null;
}
