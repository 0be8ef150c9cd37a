// zod schema of the API keys file (CONTRACT.md "API keys file").
import { z } from 'zod';
import { normalizeDn } from '../auth/client-cert.js';
import { cidrList } from './policy-schema.js';

const ID = /^[A-Za-z0-9_.@-]{1,128}$/;
// Identity header values must carry no control characters and no commas (X-User-Roles is a comma list).
const HEADER_SAFE = /^[^\x00-\x1f\x7f]*$/;

const keyEntry = z
  .strictObject({
  id: z.string().regex(ID, 'an id is 1-128 characters of [A-Za-z0-9_.@-]'),
  name: z.string().max(256).regex(HEADER_SAFE, 'a name has no control characters').optional(),
  email: z.email().max(256).optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'sha256 is the 64-hex-digit SHA-256 of the whole key (warden keys hash)')
    .transform((h) => h.toLowerCase())
    .optional(),
  /** A client certificate's subject DN (RFC 4514, e.g. `CN=agent-1,O=Acme`), verified by the proxy (WARDEN_CLIENT_CERT). */
  certSubject: z
    .string()
    .max(1024)
    .regex(HEADER_SAFE, 'a subject has no control characters')
    .refine((s) => normalizeDn(s) !== null, 'a subject DN is comma-separated type=value pairs, like CN=agent-1,O=Acme')
    .optional(),
  roles: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a role name is 1-64 characters of [A-Za-z0-9_.-]')).default([]),
  expires: z
    .union([z.date(), z.iso.datetime({ offset: true })])
    .transform((v) => (v instanceof Date ? v : new Date(v)))
    .optional(),
  networks: cidrList.optional(),
  rateLimit: z.string().optional(),
  })
  .refine((k) => (k.sha256 === undefined) !== (k.certSubject === undefined), { message: 'an entry has either sha256 (an API key) or certSubject (a client certificate), exactly one' });

/** The keys file as written by users. */
export const keysSchema = z
  .strictObject({
    $schema: z.string().optional(),
    keys: z.array(keyEntry).nullable().default([]).transform((k) => k ?? []),
  });

/** Duplicate ids and hashes, checked on the raw document even when the schema fails. */
export function keysCrossCheck(raw: unknown): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const list = typeof raw === 'object' && raw !== null && Array.isArray((raw as { keys?: unknown }).keys) ? (raw as { keys: unknown[] }).keys : [];
  const ids = new Map<string, number>();
  const hashes = new Map<string, number>();
  const subjects = new Map<string, number>();
  list.forEach((k, i) => {
    if (typeof k !== 'object' || k === null) return;
    const { id, sha256, certSubject } = k as { id?: unknown; sha256?: unknown; certSubject?: unknown };
    if (typeof certSubject === 'string') {
      const dn = normalizeDn(certSubject);
      if (dn !== null && subjects.has(dn)) out.push({ path: ['keys', i, 'certSubject'], message: `same certificate subject as keys[${subjects.get(dn)}]` });
      else if (dn !== null) subjects.set(dn, i);
    }
    if (typeof id === 'string') {
      if (ids.has(id)) out.push({ path: ['keys', i, 'id'], message: `duplicate id "${id}" (also keys[${ids.get(id)}])` });
      else ids.set(id, i);
    }
    if (typeof sha256 === 'string') {
      const h = sha256.toLowerCase();
      if (hashes.has(h)) out.push({ path: ['keys', i, 'sha256'], message: `same key hash as keys[${hashes.get(h)}]` });
      else hashes.set(h, i);
    }
  });
  return out;
}

/** A validated keys file. */
export type KeysFile = z.output<typeof keysSchema>;
/** One validated key entry. */
export type KeyEntry = KeysFile['keys'][number];
