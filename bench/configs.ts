// The configurations measured: a typed table, the nginx front servers and auth services they need,
// and one named port for each.
import { freePorts } from './proc.js';

/** `mcpBearer`: a bearer token bound to the MCP configuration's resource (`aud` its url, with its scopes). */
export type Credential = 'apiKey' | 'bearer' | 'mcpBearer';

export const TARGET_IDS = [
  'static',
  'nodefloor',
  'warden',
  'wardenbaseline',
  'wardenbare',
  'wardenredis',
  'wardenjwt',
  'wardenjwtbaseline',
  'wardenmcp',
  'wardencache',
] as const;
/** A front server with auth_request (the deploy/nginx recipe), and the auth service behind it. */
export type TargetId = (typeof TARGET_IDS)[number];
export type FrontId = 'noauth' | TargetId;
export type ConfigId = FrontId | 'staticjwt';

/** A warden process: the build it runs and what differs from the plain "warden". */
export interface WardenSpec {
  kind: 'warden';
  /** Its name in messages and pre-flight lines. */
  name: string;
  build: 'current' | 'baseline';
  /**
   * `cached`: the matching rule has `cache: { allow: 5s }` instead of the rate limit. `mcp`: the
   * policy declares a protected resource and the matching rule binds tokens to it (fixtures.ts).
   */
  policy: 'plain' | 'cached' | 'mcp';
  /** Limits in the redis-server started here (REDIS_URL). */
  redis: boolean;
  /** WARDEN_JWT_ISSUERS names the local ES256 issuer. */
  jwtIssuer: boolean;
  env: Readonly<Record<string, string>>;
  /** What its pre-flight sends, and what wrk sends to it. */
  credential: Credential;
}

/** Who answers nginx's auth subrequest: nginx's own `return 200;`, the trivial node server, a warden. */
export type Answer = { kind: 'nginx' } | { kind: 'nodeFloor' } | WardenSpec;

export interface Target {
  id: TargetId;
  /** The nginx upstream name (the recipe's `warden` renamed, except for warden itself). */
  upstream: string;
  /** A comment over its server block in nginx.conf. */
  comment: string;
  /** Behind the recipe's opt-in decision cache. */
  cached: boolean;
  answer: Answer;
}

/** One measured configuration: which front server wrk loads, with which credential. */
export interface Config {
  id: ConfigId;
  label: string;
  front: FrontId;
  credential: Credential;
}

/** What this run includes. */
export interface Features {
  nodeFloor: boolean;
  redis: boolean;
  jwt: boolean;
  cache: boolean;
  baseline: boolean;
}

interface Row {
  config: Config;
  target?: Target;
  when?: (f: Features) => boolean;
}

const warden = (name: string, more: Partial<Omit<WardenSpec, 'kind' | 'name'>> = {}): WardenSpec => ({
  kind: 'warden',
  name,
  build: 'current',
  policy: 'plain',
  redis: false,
  jwtIssuer: false,
  env: {},
  credential: 'apiKey',
  ...more,
});

/** A row whose configuration loads its own front server. */
function authRow(
  id: TargetId,
  label: string,
  target: { upstream: string; comment: string; answer: Answer; cached?: boolean },
  when?: (f: Features) => boolean,
): Row {
  const credential = target.answer.kind === 'warden' ? target.answer.credential : 'apiKey';
  return {
    config: { id, label, front: id, credential },
    target: { id, cached: false, ...target },
    ...(when ? { when } : {}),
  };
}

const BARE_ENV = { WARDEN_AUDIT_SINKS: 'none', WARDEN_METRICS: 'false' };
/** warden as measured: its audit trail chained and sealed by signed checkpoints (default every 1000 lines or 60 s). */
const SIGNED_ENV = { WARDEN_AUDIT_SIGNING_KEY: 'generate' };

/** In measuring order (each round starts one further along). */
const ROWS: readonly Row[] = [
  { config: { id: 'noauth', label: 'no auth', front: 'noauth', credential: 'apiKey' } },
  authRow('static', 'nginx static auth', {
    upstream: 'warden_static',
    comment: "(b) auth_request to nginx's static answer: the recipe, subrequest to the server above",
    answer: { kind: 'nginx' },
  }),
  authRow(
    'nodefloor',
    'trivial node auth',
    {
      upstream: 'warden_nodefloor',
      comment: '(reference) auth_request to a do-nothing Node.js server',
      answer: { kind: 'nodeFloor' },
    },
    (f) => f.nodeFloor,
  ),
  authRow('warden', 'warden', {
    upstream: 'warden',
    comment: '(c) auth_request to warden: the recipe',
    answer: warden('warden', { env: SIGNED_ENV }),
  }),
  authRow(
    'wardenbaseline',
    'warden (baseline)',
    {
      upstream: 'warden_baseline',
      comment: '(c, baseline) auth_request to the baseline build of warden: the recipe',
      answer: warden('warden (baseline)', { build: 'baseline', env: SIGNED_ENV }),
    },
    (f) => f.baseline,
  ),
  authRow('wardenbare', 'warden, audit+metrics off', {
    upstream: 'warden_bare',
    comment: "(c') auth_request to warden with audit and metrics off: the recipe",
    answer: warden('warden, audit+metrics off', { env: BARE_ENV }),
  }),
  authRow(
    'wardenredis',
    'warden + Redis',
    {
      upstream: 'warden_redis',
      comment: '(d) auth_request to warden with Redis-backed limits: the recipe',
      answer: warden('warden + Redis', { redis: true }),
    },
    (f) => f.redis,
  ),
  {
    // nginx's static answer with the bearer token instead of the key: the same front server as 'static'.
    config: {
      id: 'staticjwt',
      label: 'nginx static auth, bearer request',
      front: 'static',
      credential: 'bearer',
    },
    when: (f) => f.jwt,
  },
  authRow(
    'wardenjwt',
    'warden JWT (ES256)',
    {
      upstream: 'warden_jwt',
      comment: '(e) auth_request to warden with a JWT issuer (the client sends a bearer token): the recipe',
      answer: warden('warden JWT', { jwtIssuer: true, credential: 'bearer' }),
    },
    (f) => f.jwt,
  ),
  authRow(
    'wardenjwtbaseline',
    'warden JWT (baseline)',
    {
      upstream: 'warden_jwt_baseline',
      comment: '(e, baseline) auth_request to the baseline build of warden with a JWT issuer: the recipe',
      answer: warden('warden JWT (baseline)', { build: 'baseline', jwtIssuer: true, credential: 'bearer' }),
    },
    (f) => f.jwt && f.baseline,
  ),
  authRow(
    'wardenmcp',
    'warden MCP (resource-bound JWT)',
    {
      upstream: 'warden_mcp',
      comment:
        '(g) auth_request to warden with a protected resource: the matching rule binds the bearer token to it (aud, scopes): the recipe',
      answer: warden('warden MCP', { policy: 'mcp', jwtIssuer: true, credential: 'mcpBearer' }),
    },
    (f) => f.jwt,
  ),
  authRow(
    'wardencache',
    'warden, decision cache',
    {
      upstream: 'warden_cache',
      comment: "(f) auth_request to warden, decisions reused by the recipe's opt-in decision cache",
      answer: warden('warden (decision cache)', { policy: 'cached' }),
      cached: true,
    },
    (f) => f.cache,
  ),
];

export interface Plan {
  /** In measuring order. */
  configs: Config[];
  /** In nginx.conf order. */
  targets: Target[];
}

/** The configurations and front servers of a run with these features. */
export function plan(f: Features): Plan {
  const rows = ROWS.filter((r) => !r.when || r.when(f));
  return {
    configs: rows.map((r) => r.config),
    targets: rows.flatMap((r) => (r.target ? [r.target] : [])),
  };
}

export const isWarden = (t: Target): t is Target & { answer: WardenSpec } => t.answer.kind === 'warden';

/** Every port of a run, by name. */
export interface Ports {
  /** The application (nginx `return 200 "ok"`). */
  app: number;
  /** The front server without auth. */
  noauth: number;
  redis: number;
  /** The nginx front server of each target. */
  front: Record<TargetId, number>;
  /** The auth service of each target (for `static`, nginx's `return 200;` server). */
  auth: Record<TargetId, number>;
}

export async function allocatePorts(): Promise<Ports> {
  const p = await freePorts([
    'app',
    'noauth',
    'redis',
    ...TARGET_IDS.map((id) => `front:${id}` as const),
    ...TARGET_IDS.map((id) => `auth:${id}` as const),
  ]);
  const byTarget = (kind: 'front' | 'auth') =>
    Object.fromEntries(TARGET_IDS.map((id) => [id, p[`${kind}:${id}`]])) as Record<TargetId, number>;
  return { app: p.app, noauth: p.noauth, redis: p.redis, front: byTarget('front'), auth: byTarget('auth') };
}

export const frontPort = (ports: Ports, front: FrontId): number =>
  front === 'noauth' ? ports.noauth : ports.front[front];
