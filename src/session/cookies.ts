// Cookie header parsing and Set-Cookie building for the session and sign-in flow cookies.

/** How warden's cookies are set: from WARDEN_PUBLIC_URL and WARDEN_COOKIE_DOMAIN. */
export interface CookiePolicy {
  /** `__Host-warden` (own host over https) or `warden`. */
  sessionName: string;
  secure: boolean;
  domain: string | undefined;
}

/** The cookie policy: `__Host-` needs Secure, Path=/ and no Domain, so it is used only then. */
export function cookiePolicy(publicUrl: string, domain: string | undefined): CookiePolicy {
  const secure = new URL(publicUrl).protocol === 'https:';
  return { sessionName: secure && domain === undefined ? '__Host-warden' : 'warden', secure, domain };
}

/** Every value of cookie `name` in a Cookie header (a duplicate is a reason to trust none). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** A Set-Cookie value; `maxAgeSec` 0 clears the cookie. */
export function setCookie(
  policy: CookiePolicy,
  name: string,
  value: string,
  opts: { maxAgeSec: number; path?: string; domain?: boolean },
): string {
  const parts = [
    `${name}=${value}`,
    `Path=${opts.path ?? '/'}`,
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSec))}`,
    'HttpOnly',
    'SameSite=Lax',
  ];
  if (policy.secure) parts.push('Secure');
  if (opts.domain && policy.domain !== undefined) parts.push(`Domain=${policy.domain}`);
  return parts.join('; ');
}
