// Environment variables of the audit trail and the metrics endpoint (spread into envSchema).
import { z } from 'zod';
import { absoluteHttpUrl, headerLine, portNumber } from './env-values.js';
import { duration } from '../util/duration.js';

/** The audit sinks warden can write to. */
export const AUDIT_SINKS = ['stdout', 'file', 'webhook', 'redis'] as const;
export type AuditSinkName = (typeof AUDIT_SINKS)[number];

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  kib: 1024,
  m: 1e6,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1e9,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** A size in bytes: `1048576`, `100MB`, `64MiB`, `1G`. */
const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(String(v).trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes < 1024) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a size of at least 1 KiB like 100MB, 64MiB, 1G` });
    return z.NEVER;
  }
  return bytes;
});

/** `1000` (lines), `60s` (a duration, with its unit), or both: `1000,60s`. */
const checkpointEvery = z
  .string()
  .default('1000,60s')
  .transform((v, ctx) => {
    const out: { lines: number | null; ms: number | null } = { lines: null, ms: null };
    for (const part of v.split(',').map((p) => p.trim())) {
      if (/^\d+$/.test(part) && out.lines === null && Number(part) >= 1) out.lines = Number(part);
      else if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(part) && out.ms === null) {
        const seconds = duration.safeParse(part);
        if (seconds.success && seconds.data > 0) out.ms = seconds.data * 1000;
        else out.lines = NaN;
      } else out.lines = NaN;
    }
    if (Number.isNaN(out.lines) || (out.lines === null && out.ms === null)) {
      ctx.addIssue({
        code: 'custom',
        message: `"${v}" is not a line count, a duration with its unit, or both, like 1000,60s`,
      });
      return z.NEVER;
    }
    return out;
  });

const positiveInt = (dflt: number, max: number) => z.coerce.number().int().min(1).max(max).default(dflt);

const sinkList = z
  .string()
  .default('stdout')
  .transform((s) =>
    s.trim() === 'none'
      ? []
      : s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
  )
  .pipe(
    z.array(
      z.enum(AUDIT_SINKS, {
        error: `each sink is one of ${AUDIT_SINKS.join(', ')} (or the whole value "none")`,
      }),
    ),
  )
  .transform((list) => [...new Set(list)]);

/** The audit and metrics variables, all `WARDEN_`-prefixed. */
export const auditEnv = {
  /** Comma list of `stdout`, `file`, `webhook`, `redis`; `none` turns the audit trail off. */
  WARDEN_AUDIT_SINKS: sinkList,
  /** This process's name in the audit chain (`replica` of every line); default: host name and start time. */
  WARDEN_REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:@/-]{1,128}$/, '1 to 128 of A-Z a-z 0-9 . _ : @ / -')
    .optional(),
  /** Share of allow decisions audited (0–1); denies and admin events are never sampled. */
  WARDEN_AUDIT_ALLOW_SAMPLE: z.coerce.number().min(0).max(1).default(1),
  WARDEN_AUDIT_FILE: z.string().min(1).optional(),
  /** The file is rotated (`audit.jsonl` → `audit.jsonl.1` …) before it would grow past this. */
  WARDEN_AUDIT_FILE_MAX_SIZE: byteSize.default(100 * 1024 * 1024),
  /** Rotated files kept (`.1` … `.N`); 0 truncates instead. */
  WARDEN_AUDIT_FILE_KEEP: z.coerce.number().int().min(0).max(100).default(5),
  /** Rotate at the first write of a new day (UTC) as well as by size. */
  WARDEN_AUDIT_FILE_ROTATE: z.enum(['size', 'daily']).default('size'),
  /** `gzip`: a rotated file is compressed to `audit.jsonl.N.gz` in the background. */
  WARDEN_AUDIT_FILE_COMPRESS: z.enum(['none', 'gzip']).default('none'),
  /** Rotated files whose newest line is older than this are removed (at start and at each rotation). */
  WARDEN_AUDIT_RETENTION: duration.optional(),
  /** Signed checkpoints: a PKCS#8 PEM file (Ed25519 or P-256), or `generate` (an Ed25519 key in the state dir). */
  WARDEN_AUDIT_SIGNING_KEY: z.string().min(1).optional(),
  /** A checkpoint every so many lines, after so long, or both (`1000,60s`); with WARDEN_AUDIT_SIGNING_KEY. */
  WARDEN_AUDIT_CHECKPOINT: checkpointEvery,
  WARDEN_AUDIT_WEBHOOK_URL: absoluteHttpUrl.optional(),
  /** Sent with every webhook POST, e.g. `Authorization: Splunk <token>`. */
  WARDEN_AUDIT_WEBHOOK_AUTH_HEADER: headerLine.optional(),
  /** At most this many events per POST. */
  WARDEN_AUDIT_WEBHOOK_BATCH: positiveInt(500, 100_000),
  /** A partial batch is sent after waiting this long. */
  WARDEN_AUDIT_WEBHOOK_INTERVAL: duration.default(1),
  /** Events waiting (the batch in flight included); past it new events are dropped and counted. */
  WARDEN_AUDIT_WEBHOOK_QUEUE: positiveInt(100_000, 10_000_000),
  /** One POST gives up (and is retried) after this long. */
  WARDEN_AUDIT_WEBHOOK_TIMEOUT: duration.default(10),
  /** The redis sink's stream keeps about this many lines (`XADD … MAXLEN ~`), shared by all replicas. */
  WARDEN_AUDIT_REDIS_MAXLEN: positiveInt(1_000_000, 1_000_000_000),
  /** `false`: no /metrics and no counting on /verify (for measuring what metrics cost). */
  WARDEN_METRICS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Serve /metrics on this port (same HOST) instead of the main port. */
  WARDEN_METRICS_PORT: portNumber(1).optional(),
};

type AuditEnv = z.output<z.ZodObject<typeof auditEnv>>;

/** Sinks that need their variable, a metrics port that is not the main one. */
export function auditEnvCrossCheck(
  env: AuditEnv & { PORT: number },
): { variable: string; message: string }[] {
  const out: { variable: string; message: string }[] = [];
  if (env.WARDEN_AUDIT_SINKS.includes('file') && !env.WARDEN_AUDIT_FILE)
    out.push({ variable: 'WARDEN_AUDIT_FILE', message: 'required with the file sink (WARDEN_AUDIT_SINKS)' });
  if (env.WARDEN_AUDIT_SINKS.includes('webhook') && !env.WARDEN_AUDIT_WEBHOOK_URL)
    out.push({
      variable: 'WARDEN_AUDIT_WEBHOOK_URL',
      message: 'required with the webhook sink (WARDEN_AUDIT_SINKS)',
    });
  if (env.WARDEN_AUDIT_WEBHOOK_BATCH > env.WARDEN_AUDIT_WEBHOOK_QUEUE)
    out.push({
      variable: 'WARDEN_AUDIT_WEBHOOK_BATCH',
      message: `larger than WARDEN_AUDIT_WEBHOOK_QUEUE (${env.WARDEN_AUDIT_WEBHOOK_QUEUE})`,
    });
  if (env.WARDEN_METRICS_PORT !== undefined && env.WARDEN_METRICS_PORT === env.PORT)
    out.push({
      variable: 'WARDEN_METRICS_PORT',
      message: 'must differ from PORT (leave it unset to serve /metrics on PORT)',
    });
  if (env.WARDEN_METRICS_PORT !== undefined && !env.WARDEN_METRICS)
    out.push({ variable: 'WARDEN_METRICS_PORT', message: 'set, but WARDEN_METRICS=false turns metrics off' });
  return out;
}
