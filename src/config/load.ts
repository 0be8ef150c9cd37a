// Load env, policy and keys once into a frozen typed Config, collecting every problem before failing.
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { envCrossCheck, envSchema, type Env } from './env-schema.js';
import { splitHeaderLine } from './env-values.js';
import { ConfigError, type ConfigProblem, formatPath, zodProblems } from './errors.js';
import { issuersCrossCheck, issuersSchema, type IssuerConfig } from './issuers-schema.js';
import { keysCrossCheck, keysSchema, type KeysFile } from './keys-schema.js';
import {
  devUsersSchema,
  providersCrossCheck,
  providersSchema,
  type DevUsersFile,
  type ProviderConfig,
} from './sign-in-schema.js';
import { policyCrossCheck, policySchema, type PolicyFile } from './policy-schema.js';
import { parseYaml } from './parse-yaml.js';
import { formatByteSize } from '../util/byte-size.js';
import { internStrings } from '../util/intern.js';

/** Where the policy comes from. */
export type PolicySource =
  { kind: 'file'; path: string } | { kind: 'url'; url: string } | { kind: 'inline'; text: string };

/** Policy and keys as loaded together (what a reload replaces). */
export interface Documents {
  policy: PolicyFile;
  keys: KeysFile;
  /** ETag of a URL policy, for conditional re-fetch. */
  policyEtag?: string;
}

/** Browser sign-in documents. */
export interface SignInDocuments {
  providers: readonly ProviderConfig[];
  devUsers: DevUsersFile['users'];
}

/** The whole validated configuration. */
export interface Config extends Documents {
  env: Env;
  /** Trusted JWT issuers (WARDEN_JWT_ISSUERS); empty when bearer JWTs are not accepted. */
  issuers: readonly IssuerConfig[];
  /** OIDC providers and dev users (browser sign-in); both empty when sign-in is off. */
  signIn: SignInDocuments;
  policySource: PolicySource;
}

/** Side effects the loader needs. */
export interface LoadDeps {
  fetch: typeof fetch;
}

/** Maximum size of a policy or keys document. */
const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/** Parse the environment; throws ConfigError listing every bad variable. */
export function loadEnv(vars: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(vars);
  if (result.success) {
    const cross = envCrossCheck(result.data);
    if (cross.length === 0) return result.data;
    throw new ConfigError(cross.map((c) => ({ source: `env ${c.variable}`, path: '', message: c.message })));
  }
  throw new ConfigError(
    result.error.issues.map((i) => ({
      source: `env ${String(i.path[0] ?? '')}`,
      path: '',
      message: i.message,
    })),
  );
}

/** Classify WARDEN_POLICY: inline JSON, http(s) URL, or file path. */
export function policySourceOf(spec: string): PolicySource {
  const trimmed = spec.trimStart();
  if (trimmed.startsWith('{')) return { kind: 'inline', text: spec };
  if (/^https?:\/\//i.test(trimmed)) return { kind: 'url', url: trimmed };
  return { kind: 'file', path: spec };
}

/** A URL as it may be shown: any user and password replaced. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = 'REDACTED';
      u.password = '';
    }
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Human label of a source for error lines. */
export function policyLabel(src: PolicySource): string {
  if (src.kind === 'file') return `${src.path} (WARDEN_POLICY)`;
  if (src.kind === 'url') return `${redactUrl(src.url)} (WARDEN_POLICY)`;
  return 'inline policy (WARDEN_POLICY)';
}

type Fetched = { text: string; etag?: string } | { notModified: true } | { problem: string };

async function fetchPolicy(env: Env, url: string, deps: LoadDeps, etag?: string): Promise<Fetched> {
  const headers: Record<string, string> = { accept: 'application/json, application/yaml, text/yaml, */*' };
  if (env.WARDEN_POLICY_AUTH_HEADER) {
    const [name, value] = splitHeaderLine(env.WARDEN_POLICY_AUTH_HEADER);
    headers[name] = value;
  }
  if (etag) headers['if-none-match'] = etag;
  try {
    const res = await deps.fetch(url, { headers, redirect: 'error', signal: AbortSignal.timeout(10_000) });
    if (res.status === 304) return { notModified: true };
    if (!res.ok) return { problem: `fetch answered HTTP ${res.status}` };
    const text = await res.text();
    if (text.length > MAX_DOCUMENT_BYTES) return { problem: 'document larger than 4 MiB' };
    const tag = res.headers.get('etag');
    return tag ? { text, etag: tag } : { text };
  } catch (e) {
    // Error texts may quote the URL; never show credentials embedded in it.
    return { problem: `fetch failed: ${(e as Error).message.split(url).join(redactUrl(url))}` };
  }
}

async function readText(
  path: string,
  max = MAX_DOCUMENT_BYTES,
  limit = '4 MiB',
): Promise<{ text: string } | { problem: string }> {
  try {
    const text = await readFile(path, 'utf8');
    if (text.length > max) return { problem: `document larger than ${limit}` };
    return { text };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { problem: err.code === 'ENOENT' ? 'file not found' : `cannot read: ${err.code ?? err.message}` };
  }
}

/** Parse YAML (a superset of JSON) into plain data; problems name line and column. */
function parseText(text: string, source: string, problems: ConfigProblem[]): unknown {
  const r = parseYaml(text);
  if ('value' in r) return r.value;
  const { line, column, message } = r.problem;
  problems.push({ source, path: line === null ? '' : `line ${line}, column ${column ?? 1}`, message });
  return undefined;
}

/**
 * Parse a document and validate it with its schema and its cross-field checks, which run on the
 * raw data even when the schema fails, so every problem is reported. Undefined when any failed.
 */
function validateDocument<S extends z.ZodType>(
  text: string,
  source: string,
  schema: S,
  crossCheck: (raw: unknown) => { path: (string | number)[]; message: string }[],
  problems: ConfigProblem[],
): z.output<S> | undefined {
  const data = parseText(text, source, problems);
  if (data === undefined) return undefined;
  const parsed = schema.safeParse(data);
  if (!parsed.success) problems.push(...zodProblems(source, parsed.error));
  const cross = crossCheck(data).map((i) => ({ source, path: formatPath(i.path), message: i.message }));
  problems.push(...cross);
  return parsed.success && cross.length === 0 ? internStrings(parsed.data) : undefined;
}

/**
 * Load and validate policy and keys. With `previous`, a URL policy is fetched with its
 * `policyEtag`, and one answered 304 keeps `previous.policy`. Throws ConfigError with every
 * problem in both documents.
 */
export async function loadDocuments(env: Env, deps: LoadDeps, previous?: Documents): Promise<Documents> {
  const problems: ConfigProblem[] = [];
  const src = policySourceOf(env.WARDEN_POLICY);
  const policyLabelText = policyLabel(src);
  let policyText: string | undefined;
  let policyEtag: string | undefined;
  let policy: PolicyFile | undefined;
  if (src.kind === 'inline') policyText = src.text;
  else if (src.kind === 'file') {
    const r = await readText(src.path);
    if ('problem' in r) problems.push({ source: policyLabelText, path: '', message: r.problem });
    else policyText = r.text;
  } else {
    const r = await fetchPolicy(env, src.url, deps, previous?.policyEtag);
    if ('notModified' in r && previous) {
      policy = previous.policy;
      policyEtag = previous.policyEtag;
    } else if ('problem' in r) problems.push({ source: policyLabelText, path: '', message: r.problem });
    else if ('text' in r) {
      policyText = r.text;
      policyEtag = r.etag;
    }
  }
  if (policyText !== undefined)
    policy = validateDocument(policyText, policyLabelText, policySchema, policyCrossCheck, problems);

  const keysLabel = `${env.WARDEN_API_KEYS} (WARDEN_API_KEYS)`;
  let keys: KeysFile | undefined;
  const keysRead = await readText(
    env.WARDEN_API_KEYS,
    env.WARDEN_MAX_KEYS_BYTES,
    `${formatByteSize(env.WARDEN_MAX_KEYS_BYTES)} (WARDEN_MAX_KEYS_BYTES)`,
  );
  if ('problem' in keysRead) problems.push({ source: keysLabel, path: '', message: keysRead.problem });
  else keys = validateDocument(keysRead.text, keysLabel, keysSchema, keysCrossCheck, problems);

  if (policy && keys) problems.push(...crossCheck(policy, keys, keysLabel));
  if (problems.length > 0 || !policy || !keys) throw new ConfigError(problems);
  const docs: Documents = policyEtag ? { policy, keys, policyEtag } : { policy, keys };
  return deepFreeze(docs);
}

/** Keys may only name roles and rate limits the policy defines. */
function crossCheck(policy: PolicyFile, keys: KeysFile, source: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  keys.keys.forEach((k, i) => {
    k.roles.forEach((r, j) => {
      if (!Object.hasOwn(policy.roles, r))
        out.push({
          source,
          path: `keys[${i}].roles[${j}]`,
          message: `role "${r}" is not defined in the policy's roles`,
        });
    });
    if (k.rateLimit !== undefined && !Object.hasOwn(policy.rateLimits, k.rateLimit)) {
      out.push({
        source,
        path: `keys[${i}].rateLimit`,
        message: `rate limit "${k.rateLimit}" is not defined in the policy's rateLimits`,
      });
    }
  });
  return out;
}

/**
 * Every authorization server of a resource must be a trusted issuer (WARDEN_JWT_ISSUERS), named
 * exactly as its tokens' `iss`: warden verifies the tokens it issues for the resource.
 */
export function resourceIssuerProblems(
  policy: PolicyFile,
  issuers: readonly string[],
  source: string,
): ConfigProblem[] {
  const known = new Set(issuers);
  const configured =
    issuers.length === 0 ? 'WARDEN_JWT_ISSUERS is not set' : `trusted: ${issuers.join(', ')}`;
  return policy.resources.flatMap((r, i) =>
    r.authorizationServers.flatMap((server, j) =>
      known.has(server)
        ? []
        : [
            {
              source,
              path: `resources[${i}].authorizationServers[${j}]`,
              message: `${server} is not the issuer of any WARDEN_JWT_ISSUERS entry (${configured}); write it exactly as its tokens' iss`,
            },
          ],
    ),
  );
}

/** Load everything once; throws ConfigError listing every problem across env, policy and keys. */
export async function loadConfig(vars: Record<string, string | undefined>, deps: LoadDeps): Promise<Config> {
  let env: Env;
  try {
    env = loadEnv(vars);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Still report the documents' problems: re-read them with the bad variables at their defaults.
    const bad = new Set(e.problems.map((p) => p.source.slice('env '.length)));
    const rest = Object.fromEntries(Object.entries(vars).filter(([k]) => !bad.has(k)));
    const fallback = envSchema.safeParse(rest);
    const more = fallback.success
      ? await loadDocuments(fallback.data, deps).then(
          () => [],
          (d: unknown) => (d instanceof ConfigError ? d.problems : []),
        )
      : [];
    throw new ConfigError([...e.problems, ...more]);
  }
  const [docs, issuers, signIn] = await Promise.allSettled([
    loadDocuments(env, deps),
    loadIssuers(env),
    loadSignIn(env),
  ]);
  if (docs.status === 'rejected' || issuers.status === 'rejected' || signIn.status === 'rejected') {
    const failures = [docs, issuers, signIn].flatMap((r): unknown[] =>
      r.status === 'rejected' ? [r.reason] : [],
    );
    const unexpected = failures.find((e) => !(e instanceof ConfigError));
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what a loader threw, as it was
    if (unexpected !== undefined) throw unexpected;
    throw new ConfigError(failures.flatMap((e) => (e as ConfigError).problems));
  }
  const unknownServers = resourceIssuerProblems(
    docs.value.policy,
    issuers.value.map((i) => i.issuer),
    policyLabel(policySourceOf(env.WARDEN_POLICY)),
  );
  if (unknownServers.length > 0) throw new ConfigError(unknownServers);
  return Object.freeze({
    ...docs.value,
    issuers: issuers.value,
    signIn: signIn.value,
    env,
    policySource: policySourceOf(env.WARDEN_POLICY),
  });
}

/** WARDEN_JWT_ISSUERS: inline JSON array or a YAML/JSON file. Throws ConfigError with every problem. */
export async function loadIssuers(env: Env): Promise<readonly IssuerConfig[]> {
  return (
    (await loadSideDocument(
      env.WARDEN_JWT_ISSUERS,
      'WARDEN_JWT_ISSUERS',
      '[',
      issuersSchema,
      issuersCrossCheck,
    )) ?? []
  );
}

/** The sign-in documents: WARDEN_OIDC_PROVIDERS (inline JSON array or file) and WARDEN_DEV_USERS (file). */
export async function loadSignIn(env: Env): Promise<SignInDocuments> {
  const [providers, devUsers] = await Promise.allSettled([
    loadSideDocument(
      env.WARDEN_OIDC_PROVIDERS,
      'WARDEN_OIDC_PROVIDERS',
      '[',
      providersSchema,
      providersCrossCheck,
    ),
    loadSideDocument(env.WARDEN_DEV_USERS, 'WARDEN_DEV_USERS', '{', devUsersSchema, () => []),
  ]);
  if (providers.status === 'rejected' || devUsers.status === 'rejected') {
    throw new ConfigError(
      [providers, devUsers].flatMap((r) =>
        r.status === 'rejected'
          ? r.reason instanceof ConfigError
            ? r.reason.problems
            : [{ source: 'sign-in', path: '', message: String(r.reason) }]
          : [],
      ),
    );
  }
  return { providers: providers.value ?? [], devUsers: devUsers.value?.users ?? [] };
}

/** A document named by a variable: inline when it starts with `inlineStart`, else a YAML/JSON file. Undefined when unset. */
async function loadSideDocument<S extends z.ZodType>(
  spec: string | undefined,
  variable: string,
  inlineStart: string,
  schema: S,
  crossCheck: (raw: unknown) => { path: (string | number)[]; message: string }[],
): Promise<z.output<S> | undefined> {
  if (spec === undefined) return undefined;
  const inline = spec.trimStart().startsWith(inlineStart);
  const source = inline ? `env ${variable}` : `${spec} (${variable})`;
  const problems: ConfigProblem[] = [];
  let text: string | undefined = spec;
  if (!inline) {
    const r = await readText(spec);
    if ('problem' in r) problems.push({ source, path: '', message: r.problem });
    text = 'text' in r ? r.text : undefined;
  }
  const doc = text === undefined ? undefined : validateDocument(text, source, schema, crossCheck, problems);
  if (doc === undefined) throw new ConfigError(problems);
  return deepFreeze(doc);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Date)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
