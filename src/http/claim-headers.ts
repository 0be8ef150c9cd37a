// Extra identity headers mapped from claims (policy `headers.extra`): every value type-checked and bounded.
import { claimAt } from '../auth/claims.js';
import type { Identity } from '../auth/identity.js';

/** Longest value sent in an extra header; longer ones are sent empty. */
export const MAX_CLAIM_HEADER = 1024;

/** One configured extra header: its name and the dotted claim path it carries. */
export interface ClaimHeader {
  name: string;
  path: string;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Compile `headers.extra` (header name → dotted claim path). */
export function compileClaimHeaders(
  extra: Readonly<Record<string, string>> | undefined,
): readonly ClaimHeader[] {
  return Object.entries(extra ?? {}).map(([name, path]) => ({ name, path }));
}

/** The header value of a claim, or why it cannot be sent. Strings, numbers and booleans only. */
function headerValue(value: unknown): { value: string } | { problem: string } {
  if (value === undefined || value === null) return { value: '' };
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  else if (typeof value === 'boolean') text = String(value);
  else return { problem: Array.isArray(value) ? 'an array' : `a ${typeof value}` };
  if (text.length > MAX_CLAIM_HEADER) return { problem: `longer than ${MAX_CLAIM_HEADER} characters` };
  if (!PRINTABLE_ASCII.test(text)) return { problem: 'control or non-ASCII characters' };
  return { value: text };
}

/**
 * Every configured extra header, present on every allow so the proxy overwrites a client's copy:
 * the claim's value for token and session identities, empty otherwise or when the value is not
 * sendable. Problems are returned for the audit line, never answered as an error.
 */
export function claimHeaders(
  headers: readonly ClaimHeader[],
  identity: Identity | null,
): { values: Record<string, string>; problems: string[] } | null {
  if (headers.length === 0) return null;
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const h of headers) {
    if (!identity?.claims) {
      values[h.name] = '';
      continue;
    }
    const v = headerValue(claimAt(identity.claims, h.path));
    if ('problem' in v) {
      values[h.name] = '';
      problems.push(`${h.name}: claim ${h.path} is ${v.problem}; sent empty`);
    } else values[h.name] = v.value;
  }
  return { values, problems };
}
