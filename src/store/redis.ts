// The Redis store (ioredis): shared limits with in-memory insurance, replicated sets over hash + pub/sub.
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { systemClock, type Clock } from '../util/clock.js';
import { LeasedLimiter, type LeaseSource } from './lease.js';
import { MemoryLimiter } from './memory-limiter.js';
import { redisAuditStream } from './redis-audit.js';
import { redisKeys } from './redis-keys.js';
import {
  live,
  type Limiter,
  type CountBackend,
  type RecordBackend,
  type LimiterOptions,
  type SetBackend,
  type SetChange,
  type SetEntry,
  type Store,
  type StoreStatus,
} from './store.js';

/** Hooks the store reports through (metrics, operational log). */
export interface RedisStoreEvents {
  onError?(err: Error): void;
  onInsurance?(keyPrefix: string): void;
  onState?(state: string): void;
}

type Client = Redis | Cluster;

/** A field present in every set hash warden has written; entry ids never start with `__`. */
const MARKER = '__warden_set';

/** Reconnect quickly and forever: warden must recover within seconds of Redis returning. */
const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 4), 500);

/** A Redis server or Sentinel address. */
export interface HostPort {
  host: string;
  port: number;
}

/** How to reach Redis: the first of `cluster`, `sentinel` and `url` that is set. */
export interface RedisConnectOptions {
  /** Redis Cluster seed nodes. */
  cluster?: HostPort[];
  /** Sentinels and the name of the master group they watch. */
  sentinel?: { nodes: HostPort[]; name: string };
  /** A redis:// or rediss:// URL. */
  url?: string;
  /** For Redis, and for the Sentinels too. */
  password?: string;
  tls?: boolean;
  /** Every command gives up after this long. */
  commandTimeoutMs: number;
}

/** Connection options shared by every mode. */
function baseOptions(o: RedisConnectOptions): RedisOptions {
  return {
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: 2000,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    retryStrategy,
    lazyConnect: false,
    ...(o.password ? { password: o.password } : {}),
    ...(o.tls ? { tls: {} } : {}),
  };
}

/** Open the client (Cluster, Sentinel or URL); null when none is given. */
export function connectRedis(o: RedisConnectOptions): Client | null {
  const base = baseOptions(o);
  if (o.cluster) {
    return new Cluster(o.cluster, {
      redisOptions: base,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: 2000,
    });
  }
  if (o.sentinel) {
    return new Redis({
      ...base,
      sentinels: o.sentinel.nodes,
      name: o.sentinel.name,
      sentinelRetryStrategy: retryStrategy,
      ...(o.password ? { sentinelPassword: o.password } : {}),
    });
  }
  if (o.url) return new Redis(o.url, base);
  return null;
}

function parseEntry(json: string): SetEntry | null {
  try {
    const e = JSON.parse(json) as SetEntry;
    return typeof e.id === 'string' && typeof e.createdAt === 'number' ? e : null;
  } catch {
    return null;
  }
}

/** Recent command outcomes: a Redis that answers nothing in time is not ready, even if connected. */
interface Health {
  ok(): void;
  fail(): void;
  /** Failing or timing out on its latest commands (within 5 s). */
  failing(): boolean;
}

function commandHealth(clock: Clock): Health {
  let lastOk = 0;
  let lastFail = 0;
  return {
    ok: () => void (lastOk = clock.now()),
    fail: () => void (lastFail = clock.now()),
    failing: () => lastFail > lastOk && clock.now() - lastFail < 5000,
  };
}

/** A Redis command's value in time, or 'unavailable'. */
type InTime<T> = { value: T } | 'unavailable';

/**
 * Race a Redis command against a hard deadline: commands wait behind each other in the
 * auto-pipeline, so a slow Redis could cost several command timeouts. After `ms`, or on any
 * Redis error, 'unavailable' (and the caller's insurance answers); a late answer is ignored.
 */
function inTime<T>(command: () => Promise<T>, ms: number, health: Health): Promise<InTime<T>> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (r: InTime<T>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (r === 'unavailable') health.fail();
      else health.ok();
      resolve(r);
    };
    const timer = setTimeout(() => settle('unavailable'), ms);
    command().then(
      (value) => settle({ value }),
      () => settle('unavailable'),
    );
  });
}

/**
 * Take up to ARGV[2] requests of a fixed window of ARGV[3] ms whose limit is ARGV[1]. The counter
 * is an integer with the window as its TTL; it never passes the limit. Returns { granted, count
 * after, ms left in the window }.
 */
const LEASE_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
local grant = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) - used)
if grant < 0 then grant = 0 end
if ttl < 0 then
  ttl = tonumber(ARGV[3])
  redis.call('SET', KEYS[1], used + grant, 'PX', ttl)
elseif grant > 0 then
  redis.call('INCRBY', KEYS[1], grant)
end
return { grant, used + grant, ttl }
`;

type LeaseClient = Client & {
  wardenLease(key: string, limit: number, want: number, windowMs: number): Promise<[number, number, number]>;
};

/** Redis store options. */
export interface RedisStoreOptions {
  /** A limiter's Redis command gives up after this long, and the insurance limiter answers (default 250). */
  timeoutMs?: number;
  clock?: Clock;
}

/** What every part of the Redis store shares. */
interface RedisContext {
  client: Client;
  /** Starts every key and channel. */
  prefix: string;
  events: RedisStoreEvents;
  clock: Clock;
  health: Health;
}

/** Build the store over a connected client. `prefix` starts every key and channel. */
export function createRedisStore(
  client: Client,
  prefix: string,
  events: RedisStoreEvents = {},
  { timeoutMs = 250, clock = systemClock }: RedisStoreOptions = {},
): Store {
  const subscribers: Client[] = [];
  if (!('wardenLease' in client)) client.defineCommand('wardenLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
  const r: RedisContext = { client, prefix, events, clock, health: commandHealth(clock) };
  reportConnection(r);
  return {
    kind: 'redis',
    records: (name) => redisRecords(r, name),
    counts: (name) => redisCounts(r, name),
    limiter: (o) => redisLimiter(r, o, timeoutMs),
    set: (name) => redisSet(r, name, subscribers),
    keys: () =>
      redisKeys(client, prefix, () => {
        const sub = subscriber(client);
        sub.on('error', (err: Error) => events.onError?.(err));
        subscribers.push(sub);
        return sub;
      }),
    auditStream: (maxLen) => redisAuditStream(client, prefix, maxLen),
    status: () => redisStatus(r),
    waitReady: (ms) => waitReady(client, ms),
    close() {
      for (const s of subscribers) s.disconnect();
      client.disconnect();
      return Promise.resolve();
    },
  };
}

/** Report the client's errors and connection states; a fresh connection is a fresh start for readiness. */
function reportConnection({ client, events, health }: RedisContext): void {
  client.on('error', (err: Error) => events.onError?.(err));
  for (const state of ['ready', 'close', 'reconnecting', 'end'])
    client.on(state, () => events.onState?.(state));
  client.on('ready', () => health.ok());
}

/** Ready when connected and its latest commands answer. */
function redisStatus({ client, health }: RedisContext): StoreStatus {
  const s = client.status;
  // Connected but failing or timing out on its latest commands (within 5 s): not ready.
  const failing = health.failing();
  return { ready: s === 'ready' && !failing, detail: failing ? `${s}, commands failing` : s };
}

/** Resolve true once the client is ready, false after `timeoutMs`. */
function waitReady(client: Client, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    client.on('ready', onReady);
  });
}

/** A limiter leasing from a shared Redis counter, with in-memory insurance for what Redis cannot answer. */
function redisLimiter(
  { client, prefix, events, clock, health }: RedisContext,
  o: LimiterOptions,
  timeoutMs: number,
): Limiter {
  const leaseClient = client as LeaseClient;
  // Counts in memory, with the same limit, the requests Redis could not answer in time.
  const insurance = new MemoryLimiter(o.points, o.duration * 1000, clock);
  // The counter's key: `<prefix><keyPrefix>:<key>`.
  const counter = (key: string) => `${prefix}${o.keyPrefix}:${key}`;
  const source: LeaseSource = {
    acquire: async (key, want) => {
      if (client.status !== 'ready') return 'unavailable';
      const r = await inTime(
        () => leaseClient.wardenLease(counter(key), o.points, want, o.duration * 1000),
        timeoutMs,
        health,
      );
      if (r === 'unavailable') return 'unavailable';
      const [granted, used, ttlMs] = r.value;
      return { granted, used, ttlMs };
    },
    insurance: (key) => {
      events.onInsurance?.(o.keyPrefix);
      return insurance.consume(key);
    },
    remove: async (key) => (await client.del(counter(key))) > 0,
  };
  return new LeasedLimiter(o.points, o.duration * 1000, source, clock);
}

/** A replicated set: one hash, changes published on a channel. */
function redisSet(
  { client, prefix, events, clock }: RedisContext,
  name: string,
  subscribers: Client[],
): SetBackend {
  const key = `${prefix}set:{${name}}`;
  const channel = `${prefix}events:${name}`;
  return {
    async all() {
      const raw = await client.hgetall(key);
      const now = clock.now();
      // The marker field is written with the first entry and never removed: a hash without it was lost.
      const lost = !(MARKER in raw);
      const entries = Object.entries(raw)
        .filter(([field]) => field !== MARKER)
        .map(([, json]) => parseEntry(json))
        .filter((e): e is SetEntry => e !== null);
      const expired = entries.filter((e) => e.expiresAt !== undefined && e.expiresAt <= now).map((e) => e.id);
      if (expired.length > 0) void client.hdel(key, ...expired).catch(() => undefined);
      return { entries: live(entries, now), lost };
    },
    async add(entry) {
      await client.hset(key, MARKER, '1', entry.id, JSON.stringify(entry));
      await client.publish(channel, JSON.stringify({ op: 'add', entry } satisfies SetChange));
    },
    async remove(id) {
      const n = await client.hdel(key, id);
      await client.publish(channel, JSON.stringify({ op: 'remove', id } satisfies SetChange));
      return n > 0;
    },
    watch(onChange, resync) {
      const sub = subscriber(client);
      subscribers.push(sub);
      sub.on('error', (err: Error) => events.onError?.(err));
      sub.on('message', (ch: string, message: string) => {
        if (ch !== channel) return;
        try {
          onChange(JSON.parse(message) as SetChange);
        } catch {
          resync();
        }
      });
      // After any reconnect, messages may have been missed: reload the whole set.
      sub.on('ready', resync);
      client.on('ready', resync);
      // ioredis rejects with an Error.
      void sub.subscribe(channel).catch((err: unknown) => events.onError?.(err as Error));
    },
  };
}

/** A subscriber needs its own connection; it queues while offline and resubscribes on reconnect. */
function subscriber(client: Client): Client {
  return client instanceof Cluster
    ? client.duplicate(undefined, {
        enableOfflineQueue: true,
        redisOptions: {
          ...client.options.redisOptions,
          enableOfflineQueue: true,
          commandTimeout: undefined,
        },
      })
    : client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
}

/** Expiring records, one key each; every command's outcome counts toward readiness. */
function redisRecords({ client, prefix, health }: RedisContext, name: string): RecordBackend {
  const key = (id: string) => `${prefix}rec:{${name}}:${id}`;
  const track = <T>(p: Promise<T>): Promise<T> =>
    p.then(
      (v) => (health.ok(), v),
      (e: unknown) => {
        health.fail();
        throw e;
      },
    );
  return {
    get: (id) => track(client.get(key(id))),
    put: async (id, value, ttlMs) => {
      await track(client.set(key(id), value, 'PX', Math.max(1, Math.round(ttlMs))));
    },
    update: async (id, value, ttlMs) =>
      (await track(client.set(key(id), value, 'PX', Math.max(1, Math.round(ttlMs)), 'XX'))) === 'OK',
    claim: async (id, ttlMs, value = '1') =>
      (await track(client.set(key(id), value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX'))) === 'OK',
    delete: async (id) => (await track(client.del(key(id)))) > 0,
  };
}

/** Shared counters: one hash per family, a batch added with one pipeline of HINCRBY. */
function redisCounts({ client, prefix }: RedisContext, name: string): CountBackend {
  const key = `${prefix}counts:{${name}}`;
  return {
    async add(batch) {
      if (batch.size === 0) return;
      const pipeline = client.pipeline();
      for (const [id, n] of batch) pipeline.hincrby(key, id, n);
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (failed) throw failed;
    },
    async get(ids) {
      if (ids.length === 0) return [];
      const values = await client.hmget(key, ...ids);
      return values.map((v) => (v === null ? 0 : Number(v)));
    },
    async remove(ids) {
      if (ids.length > 0) await client.hdel(key, ...ids);
    },
  };
}
