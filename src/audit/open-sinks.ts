// The audit sinks WARDEN_AUDIT_SINKS asks for, opened at start; an unwritable file stops warden (exit 2).
import type { DestinationStream, Logger } from 'pino';
import type { Env } from '../config/env-schema.js';
import { splitHeaderLine } from '../config/env-values.js';
import { ConfigError, requiredVar } from '../config/errors.js';
import { redactUrl } from '../config/load.js';
import type { Clock } from '../util/clock.js';
import { openCheckpointSigning, SigningKeyError, type CheckpointSigning } from './checkpoint-key.js';
import type { RemovedFile } from './file-housekeeping.js';
import type { AuditStream } from './audit-stream.js';
import { fileSink } from './file-sink.js';
import { RedisAuditSink } from './redis-sink.js';
import { destinationSink, stdoutSink, type AuditSink } from './sink.js';
import { WebhookSink } from './webhook-sink.js';

/** At most one warning per this interval per sink: a dead receiver fails every few seconds for hours. */
const WARN_EVERY_MS = 5000;

function throttled(
  log: Logger,
  clock: Clock,
  event: string,
  message: string,
): (fields: Record<string, unknown>) => void {
  let last = 0;
  let suppressed = 0;
  return (fields) => {
    const now = clock.now();
    if (now - last < WARN_EVERY_MS) {
      suppressed++;
      return;
    }
    last = now;
    log.warn({ event, ...fields, suppressed }, message);
    suppressed = 0;
  };
}

/** What the sinks run on: the clock of flush deadlines and warning throttles, and the webhook's fetch. */
export interface SinkDeps {
  clock: Clock;
  fetch: typeof fetch;
  /** Where `stdout` writes instead of fd 1 (tests). */
  stdoutDestination?: DestinationStream | undefined;
  /** Told of each rotated file removed for age or count (audited as `audit_file_removed`). */
  onFileRemoved?: (r: RemovedFile) => void;
  /** The shared Redis stream the `redis` sink appends to (opened by the caller with the Redis settings). */
  auditStream?: AuditStream | null;
}

/** The redis sink over the caller's stream; failures and drops go to the operational log (stderr). */
function openRedisSink(log: Logger, deps: SinkDeps): AuditSink {
  const stream = deps.auditStream;
  if (!stream) throw new Error('the redis audit sink needs a Redis connection');
  const warn = throttled(
    log,
    deps.clock,
    'audit_redis_failed',
    'audit lines cannot reach Redis; they wait in memory and are retried',
  );
  return new RedisAuditSink({
    stream,
    clock: deps.clock,
    onFailure: (detail, queued) => warn({ detail, queued }),
    onDrop: (dropped) =>
      log.error(
        { event: 'audit_redis_dropping', dropped },
        'the redis audit sink is full: new lines are dropped until Redis answers (warden_audit_dropped_total)',
      ),
  });
}

/**
 * Open every configured sink. Throws ConfigError naming WARDEN_AUDIT_FILE and the path when the
 * file cannot be opened for appending.
 */
export function openAuditSinks(env: Env, log: Logger, deps: SinkDeps): AuditSink[] {
  const { clock, stdoutDestination } = deps;
  const sinks: AuditSink[] = [];
  for (const name of env.WARDEN_AUDIT_SINKS) {
    if (name === 'stdout')
      sinks.push(stdoutDestination ? destinationSink('stdout', stdoutDestination, clock) : stdoutSink(clock));
    else if (name === 'file') {
      const path = requiredVar(
        env.WARDEN_AUDIT_FILE,
        'WARDEN_AUDIT_FILE',
        'required with the file sink (WARDEN_AUDIT_SINKS)',
      );
      const warn = throttled(log, clock, 'audit_file_error', 'audit file write or rotation failed');
      try {
        const opts = {
          maxBytes: env.WARDEN_AUDIT_FILE_MAX_SIZE,
          keep: env.WARDEN_AUDIT_FILE_KEEP,
          clock,
          daily: env.WARDEN_AUDIT_FILE_ROTATE === 'daily',
          retentionMs: env.WARDEN_AUDIT_RETENTION === undefined ? null : env.WARDEN_AUDIT_RETENTION * 1000,
          gzip: env.WARDEN_AUDIT_FILE_COMPRESS === 'gzip',
          ...(deps.onFileRemoved && { onRemoved: deps.onFileRemoved }),
        };
        sinks.push(fileSink(path, opts, (err) => warn({ path, err: err.message })));
      } catch (e) {
        for (const s of sinks) s.close();
        const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        throw new ConfigError([
          {
            source: 'env WARDEN_AUDIT_FILE',
            path: '',
            message: `cannot open ${path} for appending (${code})`,
          },
        ]);
      }
    } else if (name === 'redis') sinks.push(openRedisSink(log, deps));
    else {
      const url = requiredVar(
        env.WARDEN_AUDIT_WEBHOOK_URL,
        'WARDEN_AUDIT_WEBHOOK_URL',
        'required with the webhook sink (WARDEN_AUDIT_SINKS)',
      );
      const warn = throttled(
        log,
        clock,
        'audit_webhook_failed',
        'audit webhook POST failed; events stay queued and are retried',
      );
      const sink: WebhookSink = new WebhookSink({
        url,
        ...(env.WARDEN_AUDIT_WEBHOOK_AUTH_HEADER
          ? { header: splitHeaderLine(env.WARDEN_AUDIT_WEBHOOK_AUTH_HEADER) }
          : {}),
        batch: env.WARDEN_AUDIT_WEBHOOK_BATCH,
        intervalMs: env.WARDEN_AUDIT_WEBHOOK_INTERVAL * 1000,
        queue: env.WARDEN_AUDIT_WEBHOOK_QUEUE,
        timeoutMs: env.WARDEN_AUDIT_WEBHOOK_TIMEOUT * 1000,
        onFailure: (detail, attempt) =>
          warn({ url: redactUrl(url), detail, attempt, queued: sink.queued(), dropped: sink.dropped() }),
        fetch: deps.fetch,
        clock,
      });
      sinks.push(sink);
    }
  }
  return sinks;
}

/** WARDEN_AUDIT_SIGNING_KEY's key and published key set, or null; an unusable key file is a configuration error (exit 2). */
export async function openAuditSigning(env: Env): Promise<CheckpointSigning | null> {
  const spec = env.WARDEN_AUDIT_SIGNING_KEY;
  if (spec === undefined) return null;
  try {
    return await openCheckpointSigning(spec, env.WARDEN_STATE_DIR);
  } catch (e) {
    if (e instanceof SigningKeyError)
      throw new ConfigError([{ source: 'env WARDEN_AUDIT_SIGNING_KEY', path: '', message: e.message }]);
    throw e;
  }
}
