// zod schema of the API keys file (docs/keys.md).
import { z } from 'zod';
import { normalizeDn } from '../auth/client-cert.js';
import { cidrList } from './cidr-list.js';
import { repeatedField, type DocumentIssue } from './repeats.js';

const ID = /^[A-Za-z0-9_.@-]{1,128}$/;
// Identity header values must carry no control characters and no commas (X-User-Roles is a comma list).
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const HEADER_SAFE = /^[^\x00-\x1f\x7f]*$/;

const sha256 = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'sha256 is the 64-hex-digit SHA-256 of the whole key (warden keys hash)')
  .transform((h) => h.toLowerCase());

const dateTime = z
  .union([z.date(), z.iso.datetime({ offset: true })])
  .transform((v) => (v instanceof Date ? v : new Date(v)));

/** A replaced key still accepted until `expires` (`warden keys rotate`): same identity, audited keyVersion `previous`. */
const previousKey = z.strictObject({ sha256, expires: dateTime });

const keyEntry = z
  .strictObject({
    id: z.string().regex(ID, 'an id is 1-128 characters of [A-Za-z0-9_.@-]'),
    name: z.string().max(256).regex(HEADER_SAFE, 'a name has no control characters').optional(),
    email: z.email().max(256).optional(),
    sha256: sha256.optional(),
    /** Keys this entry had before a rotation, each accepted until its `expires`. */
    previous: z.array(previousKey).max(10).optional(),
    /** A client certificate's subject DN (RFC 4514, e.g. `CN=agent-1,O=Acme`), verified by the proxy (WARDEN_CLIENT_CERT). */
    certSubject: z
      .string()
      .max(1024)
      .regex(HEADER_SAFE, 'a subject has no control characters')
      .refine(
        (s) => normalizeDn(s) !== null,
        'a subject DN is comma-separated type=value pairs, like CN=agent-1,O=Acme',
      )
      .optional(),
    roles: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a role name is 1-64 characters of [A-Za-z0-9_.-]'))
      .default([]),
    expires: dateTime.optional(),
    networks: cidrList.optional(),
    rateLimit: z.string().optional(),
  })
  .refine((k) => (k.sha256 === undefined) !== (k.certSubject === undefined), {
    error: 'an entry has either sha256 (an API key) or certSubject (a client certificate), exactly one',
  })
  .refine((k) => k.previous === undefined || k.sha256 !== undefined, {
    error: 'previous keys belong to an entry with sha256 (an API key)',
    path: ['previous'],
  });

/** The keys file as written by users. */
export const keysSchema = z.strictObject({
  $schema: z.string().optional(),
  keys: z
    .array(keyEntry)
    .nullable()
    .default([])
    .transform((k) => k ?? []),
});

/** Duplicate ids, key hashes and certificate subjects, checked on the raw document even when the schema fails. */
export function keysCrossCheck(raw: unknown): DocumentIssue[] {
  const list = typeof raw === 'object' && raw !== null ? (raw as { keys?: unknown }).keys : undefined;
  const prefix = ['keys'];
  return [
    ...repeatedField(list, 'id', (id, first) => `duplicate id "${id}" (also keys[${first}])`, { prefix }),
    ...repeatedField(list, 'sha256', (_h, first) => `same key hash as keys[${first}]`, {
      prefix,
      key: (h) => h.toLowerCase(),
    }),
    ...previousHashRepeats(list),
    ...repeatedField(list, 'certSubject', (_dn, first) => `same certificate subject as keys[${first}]`, {
      prefix,
      key: normalizeDn,
    }),
  ];
}

/** A previous key's hash that is also another key's (current or previous): one key, two meanings. */
function previousHashRepeats(list: unknown): DocumentIssue[] {
  if (!Array.isArray(list)) return [];
  const entries = list as ({ sha256?: unknown; previous?: unknown } | null | undefined)[];
  // Only when some entry has previous keys (few do): the map of every current hash is the cost.
  if (!entries.some((e) => e && Array.isArray(e.previous))) return [];
  // Where a hash was first seen: an entry's index (its current key), or the previous key's path.
  const seen = new Map<string, number | string>();
  const out: DocumentIssue[] = [];
  entries.forEach((e, i) => {
    if (e && typeof e.sha256 === 'string') seen.set(e.sha256.toLowerCase(), i);
  });
  entries.forEach((e, i) => {
    if (!e || !Array.isArray(e.previous)) return;
    (e.previous as unknown[]).forEach((p, j) => {
      if (typeof p !== 'object' || p === null || !('sha256' in p) || typeof p.sha256 !== 'string') return;
      const h = p.sha256.toLowerCase();
      const first = seen.get(h);
      if (first !== undefined)
        out.push({
          path: ['keys', i, 'previous', j, 'sha256'],
          message: `same key hash as ${typeof first === 'number' ? `keys[${first}]` : first}`,
        });
      else seen.set(h, `keys[${i}].previous[${j}]`);
    });
  });
  return out;
}

/** A validated keys file. */
export type KeysFile = z.output<typeof keysSchema>;
/** One validated key entry. */
export type KeyEntry = KeysFile['keys'][number];
