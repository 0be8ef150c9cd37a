// Checks around the measurement: before, every warden really authorises through nginx (and Redis
// holds the limits); after, warden + Redis answered from Redis throughout and the decision cache answered.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { frontPort, isWarden, type Config, type Credential, type Ports, type Target } from './configs.js';
import { fail, run } from './proc.js';
import { metricSum, redisCli } from './servers.js';
import type { WrkResult } from './wrk.js';

/** Through the nginx front server at `port`, the warden behind it really authorises. */
async function preflightWarden(
  label: string,
  port: number,
  path: string,
  credential: Record<string, string>,
) {
  const base = `http://127.0.0.1:${port}`;
  const withKey = await fetch(`${base}/api/_whoami`, { headers: credential });
  const whoami = (await withKey.text()).trim();
  if (withKey.status !== 200 || whoami !== 'bench|developer')
    fail(
      `${label} pre-flight: with the credential expected 200 "bench|developer" at the app, got ${withKey.status} "${whoami}"`,
    );
  const without = await fetch(`${base}${path}`);
  await without.arrayBuffer();
  if (without.status !== 401) fail(`${label} pre-flight: without a key expected 401, got ${without.status}`);
  const badKey = await fetch(`${base}${path}`, { headers: { 'X-API-Key': 'wdn_not-a-key' } });
  await badKey.arrayBuffer();
  if (badKey.status !== 401) fail(`${label} pre-flight: with a wrong key expected 401, got ${badKey.status}`);
  process.stdout.write(
    `pre-flight ok: ${label} via nginx → 200 with X-User-ID bench, 401 without a credential or with a wrong key\n`,
  );
}

/** What the pre-flight of the MCP configuration expects refused: a token for another audience, one without scopes. */
export interface ResourceProbe {
  url: string;
  wrongAudience: Record<string, string>;
  unscoped: Record<string, string>;
}

/** Through nginx, the resource rule really binds tokens: the challenges, and the refusals of unbound or unscoped tokens. */
async function preflightResource(label: string, port: number, path: string, r: ResourceProbe) {
  const base = `http://127.0.0.1:${port}`;
  const ask = async (headers: Record<string, string>) => {
    const res = await fetch(`${base}${path}`, { headers });
    await res.arrayBuffer();
    return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '' };
  };
  const metadata = `${new URL(r.url).origin}/.well-known/oauth-protected-resource${new URL(r.url).pathname}`;
  const none = await ask({});
  if (none.status !== 401 || !none.challenge.includes(`resource_metadata="${metadata}"`))
    fail(
      `${label} pre-flight: without a token expected 401 naming ${metadata}, got ${none.status} "${none.challenge}"`,
    );
  const wrong = await ask(r.wrongAudience);
  if (wrong.status !== 401 || !wrong.challenge.includes('error="invalid_token"'))
    fail(
      `${label} pre-flight: the warden JWT token (aud bench) expected 401 invalid_token, got ${wrong.status} "${wrong.challenge}"`,
    );
  const unscoped = await ask(r.unscoped);
  if (unscoped.status !== 403 || !unscoped.challenge.includes('error="insufficient_scope"'))
    fail(
      `${label} pre-flight: a bound token without scopes expected 403 insufficient_scope, got ${unscoped.status} "${unscoped.challenge}"`,
    );
  process.stdout.write(
    `pre-flight ok: ${label} via nginx → 401 with resource_metadata without a token, 401 invalid_token for another audience, 403 insufficient_scope without the scope\n`,
  );
}

/** The pre-flight's consume left a rate-limit counter in Redis: the limits really live there. */
function checkRedisCounters(redisCliBin: string, redisPort: number): void {
  const counters = redisCli(redisCliBin, redisPort, '--scan', '--pattern', 'warden:rl:*')
    .split('\n')
    .filter(Boolean);
  if (counters.length === 0)
    fail(
      `warden + Redis pre-flight: no rate-limit counter in Redis after an authorised request (redis-cli --scan --pattern 'warden:rl:*' is empty)`,
    );
  process.stdout.write(`pre-flight ok: Redis holds the limit counters (${counters.join(', ')})\n`);
}

export interface PreflightSettings {
  path: string;
  ports: Ports;
  targets: readonly Target[];
  configs: readonly Config[];
  /** The request headers of each credential kind. */
  headers: Record<Credential, Record<string, string>>;
  /** The MCP configuration's refusals, when it is measured. */
  resource: ResourceProbe | null;
  redisCli: string;
}

/** Each warden really authorises through nginx; every front server answers the app's "ok". */
export async function preflight(s: PreflightSettings): Promise<void> {
  for (const t of s.targets.filter(isWarden)) {
    await preflightWarden(t.answer.name, s.ports.front[t.id], s.path, s.headers[t.answer.credential]);
    if (t.answer.redis) checkRedisCounters(s.redisCli, s.ports.redis);
    if (t.answer.policy === 'mcp') {
      if (!s.resource) fail(`${t.answer.name} pre-flight: no resource to probe`);
      await preflightResource(t.answer.name, s.ports.front[t.id], s.path, s.resource);
    }
  }
  for (const c of s.configs) {
    const r = await fetch(`http://127.0.0.1:${frontPort(s.ports, c.front)}${s.path}`, {
      headers: s.headers.apiKey,
    });
    const body = await r.text();
    if (r.status !== 200 || body !== 'ok\n')
      fail(`pre-flight ${c.id}: expected 200 "ok", got ${r.status} ${JSON.stringify(body)}`);
  }
}

export interface RedisCheck {
  version: string;
  commands: number;
  requests: number;
  commandsPerRequest: number;
  errors: number;
  insuranceDecisions: number;
  /** The results line. */
  line: string;
}

/** warden + Redis must have answered from Redis throughout, not from its in-memory insurance limiter. */
export async function checkRedis(
  wardenPort: number,
  redisServerBin: string,
  rounds: readonly WrkResult[],
  commands: number,
  problems: string[],
): Promise<RedisCheck> {
  const [up, errors, insurance] = await Promise.all([
    metricSum(wardenPort, 'warden_redis_up'),
    metricSum(wardenPort, 'warden_redis_errors_total'),
    metricSum(wardenPort, 'warden_rate_limit_insurance_total'),
  ]);
  if (up !== 1) problems.push(`warden + Redis: warden_redis_up is ${up} after the run, expected 1`);
  if (errors > 0) problems.push(`warden + Redis: ${errors} Redis errors during the run`);
  if (insurance > 0)
    problems.push(
      `warden + Redis: ${insurance} rate-limit decisions taken by the in-memory insurance limiter (Redis too slow or away)`,
    );
  const requests = rounds.reduce((n, r) => n + r.requests, 0);
  const version = /v=(\S+)/.exec(run(redisServerBin, ['--version']))?.[1] ?? 'unknown';
  const line = `- warden + Redis: redis-server ${version} on 127.0.0.1 (no persistence), other Redis settings at their defaults; ${commands} commands processed by Redis during its measured rounds, counting those inside Lua scripts (${(commands / requests).toFixed(2)} per request); Redis errors ${errors}, insurance-limiter decisions ${insurance}`;
  return {
    version,
    commands,
    requests,
    commandsPerRequest: commands / requests,
    errors,
    insuranceDecisions: insurance,
    line,
  };
}

export interface CacheCheck {
  decisions: number;
  requests: number;
  line: string;
}

/** The decision cache really answered: warden (its audit file) saw a small fraction of the requests. */
export function checkCache(
  tmp: string,
  rounds: readonly WrkResult[],
  warmup: number,
  problems: string[],
): CacheCheck {
  const decisions = readFileSync(join(tmp, 'wardencache', 'audit.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"decision"')).length;
  const requests = rounds.reduce((n, r) => n + r.requests, 0) + (warmup > 0 ? 1 : 0);
  const line = `- warden, decision cache: warden took ${decisions} decisions for ${requests} requests through nginx (the rest answered from nginx's cache; the rule allows reuse for 5 s)`;
  if (decisions > requests / 10)
    problems.push(
      `warden, decision cache: ${decisions} decisions for ${requests} requests: the cache did not answer`,
    );
  return { decisions, requests, line };
}
