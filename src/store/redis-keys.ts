// Stored API keys in Redis: an entry per id, a record per key hash, an id index, daily usage hashes.
import type { Cluster, Redis } from 'ioredis';
import type { KeyBackend, KeyLookup, PreviousHash, StoredKeyEntry } from './key-records.js';

type Client = Redis | Cluster;

/** Days a daily usage hash is kept: the admin API shows 30. */
const USAGE_TTL_S = 31 * 86_400;

/** What Redis holds per id: the public entry and its hashes (never shown). */
interface StoredRecord {
  entry: StoredKeyEntry;
  sha256: string;
  previous: PreviousHash[];
}

/** JSON Redis holds, as its caller's type: warden wrote it. */
function parse(json: string | null): unknown {
  if (json === null) return null;
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

/** The keys and channel of stored keys: all under the `{keys}` hash tag, so a Cluster keeps them in one slot. */
function names(prefix: string) {
  const base = `${prefix}{keys}:`;
  return {
    entry: (id: string) => `${base}entry:${id}`,
    hash: (sha: string) => `${base}hash:${sha}`,
    index: `${base}index`,
    lastUsed: `${base}last-used`,
    usage: (day: string) => `${base}usage:${day}`,
    channel: `${prefix}events:keys`,
  };
}

type Names = ReturnType<typeof names>;

/** KEYS: entry, hash record, index; ARGV: entry JSON, lookup JSON, id. 1 when created, 0 when the id is taken. */
const CREATE_SCRIPT = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX') then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
return 1
`;

const lookupOf = (rec: StoredRecord, version: KeyLookup['version'], until?: number): string =>
  JSON.stringify({ entry: rec.entry, version, ...(until !== undefined ? { until } : {}) });

/** Entries: create (the id claimed with NX), read, page through the id index, remove, rotate. */
function entryOps(
  client: Client,
  n: Names,
): Omit<KeyBackend, 'addUsage' | 'usage' | 'invalidate' | 'watch' | 'existing'> {
  const read = async (id: string) => parse(await client.get(n.entry(id))) as StoredRecord | null;
  return {
    lookup: async (sha) => parse(await client.get(n.hash(sha))) as KeyLookup | null,
    async create(entry, sha) {
      const rec: StoredRecord = { entry, sha256: sha, previous: [] };
      // One script: the id is claimed and its hash and index written together, or nothing is.
      const made = await client.eval(
        CREATE_SCRIPT,
        3,
        n.entry(entry.id),
        n.hash(sha),
        n.index,
        JSON.stringify(rec),
        lookupOf(rec, 'current'),
        entry.id,
      );
      return made === 1;
    },
    get: async (id) => (await read(id))?.entry ?? null,
    async list(cursor, limit) {
      const ids = await client.zrangebylex(
        n.index,
        cursor === null ? '-' : `(${cursor}`,
        '+',
        'LIMIT',
        0,
        limit,
      );
      if (ids.length === 0) return { entries: [], cursor: null };
      const raw = await client.mget(...ids.map(n.entry));
      const entries = raw.map((r) => (parse(r) as StoredRecord | null)?.entry).filter((e) => e !== undefined);
      return { entries, cursor: ids.length < limit ? null : (ids.at(-1) ?? null) };
    },
    async remove(id, days) {
      const rec = await read(id);
      if (!rec) return null;
      const hashes = [rec.sha256, ...rec.previous.map((p) => p.sha256)];
      const m = client
        .multi()
        .del(n.entry(id), ...hashes.map(n.hash))
        .zrem(n.index, id)
        .hdel(n.lastUsed, id);
      // A later key of the same id starts with no usage.
      for (const d of days) m.hdel(n.usage(d), id);
      await m.exec();
      return hashes;
    },
    async rotate(id, sha, graceEnd, now) {
      const rec = await read(id);
      if (!rec) return null;
      const end = Math.min(graceEnd, rec.entry.expiresAt ?? Infinity);
      const kept = rec.previous.filter((p) => p.expiresAt > now).slice(-9);
      const next: StoredRecord = {
        ...rec,
        sha256: sha,
        previous: [...kept, { sha256: rec.sha256, expiresAt: end }],
      };
      const m = client
        .multi()
        .set(n.entry(id), JSON.stringify(next))
        .set(n.hash(sha), lookupOf(next, 'current'));
      // The old key keeps working until the grace ends, then Redis forgets it.
      m.set(n.hash(rec.sha256), lookupOf(next, 'previous', end), 'PXAT', Math.max(end, now + 1));
      for (const p of kept)
        m.set(n.hash(p.sha256), lookupOf(next, 'previous', p.expiresAt), 'PXAT', p.expiresAt);
      await m.exec();
      return [sha, ...next.previous.map((p) => p.sha256)];
    },
  };
}

/** Which of `ids` the index holds, 1000 a round trip. */
async function existingIds(client: Client, n: Names, ids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const scores = await client.zmscore(n.index, ...chunk);
    chunk.forEach((id, j) => {
      if (scores[j] !== null) out.push(id);
    });
  }
  return out;
}

/** Usage: per-day hashes of id → requests (31 days), and id → latest use. */
function usageOps(client: Client, n: Names): Pick<KeyBackend, 'addUsage' | 'usage'> {
  return {
    async addUsage({ counts, lastUsed }) {
      const p = client.pipeline();
      for (const [day, perId] of counts) {
        for (const [id, count] of perId) p.hincrby(n.usage(day), id, count);
        p.expire(n.usage(day), USAGE_TTL_S);
      }
      if (lastUsed.size > 0)
        p.hset(n.lastUsed, Object.fromEntries([...lastUsed].map(([id, t]) => [id, String(t)])));
      const results = await p.exec();
      const failed = results?.find(([err]) => err !== null);
      if (failed?.[0]) throw failed[0];
    },
    async usage(id, days) {
      const p = client.pipeline().hget(n.lastUsed, id);
      for (const d of days) p.hget(n.usage(d), id);
      const results = (await p.exec()) ?? [];
      const value = (i: number) => {
        const [err, v] = results[i] ?? [null, null];
        if (err) throw err;
        return typeof v === 'string' ? Number(v) : null;
      };
      return { lastUsed: value(0), days: days.map((day, i) => ({ day, requests: value(i + 1) ?? 0 })) };
    },
  };
}

/**
 * The key backend over one client; `subscribe` opens the connection invalidations arrive on
 * (published on one channel, like the replicated sets' changes).
 */
export function redisKeys(client: Client, prefix: string, subscribe: () => Client): KeyBackend {
  const n = names(prefix);
  return {
    ...entryOps(client, n),
    ...usageOps(client, n),
    existing: (ids) => existingIds(client, n, ids),
    async invalidate(hashes) {
      await client.publish(n.channel, JSON.stringify({ hashes }));
    },
    watch(onInvalidate, resync) {
      const sub = subscribe();
      sub.on('message', (ch: string, message: string) => {
        if (ch !== n.channel) return;
        const m = parse(message) as { hashes?: unknown } | null;
        if (m && Array.isArray(m.hashes))
          onInvalidate(m.hashes.filter((h): h is string => typeof h === 'string'));
        else resync();
      });
      // After a reconnect, invalidations may have been missed.
      sub.on('ready', resync);
      client.on('ready', resync);
      void sub.subscribe(n.channel).catch(() => resync());
    },
  };
}
