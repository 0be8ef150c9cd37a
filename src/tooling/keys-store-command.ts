// `warden keys create --store`: a key created in Redis (REDIS_URL), printed once; replicas see it within 100 ms.
import { hashKey, type KeyTable } from '../auth/apikey.js';
import { StoredKeys, type NewStoredKey } from '../auth/stored-keys.js';
import type { Config } from '../config/load.js';
import { openStore } from '../services.js';
import type { Clock } from '../util/clock.js';
import type { Out } from './cli-io.js';

/** Store a new key in Redis and print it once with its entry; exit code. */
export async function createStoredKey(
  config: Config,
  fields: NewStoredKey,
  io: Out,
  clock: Clock,
): Promise<number> {
  const env = config.env;
  const store = openStore(env, { clock });
  try {
    const backend = store.keys?.();
    if (!backend) {
      io.err('warden keys create: --store needs Redis: set REDIS_URL (or Sentinel, Cluster)\n');
      return 2;
    }
    if (!(await store.waitReady(5000))) {
      io.err('warden: the store is not reachable (Redis not ready after 5 s)\n');
      return 1;
    }
    const made = await new StoredKeys(backend, { clock }).create(fields, clock.now());
    if (made === 'exists') {
      io.err(`warden keys create: --id: "${fields.id}" is already stored in Redis\n`);
      return 2;
    }
    const { entry } = made;
    io.out(
      `key (shown once, store it now): ${made.key}\n\n` +
        `stored in Redis: id ${entry.id}, roles ${entry.roles.join(',')}` +
        `${entry.expiresAt !== undefined ? `, expires ${new Date(entry.expiresAt).toISOString()}` : ''}\n`,
    );
    if (env.WARDEN_KEYS_STORE !== 'redis')
      io.err('warden: note: WARDEN_KEYS_STORE is not redis here; servers read stored keys only with it\n');
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * For `warden check` with WARDEN_KEYS_STORE=redis: a warning per keys-file id that Redis stores too
 * (the stored key is refused), or one saying Redis could not be asked. Nothing with keys in the file only.
 */
export async function storedKeyWarnings(
  config: Config,
  clock: Clock,
): Promise<{ path: string; message: string }[]> {
  if (config.env.WARDEN_KEYS_STORE !== 'redis') return [];
  const store = openStore(config.env, { clock });
  try {
    const backend = store.keys?.();
    if (!backend || !(await store.waitReady(2000)))
      return [
        {
          path: 'WARDEN_KEYS_STORE',
          message: 'Redis is not reachable: keys-file ids not checked against stored keys',
        },
      ];
    const both = await backend.existing(config.keys.keys.map((k) => k.id));
    return both.map((id) => ({
      path: `keys ${id}`,
      message:
        'this id is in the keys file and stored in Redis: the file key works, the stored one is refused',
    }));
  } catch (e) {
    return [{ path: 'WARDEN_KEYS_STORE', message: `cannot check stored keys: ${(e as Error).message}` }];
  } finally {
    await store.close();
  }
}

/**
 * For `warden explain --key` with WARDEN_KEYS_STORE=redis: when the keys file does not hold the
 * key, Redis is asked as /verify would ask it, and a found key joins the table for this one
 * evaluation. The note says what was consulted.
 */
export async function withStoredKey(
  config: Config,
  keys: KeyTable,
  key: string,
  clock: Clock,
): Promise<{ keys: KeyTable; note: string | null }> {
  const sha256 = hashKey(key);
  if (config.env.WARDEN_KEYS_STORE !== 'redis' || keys.byHash.has(sha256)) return { keys, note: null };
  const store = openStore(config.env, { clock });
  try {
    const backend = store.keys?.();
    if (!backend || !(await store.waitReady(2000)))
      return { keys, note: 'Redis is not reachable: keys stored there were not consulted' };
    const found = await new StoredKeys(backend, { clock }).lookup(sha256, clock.now());
    if (found === 'unavailable')
      return { keys, note: 'Redis did not answer: keys stored there were not consulted' };
    if (found === null) return { keys, note: 'the key is neither in the keys file nor stored in Redis' };
    return {
      keys: { ...keys, byHash: new Map([...keys.byHash, [sha256, found]]) },
      note: `the key is stored in Redis (id ${found.identity.keyId})`,
    };
  } finally {
    await store.close();
  }
}
