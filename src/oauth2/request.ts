// What the /oauth2 routes read from a request: the client's address, the raw query, a bounded form body.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { clientAddress, type SignIn } from './sign-in.js';

/** Hono bindings: the node:http request, for the peer address and the raw target. */
export type OAuthEnv = { Bindings: { incoming?: IncomingMessage } };

/** Largest form body read (dev login, logout, back-channel logout token). */
export const MAX_FORM_BYTES = 16 * 1024;

/** Client address and raw query of a request. */
export function requestInfo(c: Context<OAuthEnv>, s: SignIn) {
  // Absent when the app is driven without the node-server adapter (`app.request`): Hono leaves env undefined.
  const incoming = (c.env as OAuthEnv['Bindings'] | undefined)?.incoming;
  const address = clientAddress(s, incoming?.socket.remoteAddress, c.req.header('x-forwarded-for'));
  const target = incoming?.url ?? new URL(c.req.url).pathname + new URL(c.req.url).search;
  const q = target.indexOf('?');
  return { address, ip: address?.ip ?? null, search: q === -1 ? '' : target.slice(q) };
}

/** A urlencoded form body as a plain object, or null when it is not one or too large. */
export async function readForm(c: Context<OAuthEnv>): Promise<Record<string, string> | null> {
  if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded'))
    return null;
  if (Number(c.req.header('content-length') ?? 0) > MAX_FORM_BYTES) return null;
  const text = await c.req.text();
  if (text.length > MAX_FORM_BYTES) return null;
  // No prototype: a field named __proto__ or constructor is just a field. The first of repeated fields wins.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(text)) if (!Object.hasOwn(out, k)) out[k] = v;
  return out;
}
