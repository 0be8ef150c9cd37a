// zod schema of the environment: the only place that knows variable names and defaults.
import { z } from 'zod';
import { cidrList, duration } from './policy-schema.js';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const absoluteHttpUrl = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.host !== '';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

const headerLine = z
  .string()
  .regex(/^[A-Za-z0-9-]+:[^\r\n\x00]*$/, 'must be one header line like "Authorization: Bearer x"');

/** Environment variables warden reads, with CONTRACT.md defaults. */
export const envSchema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  WARDEN_POLICY: z.string().min(1).default('rbac/policy.yaml'),
  WARDEN_POLICY_AUTH_HEADER: headerLine.optional(),
  WARDEN_POLICY_REFRESH: duration.default(30),
  WARDEN_API_KEYS: z.string().min(1).default('rbac/keys.yaml'),
  WARDEN_TRUSTED_PROXIES: z
    .string()
    .default('127.0.0.0/8,::1')
    .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''))
    .pipe(cidrList),
  WARDEN_PROXY: z.enum(['traefik', 'caddy', 'nginx', 'envoy']).default('traefik'),
  WARDEN_LOGIN_URL: absoluteHttpUrl.optional(),
  WARDEN_SHUTDOWN_TIMEOUT: duration.default(10),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .refine(() => false, 'the Redis store is not available in this version of warden; unset REDIS_URL to use the in-process store')
    .optional(),
  LOG_LEVEL: z.enum(LEVELS).default('info'),
});

/** Parsed environment. */
export type Env = z.output<typeof envSchema>;
