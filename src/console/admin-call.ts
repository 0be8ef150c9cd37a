// warden's admin API called in-process with the console caller's own credentials, and its refusals in words.
import type { ConsoleDeps } from './deps.js';
import type { ConsoleContext } from './guard.js';

/**
 * warden's admin API, called in-process with the caller's own credentials (revoke and unrevoke go
 * through exactly the admin API's code: its checks, its audit events with the acting identity).
 */
type AdminCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

/** The admin API, called with this request's credentials and connection. */
export function adminCaller(deps: ConsoleDeps, c: ConsoleContext): AdminCall {
  return async (method, path, body) => {
    const headers = new Headers(c.req.raw.headers);
    headers.delete('content-length');
    headers.set('content-type', 'application/json');
    headers.set('accept', 'application/json');
    const req = new Request(new URL(path, 'http://warden.internal'), {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const res = await deps.admin(req, c.env);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed };
  };
}

/** The message of an admin API refusal (`field: message`). */
export function adminMessage(body: unknown, status: number): string {
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const field = typeof o.field === 'string' ? `${o.field}: ` : '';
  const msg =
    typeof o.message === 'string' ? o.message : typeof o.error === 'string' ? o.error : `status ${status}`;
  return `${field}${msg}`;
}
