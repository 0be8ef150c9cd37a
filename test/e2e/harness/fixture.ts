// The policy, keys and warden settings every proxy e2e suite runs with.
import { join } from 'node:path';
import { HEADER_PRESETS } from '../../../src/http/respond.js';
import { makeDir, removeDir } from '../../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../../helpers/warden.js';

const preset = HEADER_PRESETS.warden;
/** The headers warden sets on allow (default preset), in the recipes' order. */
export const IDENTITY_HEADERS = [
  preset.id,
  preset.roles,
  preset.name,
  preset.email,
  'X-Auth-Method',
] as const;
/**
 * What a proxy copies from warden's allow onto the request where it can do so even when warden
 * omits a header (Traefik authResponseHeaders, ingress-nginx, Envoy Gateway): the identity headers
 * and the signed assertion, so a client's X-Warden-Assertion never reaches the app.
 */
export const FROM_WARDEN_HEADERS = [...IDENTITY_HEADERS, 'X-Warden-Assertion'] as const;

/** Method-override headers: frameworks honour them on POST, warden judges the request's own method. */
export const METHOD_OVERRIDE_HEADERS = [
  'X-HTTP-Method-Override',
  'X-Method-Override',
  'X-HTTP-Method',
] as const;

/** Headers frameworks (or warden's other dialects) take a path or method from. */
export const ROUTING_HEADERS = [
  'X-Original-URL',
  'X-Original-URI',
  'X-Original-Method',
  'X-Rewrite-URL',
  'X-Forwarded-Uri',
  'X-Forwarded-Method',
  'X-Forwarded-Prefix',
] as const;

/** The identity headers of the presets the recipes do not use by default (authelia, oauth2-proxy). */
export const OTHER_PRESET_HEADERS = [
  'Remote-User',
  'Remote-Groups',
  'Remote-Name',
  'Remote-Email',
  'X-Auth-Request-User',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Email',
] as const;

/** A header name and the spellings CGI, WSGI and PHP read as the same (`-` as `_`, or `.`). */
export function spellings(name: string): string[] {
  const parts = name.split('-');
  const out = new Set([name, name.replace(/-/g, '_'), name.replace(/-/g, '.')]);
  for (let i = 1; i < parts.length; i++)
    for (const sep of ['_', '.']) out.add(parts.slice(0, i).join('-') + sep + parts.slice(i).join('-'));
  return [...out];
}

/** The sign-in URL browsers are sent to. */
export const LOGIN_URL = 'https://login.example.com/signin';

/** The Host the recipes serve (nginx server_name, Caddy site). */
export const APP_HOST = 'app.example.com';

/** API keys by name. */
export const KEYS = {
  dev: testKey('dev', ['developer']),
  viewer: testKey('viewer', ['viewer'], { name: 'Vera Viewer' }),
  admin: testKey('admin', ['admin']),
  limited: testKey('limited', ['viewer']),
} as const;

/** A key no keys file holds: sent to see it refused. */
export const BAD_KEY = 'wdn_not_a_key_e2e_0123456789';

/** Every secret the suites send or configure: keys and their hashes. None may appear in a log line. */
export const SECRETS: readonly string[] = [
  ...Object.values(KEYS).flatMap((k) => [k.key, String(k.entry.sha256)]),
  BAD_KEY,
];

/** Rule indexes of {@link policy}, for asserting which rule the audit line names. */
export const RULE = {
  public: 0,
  limited: 1,
  vip: 2,
  admin: 3,
  nodes: 4,
  internal: 5,
  reload: 6,
  api: 7,
} as const;

/** The rate limit of /limited/**: this many requests per minute per identity. */
export const TIGHT_LIMIT = 3;

/** The e2e policy; `reloadPublic` flips the /reload/** rule from deny to public. */
export function policy(reloadPublic = false): Record<string, unknown> {
  return {
    roles: { admin: ['*'], developer: ['nodes:*', 'api:*'], viewer: ['nodes:read'] },
    rateLimits: { tight: { limit: TIGHT_LIMIT, window: '60s', by: 'identity' } },
    rules: [
      { match: { path: '/public/**' }, public: true },
      { match: { path: '/limited/**' }, require: ['nodes:read'], rateLimit: 'tight' },
      { match: { path: '/vip/**' }, require: ['nodes:read'], networks: ['6.6.6.6/32'] },
      { match: { path: '/admin/**' }, require: ['admin:users'] },
      { match: { path: '/nodes/**' }, require: ['nodes:read'] },
      { match: { path: '/internal/**' }, deny: true },
      reloadPublic
        ? { match: { path: '/reload/**' }, public: true }
        : { match: { path: '/reload/**' }, deny: true },
      { match: { path: '/api/**' }, require: ['nodes:read'] },
    ],
    default: 'deny',
  };
}

/** A warden for the e2e suites, with the file its audit stream is also written to. */
export type E2eWarden = TestWarden & { auditFile: string };

/**
 * Start warden as the proxies reach it: on 127.0.0.1, trusting only 127.0.0.1 (the proxy), with a
 * login URL. Its audit stream goes to stdout (captured) and to a file, scanned for secrets after the suite.
 * The file is read after close(), so its dir (`w.dir`, with warden's policy, keys and state) outlives
 * close(): the suite removes it once the scan is done.
 */
export async function startE2eWarden(): Promise<E2eWarden> {
  const dir = makeDir('warden-e2e-');
  const auditFile = join(dir, 'audit.jsonl');
  try {
    const w = await startWarden({
      policy: policy(),
      keys: Object.values(KEYS).map((k) => k.entry),
      env: {
        WARDEN_LOGIN_URL: LOGIN_URL,
        WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
        WARDEN_AUDIT_SINKS: 'stdout,file',
        WARDEN_AUDIT_FILE: auditFile,
      },
      dir,
    });
    return { ...w, auditFile };
  } catch (e) {
    removeDir(dir);
    throw e;
  }
}
