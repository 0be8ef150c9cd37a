// `warden explain`: one request, the decision /verify would take, and the trace behind it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { compileKeys, type KeyTable } from '../auth/apikey.js';
import { claimsMapping } from '../auth/claims.js';
import type { AuthError } from '../auth/errors.js';
import type { Identity } from '../auth/identity.js';
import { readCredentials } from '../auth/credentials.js';
import { JwtAuthenticator, JwtVerifier } from '../auth/jwt.js';
import { resourceAudiences } from '../auth/token-grant.js';
import { HeaderMap } from '../http/header-map.js';
import type { Address } from '../request/client-ip.js';
import { configFailure, type Out } from './cli-io.js';
import { loadConfig, type Config } from '../config/load.js';
import { compilePolicy, type CompiledPolicy } from '../policy/compile.js';
import type { Clock } from '../util/clock.js';
import { closest } from '../util/closest.js';
import { EvalInputError, evaluate, type Evaluation, type SignInFacts } from './evaluate.js';
import { withStoredKey } from './keys-store-command.js';
import { signInFacts } from './sign-in-facts.js';
import { formatExplanation } from './explain-format.js';
import { toolCallBody } from './policy-test-schema.js';

/** The loaded policy and keys, compiled as a server would compile them. */
export interface Loaded {
  config: Config;
  policy: CompiledPolicy;
  keys: KeyTable;
}

/** Load env, policy and keys like `warden serve`; on a config error print every problem and return the exit code 2. */
export async function loadForTooling(io: Out): Promise<Loaded | number> {
  try {
    const config = await loadConfig(process.env, { fetch });
    return { config, policy: compilePolicy(config.policy), keys: compileKeys(config.keys) };
  } catch (e) {
    return configFailure(e, io);
  }
}

/** Check a bearer token as /verify would (fetching the issuer's keys now); exit code 2 when no issuer is configured. */
async function verifyToken(
  loaded: Loaded,
  token: string,
  io: Out,
  clock: Clock,
): Promise<Identity | AuthError | number> {
  const env = loaded.config.env;
  if (loaded.config.issuers.length === 0) {
    io.err('warden explain: --jwt needs WARDEN_JWT_ISSUERS (no issuer is trusted)\n');
    return 2;
  }
  const verifier = new JwtVerifier(loaded.config.issuers, {
    refreshMs: env.WARDEN_JWKS_REFRESH * 1000,
    cooldownMs: 0,
    timeoutMs: env.WARDEN_JWKS_TIMEOUT * 1000,
    fetch,
    now: () => clock.now(),
  });
  const mapping = claimsMapping(loaded.config.policy);
  const audiences = resourceAudiences(loaded.policy.resources.values());
  const auth = new JwtAuthenticator(verifier, mapping, null, 0, audiences);
  const headers = HeaderMap.fromRaw(['authorization', `Bearer ${token}`]);
  const peer: Address = { ip: '127.0.0.1', family: 'ipv4' };
  const req = {
    method: 'GET',
    proto: 'https',
    host: '',
    authority: '',
    path: '/',
    matchPath: '/',
    altMatchPaths: null,
    rawUri: '/',
    clientIp: peer,
    peer,
    headers,
  };
  const r = await auth.authenticate(readCredentials(req), clock.now());
  if (r === null) {
    io.err('warden explain: --jwt is not shaped like a JWT (header.payload.signature)\n');
    return 2;
  }
  return r;
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** `--header 'Name: value'` flags as lower-case names to values; 2 for one that is not a header. */
function headerFlags(flags: readonly string[], io: Out): Record<string, string> | number {
  const headers: Record<string, string> = {};
  for (const h of flags) {
    const colon = h.indexOf(':');
    if (colon <= 0) {
      io.err(`warden explain: --header must be "Name: value" (got "${h}")\n`);
      return 2;
    }
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * The body to judge: `--body FILE` (JSON-RPC as the proxy forwards it), or `--tool NAME` (a
 * `tools/call` of that tool); null for none, 2 for unusable input.
 */
function mcpBody(
  values: { body?: string; tool?: string; resource?: string; scopes?: string },
  io: Out,
): string | null | number {
  if (values.body !== undefined && values.tool !== undefined) {
    io.err('warden explain: give --body or --tool, not both\n');
    return 2;
  }
  if (values.scopes !== undefined && values.resource === undefined) {
    io.err('warden explain: --scopes describes a token for a resource: add --resource <id> (and --roles)\n');
    return 2;
  }
  if (values.tool !== undefined) return toolCallBody(values.tool);
  if (values.body === undefined) return null;
  try {
    return readFileSync(values.body === '-' ? 0 : values.body, 'utf8');
  } catch (e) {
    io.err(`warden explain: --body: cannot read ${values.body}: ${(e as Error).message}\n`);
    return 2;
  }
}

/** `--acr`, `--amr`, `--auth-time`: how the synthetic person signed in; 2 for unusable input. */
function signInFlags(
  values: { acr?: string; amr?: string; 'auth-time'?: string; roles?: string; key?: string; jwt?: string },
  now: number,
  io: Out,
): SignInFacts | undefined | number {
  const facts = signInFacts(
    {
      acr: values.acr,
      amr: values.amr === undefined ? undefined : list(values.amr),
      authTime: values['auth-time'],
    },
    now,
  );
  if (typeof facts === 'string') {
    io.err(`warden explain: --auth-time: ${facts}\n`);
    return 2;
  }
  if (facts !== undefined && values.roles === undefined) {
    io.err(
      'warden explain: --acr, --amr and --auth-time describe a signed-in person: add --roles (a key or a real token carries its own)\n',
    );
    return 2;
  }
  return facts;
}

/** A role the policy does not define grants nothing: say so, since it is most likely a typo. */
function warnUnknownRoles(config: Config, roles: string[], io: Out): void {
  const known = Object.keys(config.policy.roles);
  for (const r of roles.filter((r) => !known.includes(r))) {
    const near = closest(r, known);
    io.err(
      `warden explain: warning: role "${r}" is not in the policy, it grants nothing${near ? ` (did you mean ${near}?)` : ''}; roles: ${known.join(', ') || 'none'}\n`,
    );
  }
}

/** The --url, which must be an absolute http(s) URL; 2 (after saying why) when it is missing or not one. */
function checkedUrl(url: string | undefined, io: Out): string | number {
  if (!url) {
    io.err('warden explain: --url is required (e.g. --url https://api.example.com/api/nodes)\n');
    return 2;
  }
  if (!/^https?:\/\/[^/?#]/i.test(url)) {
    io.err(
      `warden explain: --url must be an absolute http(s) URL such as https://api.example.com/api/nodes (got "${url}")\n`,
    );
    return 2;
  }
  return url;
}

/** The method: a tools/call (--tool) is a POST unless --method says otherwise. */
function methodOf(args: readonly string[], values: { method: string; tool?: string }): string {
  const given = args.some((a) => a === '--method' || a.startsWith('--method='));
  return (values.tool !== undefined && !given ? 'POST' : values.method).toUpperCase();
}

/** What the evaluation could not see: stored keys asked or not, revocations, shadow mode. */
function contextNotes(
  loaded: Loaded,
  e: Evaluation,
  storedNote: string | null,
  tokenGiven: boolean,
): string[] {
  const notes = storedNote === null ? [] : [storedNote];
  if (tokenGiven) notes.push("token revocations are not consulted (they live in the running servers' store)");
  if (
    loaded.config.env.WARDEN_MODE === 'shadow' &&
    e.outcome.decision !== 'allow' &&
    e.outcome.reason !== 'bad_forwarded_context'
  ) {
    notes.push('WARDEN_MODE=shadow: /verify allows this request and audits decision "would-deny"');
  }
  return notes;
}

/** Run `warden explain` at `clock`'s time; returns the exit code (0 whatever the decision, 2 for bad input). */
export async function explainCommand(args: string[], io: Out, clock: Clock): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      method: { type: 'string', default: 'GET' },
      url: { type: 'string' },
      ip: { type: 'string' },
      key: { type: 'string' },
      roles: { type: 'string' },
      jwt: { type: 'string' },
      header: { type: 'string', multiple: true },
      body: { type: 'string' },
      tool: { type: 'string' },
      resource: { type: 'string' },
      scopes: { type: 'string' },
      acr: { type: 'string' },
      amr: { type: 'string' },
      'auth-time': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const body = mcpBody(values, io);
  if (typeof body === 'number') return body;
  const url = checkedUrl(values.url, io);
  if (typeof url === 'number') return url;
  const headers = headerFlags(values.header ?? [], io);
  if (typeof headers === 'number') return headers;
  const signIn = signInFlags(values, clock.now(), io);
  if (typeof signIn === 'number') return signIn;
  const loaded = await loadForTooling(io);
  if (typeof loaded === 'number') return loaded;
  if (values.roles !== undefined) warnUnknownRoles(loaded.config, list(values.roles), io);
  let verified: Identity | AuthError | undefined;
  if (values.jwt !== undefined) {
    const v = await verifyToken(loaded, values.jwt, io, clock);
    if (typeof v === 'number') return v;
    verified = v;
  }
  const stored =
    values.key !== undefined
      ? await withStoredKey(loaded.config, loaded.keys, values.key, clock)
      : { keys: loaded.keys, note: null };
  let e;
  try {
    e = evaluate(
      loaded.policy,
      stored.keys,
      {
        method: methodOf(args, values),
        url,
        ...(values.ip !== undefined ? { ip: values.ip } : {}),
        headers,
        ...(values.key !== undefined ? { key: values.key } : {}),
        ...(values.roles !== undefined ? { roles: list(values.roles) } : {}),
        ...(verified !== undefined ? { verified } : {}),
        ...(values.resource !== undefined
          ? { token: { resource: values.resource, scopes: list(values.scopes ?? '') } }
          : {}),
        ...(body !== null ? { body } : {}),
        ...(signIn !== undefined ? { signIn } : {}),
      },
      clock.now(),
    );
  } catch (err) {
    if (err instanceof EvalInputError) {
      io.err(`warden explain: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  e.notes.push(...contextNotes(loaded, e, stored.note, verified !== undefined));
  io.out(values.json ? JSON.stringify(e, null, 2) + '\n' : formatExplanation(loaded.config.policy, e));
  return 0;
}
