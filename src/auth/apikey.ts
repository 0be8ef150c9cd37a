// API keys: looked up by SHA-256 in a Map built at load; expiry and per-key networks honoured.
import { hash, randomBytes } from 'node:crypto';
import type { CidrSet } from '../request/cidr-set.js';
import type { KeyEntry, KeysFile } from '../config/keys-schema.js';
import { compileCidrs, inList } from '../request/client-ip.js';
import type { RequestDescription } from '../request/description.js';
import { normalizeDn } from './client-cert.js';
import type { Credentials } from './credentials.js';
import { AuthError } from './errors.js';
import type { Revocations } from './revocations.js';
import type { Identity } from './identity.js';
import { headerSafe } from '../util/header-safe.js';

/** Longest credential warden will hash; longer ones are refused unread. */
export const MAX_CREDENTIAL_LENGTH = 4096;

/** A key compiled for lookup: its identity and the checks it must pass. */
export interface KeyRecord {
  /** A keys-file identity always names its entry. */
  identity: Identity & { keyId: string };
  expiresAt: number | null;
  networks: CidrSet | null;
}

/** The keys file compiled for lookup by hash (API keys) and by normalized subject DN (client certificates). */
export interface KeyTable {
  byHash: ReadonlyMap<string, KeyRecord>;
  bySubject: ReadonlyMap<string, KeyRecord>;
  entries: readonly KeyEntry[];
}

/** Hex SHA-256 of a key, as stored in the keys file. */
export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** A new random 256-bit key with the `wdn_` prefix (base64url). */
export function generateKey(): string {
  return 'wdn_' + randomBytes(32).toString('base64url');
}

/** Build the hash → identity Map once per load. */
export function compileKeys(file: KeysFile): KeyTable {
  const byHash = new Map<string, KeyRecord>();
  const bySubject = new Map<string, KeyRecord>();
  for (const k of file.keys) {
    const identity: KeyRecord['identity'] = Object.freeze({
      sub: k.id,
      name: headerSafe(k.name ?? ''),
      email: headerSafe(k.email ?? ''),
      roles: Object.freeze([...k.roles]),
      method: k.certSubject !== undefined ? ('mtls' as const) : ('api_key' as const),
      keyId: k.id,
      ...(k.rateLimit ? { rateLimit: k.rateLimit } : {}),
      ...(k.expires ? { expiresAt: k.expires.getTime() } : {}),
      ...(k.networks ? { ipBound: true } : {}),
    });
    const record = {
      identity,
      expiresAt: k.expires ? k.expires.getTime() : null,
      networks: k.networks ? compileCidrs(k.networks) : null,
    };
    if (k.sha256 !== undefined) byHash.set(k.sha256, k.previous ? rotated(record, 'current') : record);
    for (const p of k.previous ?? []) {
      // A previous key: the same identity, until the sooner of its grace end and the entry's expiry.
      const end = Math.min(p.expires.getTime(), record.expiresAt ?? Infinity);
      byHash.set(p.sha256, rotated({ ...record, expiresAt: end }, 'previous'));
    }
    if (k.certSubject !== undefined) {
      // The keys schema refuses a subject that does not normalize.
      const dn = normalizeDn(k.certSubject);
      if (dn !== null) bySubject.set(dn, record);
    }
  }
  return { byHash, bySubject, entries: file.keys };
}

/** A record of an entry in rotation: its identity says which key was used, and when it stops. */
function rotated(record: KeyRecord, keyVersion: 'current' | 'previous'): KeyRecord {
  const identity = Object.freeze({
    ...record.identity,
    keyVersion,
    ...(record.expiresAt !== null ? { expiresAt: record.expiresAt } : {}),
  });
  return { ...record, identity };
}

/**
 * Authenticate by API key (`X-API-Key`, or `Authorization: Bearer` without a JWT's dots): identity,
 * AuthError for a bad key, or null when none is presented.
 */
export function authenticateKey(
  table: KeyTable,
  creds: Credentials,
  req: RequestDescription,
  now: number,
  revocations: Revocations | null = null,
): Identity | AuthError | null {
  const key = creds.apiKey;
  if (key === null) return null;
  if (key.length === 0 || key.length > MAX_CREDENTIAL_LENGTH)
    return new AuthError('invalid_credentials', 'malformed');
  const record = table.byHash.get(hashKey(key));
  if (!record) return new AuthError('invalid_credentials', 'unknown');
  return checkRecord(record, req, now, revocations);
}

/**
 * Authenticate by the client certificate the proxy verified (WARDEN_CLIENT_CERT): the keys-file entry
 * with that `certSubject`, checked like a key; null when there is none (a certificate the keys file
 * does not name is no credential of warden's).
 */
export function authenticateCert(
  table: KeyTable,
  creds: Credentials,
  req: RequestDescription,
  now: number,
  revocations: Revocations | null = null,
): Identity | AuthError | null {
  const subject = creds.certSubject;
  if (subject === null) return null;
  const dn = normalizeDn(subject);
  const record = dn === null ? undefined : table.bySubject.get(dn);
  return record ? checkRecord(record, req, now, revocations) : null;
}

/** The checks every key credential passes: revocation (fail closed until loaded), expiry, networks. */
export function checkRecord(
  record: KeyRecord,
  req: RequestDescription,
  now: number,
  revocations: Revocations | null,
): Identity | AuthError {
  const id = record.identity.keyId;
  if (revocations) {
    // Until the revocation set has been loaded once, no key can be shown not to be revoked: fail closed.
    if (!revocations.mirror.loaded)
      return new AuthError('invalid_credentials', 'revocations_unavailable', id);
    const revoked = revocations.find('key', id, now);
    if (revoked) return new AuthError('invalid_credentials', 'revoked', id, undefined, revoked);
  }
  if (record.expiresAt !== null && now >= record.expiresAt)
    return new AuthError('invalid_credentials', 'expired', id);
  if (record.networks && !inList(record.networks, req.clientIp))
    return new AuthError('invalid_credentials', 'network', id);
  return record.identity;
}
