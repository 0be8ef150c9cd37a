// What reads the audit trail back: the Redis connection of the redis sink, the search and the overview.
import type { AuditLog } from './audit/audit-log.js';
import type { AuditStream } from './audit/audit-stream.js';
import { createOverview, type OverviewAggregator } from './audit/overview.js';
import { RedisAuditSink } from './audit/redis-sink.js';
import { fileSource } from './audit/search-file.js';
import { redisSource } from './audit/search-source.js';
import { createAuditSearch } from './audit/search.js';
import type { AuditView } from './audit/view.js';
import type { AuditSink } from './audit/sink.js';
import type { Env } from './config/env-schema.js';
import { redisConnection } from './services.js';
import { redisAuditStream } from './store/redis-audit.js';
import { connectRedis } from './store/redis.js';
import type { Store } from './store/store.js';
import type { Clock } from './util/clock.js';

/** Commands of the audit connection give up after this long at the least: a page reads thousands of lines. */
const AUDIT_COMMAND_TIMEOUT_MS = 2000;

/**
 * The shared audit stream on a connection of its own when the redis audit sink is configured (its
 * batches and the search's pages are large), and how to close it; without that sink, none is opened.
 */
export function openAuditRedis(env: Env): { stream: AuditStream | null; close: () => Promise<void> } {
  const none = { stream: null, close: () => Promise.resolve() };
  if (!env.WARDEN_AUDIT_SINKS.includes('redis')) return none;
  const settings = redisConnection(env);
  const client = connectRedis({
    ...settings,
    commandTimeoutMs: Math.max(settings.commandTimeoutMs, AUDIT_COMMAND_TIMEOUT_MS),
  });
  if (!client) return none;
  // Errors are reported by the sink and the readers that meet them; an unhandled 'error' would crash.
  client.on('error', () => {});
  return {
    stream: redisAuditStream(client, env.WARDEN_REDIS_PREFIX, env.WARDEN_AUDIT_REDIS_MAXLEN),
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * The search (the shared stream with the redis sink, else this replica's file sink) and the
 * overview (shared through Redis whenever Redis is configured: over the redis sink's connection, or
 * else the store's), sharing once a second. The redis sink's drops are audited to the other sinks.
 */
export function openAuditView(
  env: Env,
  deps: {
    audit: AuditLog;
    sinks: readonly AuditSink[];
    /** The redis sink's stream (openAuditRedis). */
    stream: AuditStream | null;
    /** The store, whose connection the overview shares without the redis sink. */
    store?: Pick<Store, 'auditStream'>;
    aggregator: OverviewAggregator;
    clock: Clock;
  },
): AuditView {
  const { audit, sinks, stream, aggregator, clock } = deps;
  for (const s of sinks)
    if (s instanceof RedisAuditSink)
      // Told while the log hands a line to its sinks: the event is written after that, not inside it.
      s.dropListeners.push((dropped) =>
        setImmediate(() => audit.admin({ event: 'audit_lines_dropped', sink: s.name, dropped })),
      );
  const redis = stream && env.WARDEN_AUDIT_SINKS.includes('redis') ? redisSource(stream) : null;
  const file =
    env.WARDEN_AUDIT_FILE && env.WARDEN_AUDIT_SINKS.includes('file')
      ? fileSource(env.WARDEN_AUDIT_FILE)
      : null;
  const shared = stream ?? deps.store?.auditStream?.(env.WARDEN_AUDIT_REDIS_MAXLEN) ?? null;
  const overview = createOverview(aggregator, clock, shared);
  overview.start();
  return { search: redis || file ? createAuditSearch({ redis, file }) : null, overview };
}
