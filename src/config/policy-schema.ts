// zod schema of the policy file (docs/policy.md); cross-references checked in superRefine.
import { z } from 'zod';
import { methodsMatching, MCP_METHODS } from '../mcp/names.js';
import { pathPatternSegments } from '../policy/matchers.js';
import { closest } from '../util/closest.js';
import { duration } from '../util/duration.js';
import { resourceKey } from '../util/resource-url.js';
import { cidrList } from './cidr-list.js';
import { isAllowedIdpUrl } from './issuers-schema.js';
import { repeatedField } from './repeats.js';

const PERMISSION = /^(?:\*|[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)*(?::\*)?)$/;
const permission = z
  .string()
  .regex(
    PERMISSION,
    'a permission is `:`-separated segments of [A-Za-z0-9_.-], optionally ending in `:*`, or `*`',
  );
const ROLE = /^[A-Za-z0-9_.-]{1,64}$/;
const roleName = z.string().regex(ROLE, 'a role name is 1-64 characters of [A-Za-z0-9_.-]');

const PATH_PATTERN = /^\/[^\s?#]*$/;
/** `**` segments one path pattern may have: matching costs segments × pattern, and two in a row are one. */
const MAX_DOUBLE_STARS = 8;
const HOST_PATTERN = /^(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d+)?$/;

/**
 * The method tokens that exist: Node 20's http.METHODS (RFC 9110's, PATCH, WebDAV's, QUERY…), written
 * out so the policy schema does not change with the Node version.
 */
const METHODS = (
  'ACL BIND CHECKOUT CONNECT COPY DELETE GET HEAD LINK LOCK M-SEARCH MERGE MKACTIVITY MKCALENDAR MKCOL MOVE ' +
  'NOTIFY OPTIONS PATCH POST PROPFIND PROPPATCH PURGE PUT QUERY REBIND REPORT SEARCH SOURCE SUBSCRIBE TRACE ' +
  'UNBIND UNLINK UNLOCK UNSUBSCRIBE'
).split(' ') as [string, ...string[]];

const httpMethod = z.enum(METHODS, {
  error: (issue) => {
    const m = String(issue.input);
    const near = closest(m, METHODS);
    const hint =
      m !== m.toUpperCase() ? ' (methods are upper-case, like GET)' : near ? ` (did you mean ${near}?)` : '';
    return `${m} is not an HTTP method${hint}`;
  },
});

/** An OAuth scope (RFC 6749 §3.3): printable ASCII without space, `"` or `\`, so it sits in a WWW-Authenticate quoted string as is. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const scope = z.string().regex(SCOPE, 'a scope is 1-128 printable ASCII characters without spaces, " or \\');
const scopes = z.array(scope);

/** A resource url: absolute, `https` (plain `http` only on a loopback host), no credentials, query or fragment. */
export function isResourceUrl(value: string): boolean {
  return isAllowedIdpUrl(value) && !value.includes('?') && !value.includes('#');
}

// eslint-disable-next-line no-control-regex -- refusing control characters is its purpose
const CONTROL = /[\x00-\x1f\x7f]/;

/** An OAuth protected resource (RFC 9728): one per MCP server (or API) whose tokens are bound to it. */
const resource = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a resource id is 1-64 characters of [A-Za-z0-9_.-]'),
  /** The resource identifier clients ask tokens for (RFC 8707 `resource`) and tokens carry in `aud`. */
  url: z
    .string()
    .refine(
      isResourceUrl,
      'an absolute https:// URL (plain http only on a loopback host: localhost, 127.0.0.1, ::1), without credentials, query or fragment',
    ),
  /** Issuers (each one of WARDEN_JWT_ISSUERS) whose tokens for this resource are accepted. */
  authorizationServers: z.array(z.string().min(1)).nonempty(),
  /** `scopes_supported`, and the `scope` of the 401 challenge. */
  scopes: scopes.default([]),
  /** `resource_name`: shown to people by MCP clients. */
  name: z
    .string()
    .min(1)
    .max(256)
    .refine((s) => !CONTROL.test(s), 'no control characters')
    .optional(),
});

const rateLimit = z.strictObject({
  limit: z.number().int().positive(),
  window: duration,
  burst: z.number().int().positive().optional(),
  by: z.enum(['ip', 'identity']).default('ip'),
});

/** What an alert counts: refused credentials, every refused request, or every request. */
export const ALERT_EVENTS = ['auth_failures', 'denials', 'requests'] as const;

/** The longest alert window: counters and their once-per-window marks live in the store this long. */
const MAX_ALERT_WINDOW = 86_400;

const alert = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an alert name is 1-64 characters of [A-Za-z0-9_.-]'),
  on: z.enum(ALERT_EVENTS, {
    error: (issue) =>
      issue.input === undefined
        ? `required: one of ${ALERT_EVENTS.join(', ')}`
        : `${JSON.stringify(issue.input)} is not one of ${ALERT_EVENTS.join(', ')}`,
  }),
  by: z.enum(['ip', 'identity'], {
    error: (issue) =>
      issue.input === undefined
        ? 'required: ip or identity'
        : `${JSON.stringify(issue.input)} is not ip or identity`,
  }),
  threshold: z
    .number({
      error: (issue) =>
        issue.input === undefined ? 'required: a number of events, like 5' : 'a number of events, like 5',
    })
    .int('a whole number of events')
    .min(1, 'at least 1')
    .max(1_000_000_000, 'at most 1000000000'),
  window: duration.refine((s) => s >= 1 && s <= MAX_ALERT_WINDOW, 'between 1s and 24h'),
});

/** `require`: permissions, any one of which grants (a list or `{ any }`), or all of which are needed (`{ all }`). */
const requirement = z.union(
  [
    z.array(permission).nonempty(),
    z.strictObject({ any: z.array(permission).nonempty() }),
    z.strictObject({ all: z.array(permission).nonempty() }),
  ],
  { error: 'require is a list of permissions (any one grants), { any: [...] } or { all: [...] }' },
);

/** A tool name glob: the MCP spec's tool name characters (and `/`, `:`), `*` for any run of them. */
const TOOL_GLOB = /^[A-Za-z0-9_.:/*-]{1,128}$/;
/** A JSON-RPC method glob: `tools/call`, `resources/*`. */
const METHOD_GLOB = /^[A-Za-z0-9_/*]{1,128}$/;

/** A per-tool sub-rule (`mcp:` on a rule): judged on the JSON-RPC body, first match wins. */
const mcpRule = z.strictObject({
  match: z
    .strictObject({
      /** `tools/call` params.name globs. */
      tools: z
        .array(z.string().regex(TOOL_GLOB, 'a tool glob is 1-128 characters of [A-Za-z0-9_.:/-] and *'))
        .nonempty()
        .optional(),
      /** JSON-RPC method globs. */
      methods: z
        .array(z.string().regex(METHOD_GLOB, 'a method glob is 1-128 characters of [A-Za-z0-9_/] and *'))
        .nonempty()
        .optional(),
    })
    .refine((m) => m.tools !== undefined || m.methods !== undefined, 'match names tools, methods or both'),
  require: requirement.optional(),
  deny: z.boolean().optional(),
  /** Scopes a bearer token must also carry for these calls (on a rule with `resource`). */
  scopes: scopes.nonempty().optional(),
});

/** An `acr` or `amr` value: printable, no spaces (acr_values is space-separated). */
const authnValue = z
  .string()
  .regex(/^[\x21-\x7e]{1,256}$/, 'a value of 1-256 printable characters, no spaces');

/** Step-up (RFC 9470): how strongly (acr, amr: any one of each) and how recently (maxAge) the person signed in. */
const authn = z
  .strictObject({
    acr: z.array(authnValue).nonempty().max(64).optional(),
    amr: z.array(authnValue).nonempty().max(64).optional(),
    maxAge: duration
      .refine(
        (s) => s >= 1 && Number.isInteger(s),
        'maxAge is whole seconds, at least 1s (the IdP is asked for max_age in seconds)',
      )
      .refine((s) => s <= 30 * 86400, 'maxAge is at most 30d: longer is no freshness requirement')
      .optional(),
  })
  .refine(
    (a) => a.acr !== undefined || a.amr !== undefined || a.maxAge !== undefined,
    'authn names acr, amr, maxAge or several',
  );

const rule = z.strictObject({
  match: z.strictObject({
    path: z
      .string()
      .max(2048, 'a path pattern is at most 2048 characters')
      .regex(PATH_PATTERN, 'a path pattern starts with / and has no spaces, ? or #')
      .refine(
        (p) => p.split('/').filter((seg) => seg === '**').length <= MAX_DOUBLE_STARS,
        `at most ${MAX_DOUBLE_STARS} "**" in a path pattern: each one multiplies the work of matching`,
      )
      .default('/**'),
    host: z
      .string()
      .max(260, 'a host is a DNS name (at most 253 characters) with an optional *. and :port')
      .regex(HOST_PATTERN, 'a host is a DNS name, optionally *.-prefixed')
      .optional(),
    methods: z.array(httpMethod).nonempty().optional(),
  }),
  public: z.boolean().optional(),
  deny: z.boolean().optional(),
  require: requirement.optional(),
  networks: cidrList.optional(),
  rateLimit: z.string().optional(),
  /** A resource id: bearer tokens must be issued for that resource (audience binding). */
  resource: z.string().optional(),
  /** Scopes a bearer token must all carry (`scope` or `scp`); only with `resource`. */
  scopes: scopes.nonempty().optional(),
  /** Step-up: the person must have signed in this strongly and this recently (sessions and bearer tokens). */
  authn: authn.optional(),
  /** Per-tool sub-rules, judged on the JSON-RPC body the proxy forwards (Traefik forwardBody, Envoy with_request_body). */
  mcp: z.array(mcpRule).nonempty().optional(),
  /** Audit-only: a request this rule would deny is decided by the other rules and audited `would-deny`. */
  shadow: z.boolean().optional(),
  /** Opt-in: how long the proxy may reuse this rule's allow (and 403) for the same credential, method, host and URI. */
  cache: z
    .strictObject({
      allow: z.union([z.literal(0), duration]).default(0),
      deny: z.union([z.literal(0), duration]).default(0),
    })
    .refine(
      (c) => c.allow <= 300 && c.deny <= 300,
      'at most 300s: a revoked credential keeps working at the proxy for this long',
    )
    .optional(),
});

const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const CLAIM_PATH = /^[A-Za-z0-9_:$-]+(?:\.[A-Za-z0-9_:$-]+)*$|^https?:\/\/\S+$/;
/** Headers warden sets itself or that carry protocol meaning: never an extra claim header. */
const RESERVED_HEADERS = new Set([
  'x-user-id',
  'x-user-roles',
  'x-user-name',
  'x-user-email',
  'x-auth-method',
  'remote-user',
  'remote-groups',
  'remote-name',
  'remote-email',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'cache-control',
  'location',
  'set-cookie',
  'www-authenticate',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'x-request-id',
  'host',
  'authorization',
  'cookie',
  'x-api-key',
  'x-real-ip',
  'ssl-client-verify',
  'ssl-client-subject-dn',
  'forwarded',
  'expires',
  'vary',
  'age',
]);
/** Prefixes of headers that proxies and warden give meaning to. */
const RESERVED_PREFIXES = [
  'x-warden-',
  'x-accel-',
  'x-forwarded-',
  'x-original-',
  'x-ssl-client-',
  'x-auth-request-',
  'remote-',
];

/** The policy file as written by users. */
export const policySchema = z.strictObject({
  $schema: z.string().optional(),
  roles: z.record(roleName, z.array(permission)).default({}),
  claims: z
    .strictObject({
      roles: z.string().default('groups'),
      map: z.record(z.string(), roleName).default({}),
    })
    .optional(),
  rateLimits: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), rateLimit).default({}),
  networks: cidrList.optional(),
  /** OAuth protected resources (MCP servers): their metadata, and what binds tokens to them. */
  resources: z.array(resource).default([]),
  rules: z.array(rule).default([]),
  default: z.enum(['deny', 'authenticated']).default('deny'),
  bans: z
    .union([
      z.literal(false),
      z.strictObject({
        failures: z.number().int().min(1).max(1_000_000).default(10),
        window: duration.default(300),
        ban: duration.default(900),
        by: z.enum(['ip']).default('ip'),
      }),
    ])
    .prefault({}),
  /** Thresholds on decisions, counted across replicas, posted to WARDEN_ALERT_WEBHOOK_URL. */
  alerts: z.array(alert).max(100, 'at most 100 alerts').default([]),
  headers: z
    .strictObject({
      preset: z.enum(['warden', 'authelia', 'oauth2-proxy']).default('warden'),
      /** Extra identity headers: header name → dotted claim path (`X-Tenant: tenant_id`). */
      extra: z
        .record(
          z.string().regex(HEADER_NAME, 'a header name is letters, digits and -'),
          z.string().regex(CLAIM_PATH, 'a claim name or dotted path like org.tenant_id'),
        )
        .default({}),
    })
    .optional(),
});

type Issue = { path: (string | number)[]; message: string };

/** Alert names are unique: each is one line on the console and one counter. */
function alertNamesCheck(alerts: unknown): Issue[] {
  if (!Array.isArray(alerts)) return [];
  const seen = new Map<string, number>();
  const out: Issue[] = [];
  alerts.forEach((a: unknown, i) => {
    if (!isRecord(a) || typeof a.name !== 'string') return;
    const first = seen.get(a.name);
    if (first !== undefined)
      out.push({
        path: ['alerts', i, 'name'],
        message: `"${a.name}" is already the name of alerts[${first}]`,
      });
    else seen.set(a.name, i);
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks across fields (undefined rate limits and roles, rule effects, path wildcards), run on
 * the raw document even when the schema fails, so every problem is reported at once.
 */
export function policyCrossCheck(raw: unknown): Issue[] {
  const out: Issue[] = [];
  if (!isRecord(raw)) return out;
  const limits = isRecord(raw.rateLimits) ? raw.rateLimits : {};
  const roles = isRecord(raw.roles) ? raw.roles : {};
  const rules = Array.isArray(raw.rules) ? raw.rules : [];
  out.push(...alertNamesCheck(raw.alerts));
  rules.forEach((r: unknown, i) => {
    if (!isRecord(r)) return;
    if (typeof r.rateLimit === 'string' && !Object.hasOwn(limits, r.rateLimit)) {
      out.push({
        path: ['rules', i, 'rateLimit'],
        message: `rate limit "${r.rateLimit}" is not defined in rateLimits`,
      });
    }
    const kinds = [r.public === true, r.deny === true, r.require !== undefined].filter(Boolean).length;
    if (kinds > 1)
      out.push({ path: ['rules', i], message: 'a rule is at most one of public, deny, require' });
    if (r.authn !== undefined && r.cache !== undefined)
      out.push({
        path: ['rules', i, 'cache'],
        message: "a proxy reuses a decision without the sign-in's age: a rule with authn can't be cached",
      });
    if (r.authn !== undefined && (r.public === true || r.deny === true))
      out.push({
        path: ['rules', i, 'authn'],
        message: 'a public or deny rule signs nobody in: authn applies to rules that need a signed-in user',
      });
    const path = isRecord(r.match) ? r.match.path : undefined;
    if (typeof path === 'string') {
      try {
        pathPatternSegments(path);
      } catch (e) {
        out.push({ path: ['rules', i, 'match', 'path'], message: (e as Error).message });
      }
    }
  });
  const extra = isRecord(raw.headers) && isRecord(raw.headers.extra) ? raw.headers.extra : {};
  const seenExtra = new Map<string, string>();
  for (const name of Object.keys(extra)) {
    const lower = name.toLowerCase();
    if (RESERVED_HEADERS.has(lower) || RESERVED_PREFIXES.some((p) => lower.startsWith(p)))
      out.push({
        path: ['headers', 'extra', name],
        message: `${name} is set by warden, a proxy or HTTP itself; choose another header name`,
      });
    const twin = seenExtra.get(lower);
    if (twin !== undefined)
      out.push({
        path: ['headers', 'extra', name],
        message: `${name} and ${twin} are one header (names are case-insensitive)`,
      });
    seenExtra.set(lower, name);
  }
  const map = isRecord(raw.claims) && isRecord(raw.claims.map) ? raw.claims.map : {};
  for (const [group, role] of Object.entries(map)) {
    if (typeof role === 'string' && !Object.hasOwn(roles, role))
      out.push({ path: ['claims', 'map', group], message: `role "${role}" is not defined in roles` });
  }
  out.push(...resourceIssues(raw.resources, rules));
  rules.forEach((r: unknown, i) => {
    if (isRecord(r)) out.push(...mcpIssues(r, i));
  });
  return out;
}

/**
 * Sub-rules: on a rule that lets requests through, each one effect, method globs that name MCP
 * methods, tools only with `tools/call`, and scopes only where tokens are bound to a resource.
 */
function mcpIssues(r: Record<string, unknown>, i: number): Issue[] {
  const out: Issue[] = [];
  if (r.mcp === undefined) return out;
  if (r.deny === true)
    out.push({
      path: ['rules', i, 'mcp'],
      message: 'a deny rule lets nothing through: mcp sub-rules never apply',
    });
  if (r.cache !== undefined)
    out.push({
      path: ['rules', i, 'cache'],
      message: "a proxy reuses a decision without the body: a rule with mcp sub-rules can't be cached",
    });
  const subs = Array.isArray(r.mcp) ? r.mcp : [];
  subs.forEach((sub: unknown, j) => {
    if (!isRecord(sub)) return;
    const at = ['rules', i, 'mcp', j];
    if (sub.deny === true && sub.require !== undefined)
      out.push({ path: at, message: 'a sub-rule is at most one of deny, require' });
    if (sub.scopes !== undefined && r.resource === undefined)
      out.push({
        path: [...at, 'scopes'],
        message: 'scopes apply to tokens issued for a resource: add resource: <id> to the rule',
      });
    const match = isRecord(sub.match) ? sub.match : {};
    const methods = Array.isArray(match.methods) ? match.methods : [];
    methods.forEach((m: unknown, k) => {
      if (typeof m !== 'string' || methodsMatching(m).length > 0) return;
      const near = closest(m, MCP_METHODS);
      out.push({
        path: [...at, 'match', 'methods', k],
        message: `"${m}" is no MCP method${near ? ` (did you mean "${near}"?)` : ''}`,
      });
    });
    if (
      match.tools !== undefined &&
      methods.length > 0 &&
      !methods.some((m) => methodsMatching(String(m)).includes('tools/call'))
    )
      out.push({
        path: [...at, 'match', 'tools'],
        message: 'tools are judged on tools/call calls: add tools/call to methods, or drop methods',
      });
  });
  return out;
}

/**
 * Resources are told apart by id and by url (the metadata a host and path serve); a rule's
 * `resource` names one of them, on a rule that takes credentials; `scopes` come with a `resource`.
 */
function resourceIssues(resources: unknown, rules: readonly unknown[]): Issue[] {
  const out: Issue[] = [
    ...repeatedField(resources, 'id', (id, first) => `resource id "${id}" is already resources[${first}]'s`, {
      prefix: ['resources'],
    }),
    ...repeatedField(
      resources,
      'url',
      (url, first) => `${url} is already resources[${first}]'s url (compared without case or trailing slash)`,
      { prefix: ['resources'], key: resourceKey },
    ),
  ];
  const ids = new Set(
    (Array.isArray(resources) ? resources : []).map((r: unknown) => (isRecord(r) ? r.id : undefined)),
  );
  rules.forEach((r: unknown, i) => {
    if (!isRecord(r)) return;
    if (typeof r.resource === 'string' && !ids.has(r.resource))
      out.push({
        path: ['rules', i, 'resource'],
        message: `resource "${r.resource}" is not defined in resources`,
      });
    if (r.resource !== undefined && (r.public === true || r.deny === true))
      out.push({
        path: ['rules', i, 'resource'],
        message: 'a public or deny rule reads no token: resource binds the tokens of a rule that needs one',
      });
    if (r.scopes !== undefined && r.resource === undefined)
      out.push({
        path: ['rules', i, 'scopes'],
        message: 'scopes apply to tokens issued for a resource: add resource: <id> to this rule',
      });
  });
  return out;
}

/** A validated policy, before compilation. */
export type PolicyFile = z.output<typeof policySchema>;
/** One validated rule. */
export type PolicyRule = PolicyFile['rules'][number];
/** One validated rate limit. */
export type RateLimitSpec = PolicyFile['rateLimits'][string];

/** One alert of the policy, resolved (window in seconds). */
export type AlertSpec = PolicyFile['alerts'][number];
