// zod schema of the environment: the only place that knows variable names and defaults.
import { z } from 'zod';
import { byteSize } from '../util/byte-size.js';
import { duration } from '../util/duration.js';
import { cidrList } from './cidr-list.js';
import { absoluteHttpUrl, headerLine, portNumber } from './env-values.js';
import { auditEnv, auditEnvCrossCheck } from './audit-env.js';
import { signInCrossCheck, signInEnvShape } from './sign-in-schema.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const hostPortList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'each entry is host:port')
          .transform((hp) => {
            const colon = hp.lastIndexOf(':');
            return { host: hp.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(hp.slice(colon + 1)) };
          }),
      )
      .nonempty('list at least one host:port'),
  );

/** Environment variables warden reads, with their defaults (README.md, "Configuration"). */
export const envSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: portNumber().default(8080),
  WARDEN_POLICY: z.string().min(1).default('rbac/policy.yaml'),
  WARDEN_POLICY_AUTH_HEADER: headerLine.optional(),
  WARDEN_POLICY_REFRESH: duration.default(30),
  WARDEN_API_KEYS: z.string().min(1).default('rbac/keys.yaml'),
  /** `redis`: API keys are also stored in Redis, created through `POST /admin/keys` or `warden keys create --store`. */
  WARDEN_KEYS_STORE: z.enum(['file', 'redis']).default('file'),
  WARDEN_TRUSTED_PROXIES: z
    .string()
    .default('127.0.0.0/8,::1')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    )
    .pipe(cidrList),
  WARDEN_PROXY: z.enum(['traefik', 'caddy', 'nginx', 'envoy']).default('traefik'),
  /** `shadow`: allow every request, audit what would have been denied as `would-deny`. */
  WARDEN_MODE: z.enum(['enforce', 'shadow']).default('enforce'),
  WARDEN_LOGIN_URL: absoluteHttpUrl.optional(),
  WARDEN_SHUTDOWN_TIMEOUT: duration.default(10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL')
    .optional(),
  WARDEN_REDIS_SENTINELS: hostPortList.optional(),
  WARDEN_REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  WARDEN_REDIS_CLUSTER_NODES: hostPortList.optional(),
  WARDEN_REDIS_PASSWORD: z.string().min(1).optional(),
  WARDEN_REDIS_TLS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  WARDEN_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_.{}-]{0,64}$/, 'up to 64 characters of [A-Za-z0-9:_.{}-]')
    .default('warden:'),
  WARDEN_REDIS_TIMEOUT: duration.default(0.25),
  WARDEN_REVOCATION_RESYNC: duration.default(30),
  WARDEN_STATE_DIR: z.string().min(1).default('.state'),
  /** Trusted JWT issuers: a JSON array (starts with `[`) or a YAML/JSON file path. */
  WARDEN_JWT_ISSUERS: z.string().min(1).optional(),
  /** Verified tokens remembered, so a repeated token costs a lookup, not a signature check. */
  WARDEN_JWT_CACHE_SIZE: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  /** Key sets are re-fetched in the background when older than this; kept while the endpoint is down. */
  WARDEN_JWKS_REFRESH: duration.default(600),
  /** Least time between two fetches of one key set (an unknown-kid flood costs one fetch per cooldown). */
  WARDEN_JWKS_COOLDOWN: duration.default(30),
  WARDEN_JWKS_TIMEOUT: duration.default(5),
  /** Client-certificate identities: whose headers carry the proxy's mutual-TLS verification result (off by default). */
  WARDEN_CLIENT_CERT: z.enum(['off', 'nginx', 'ingress-nginx', 'traefik']).default('off'),
  /** Signed identity assertion on every allow: a PEM private key file, or `generate` (a key kept in the state dir). */
  WARDEN_ASSERTION_KEY: z.string().min(1).optional(),
  /** Lifetime of an assertion (at most 60 s). */
  WARDEN_ASSERTION_TTL: duration.default(60),
  /** With a generated key: how often a new key is made (the old one stays published until its tokens expire). */
  WARDEN_ASSERTION_ROTATE: duration.default(86_400),
  /** The most of a forwarded body read for per-tool (`mcp`) sub-rules; a larger one is refused `bad_mcp_request`. */
  WARDEN_MCP_MAX_BODY: byteSize.default(1024 * 1024),
  /** The largest keys file read (a platform with a key per customer); policies stay at 4 MiB. */
  WARDEN_MAX_KEYS_BYTES: byteSize.refine((b) => b <= 1024 ** 3, 'at most 1GiB').default(64 * 1024 * 1024),
  LOG_LEVEL: z.enum(LEVELS).default('info'),
  /** Where policy alerts are posted (JSON with a Slack-compatible `text`); unset: alerts are only listed. */
  WARDEN_ALERT_WEBHOOK_URL: absoluteHttpUrl.optional(),
  /** The web console at /console/ (docs/console.md): off unless `true`. */
  WARDEN_CONSOLE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Audit sinks, sampling and metrics (src/config/audit-env.ts). */
  ...auditEnv,
  // Browser sign-in (issue 5): sign-in-schema.ts.
  ...signInEnvShape,
});

/** Parsed environment. */
export type Env = z.output<typeof envSchema>;

/** Cross-variable rules: one Redis mode at most; Sentinel needs a master name. */
export function envCrossCheck(env: Env): { variable: string; message: string }[] {
  const out: { variable: string; message: string }[] = [];
  const modes = [
    env.REDIS_URL && 'REDIS_URL',
    env.WARDEN_REDIS_SENTINELS && 'WARDEN_REDIS_SENTINELS',
    env.WARDEN_REDIS_CLUSTER_NODES && 'WARDEN_REDIS_CLUSTER_NODES',
  ].filter(Boolean);
  if (modes.length > 1)
    out.push({
      variable: String(modes[1]),
      message: `set only one of REDIS_URL, WARDEN_REDIS_SENTINELS, WARDEN_REDIS_CLUSTER_NODES (also set: ${modes[0]})`,
    });
  if (env.WARDEN_REDIS_SENTINELS && !env.WARDEN_REDIS_SENTINEL_NAME)
    out.push({
      variable: 'WARDEN_REDIS_SENTINEL_NAME',
      message: 'required with WARDEN_REDIS_SENTINELS (the master group name)',
    });
  if (env.WARDEN_KEYS_STORE === 'redis' && modes.length === 0)
    out.push({
      variable: 'WARDEN_KEYS_STORE',
      message:
        'redis needs a Redis to store keys in: set REDIS_URL (or WARDEN_REDIS_SENTINELS, WARDEN_REDIS_CLUSTER_NODES)',
    });
  if (env.WARDEN_AUDIT_SINKS.includes('redis') && modes.length === 0)
    out.push({
      variable: 'WARDEN_AUDIT_SINKS',
      message:
        'the redis sink needs a Redis: set REDIS_URL (or WARDEN_REDIS_SENTINELS, WARDEN_REDIS_CLUSTER_NODES)',
    });
  if (env.WARDEN_ASSERTION_TTL > 60 || env.WARDEN_ASSERTION_TTL < 5)
    out.push({
      variable: 'WARDEN_ASSERTION_TTL',
      message: 'between 5s and 60s: an assertion proves a request came through the proxy just now',
    });
  if (env.WARDEN_REDIS_TIMEOUT > 10)
    out.push({
      variable: 'WARDEN_REDIS_TIMEOUT',
      message: 'at most 10s; a slow Redis must cost a fast error, not a stalled request',
    });
  out.push(...auditEnvCrossCheck(env));
  out.push(...signInCrossCheck(env));
  return out;
}
