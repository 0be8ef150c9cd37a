// The API key authenticator: the keys file first (synchronous), then stored keys (WARDEN_KEYS_STORE=redis).
import type { Credentials } from './credentials.js';
import type { Authenticator } from './chain.js';
import { checkRecord, hashKey, MAX_CREDENTIAL_LENGTH, type KeyRecord, type KeyTable } from './apikey.js';
import { AuthError } from './errors.js';
import type { Identity } from './identity.js';
import type { Revocations } from './revocations.js';
import type { StoredKeys, StoredLookup } from './stored-keys.js';
import type { RequestDescription } from '../request/description.js';

/**
 * Authenticate an API key against the keys file, then the stored keys: a file key or a cached
 * stored key answers at once; a stored key not cached yet answers with a Promise. A store that
 * cannot answer refuses the key (`keys_store_unavailable`), never lets it through.
 */
export function keyAuthenticator(
  table: KeyTable,
  stored: StoredKeys,
  revocations: Revocations | null,
): Authenticator {
  // An id in both the file and the store is a conflict: the file's key works, the stored one is refused.
  const fileIds = new Set(table.entries.map((e) => e.id));
  const judge = (found: StoredLookup, req: RequestDescription, now: number): Identity | AuthError => {
    if (found === 'unavailable') return new AuthError('invalid_credentials', 'keys_store_unavailable');
    if (found === null) return new AuthError('invalid_credentials', 'unknown');
    const id = found.identity.keyId;
    if (fileIds.has(id)) return new AuthError('invalid_credentials', 'id_conflict', id);
    const r = checkRecord(found, req, now, revocations);
    if (!(r instanceof AuthError)) stored.usage.count(id, now);
    return r;
  };
  return (creds: Credentials, req, now) => {
    const key = creds.apiKey;
    if (key === null) return null;
    if (key.length === 0 || key.length > MAX_CREDENTIAL_LENGTH)
      return new AuthError('invalid_credentials', 'malformed');
    const sha = hashKey(key);
    const record: KeyRecord | undefined = table.byHash.get(sha);
    if (record) return checkRecord(record, req, now, revocations);
    const found = stored.lookup(sha, now);
    return found instanceof Promise ? found.then((f) => judge(f, req, now)) : judge(found, req, now);
  };
}
