#!/usr/bin/env node
// npm run bench: warden behind nginx auth_request vs nginx's own static auth answer vs no auth.
//
// One nginx (1 worker) with a static upstream and front servers using the deploy/nginx recipe:
//   noauth     — proxy_pass to the static upstream
//   static     — auth_request → an nginx server block answering `return 200;`
//   nodefloor  — auth_request → a do-nothing Node.js http server (reference; BENCH_NODE_FLOOR=0 drops it)
//   warden     — auth_request → warden /verify/nginx (API key, 20-rule policy, memory rate limit)
//   wardenbare — the same warden with its audit trail and metrics off (WARDEN_AUDIT_SINKS=none,
//                WARDEN_METRICS=false): what the audit line and the counters cost, in the same run
//   wardenredis — the same, to a second warden whose limits live in a redis-server started here
//                (REDIS_URL; BENCH_REDIS=0 drops it, skipped with a note when redis-server is missing)
//   wardencache — warden with the matching rule's decisions cached by nginx (policy `cache: { allow: 5s }`,
//                the recipe's opt-in warden-decisions-cached.conf; BENCH_CACHE=0 drops it)
//   wardenjwt  — warden with a JWT issuer, the client sending one repeated ES256 bearer token
//                (BENCH_JWT=0 drops it); the first-verification cost per algorithm is measured in-process
// wrk (1 thread, 32 connections) measures each, rounds interleaved; medians and ratios are printed
// and written to bench/README.md between the results markers. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = join(ROOT, 'bench', 'README.md');
const NGINX = process.env.NGINX_BIN ?? '/usr/sbin/nginx';
const WRK = process.env.WRK_BIN ?? '/usr/bin/wrk';
const DURATION = positiveInt('BENCH_DURATION', 10);
const ROUNDS = positiveInt('BENCH_ROUNDS', 5);
const WARMUP = nonNegativeInt('BENCH_WARMUP', 3);
const THREADS = 1;
const CONNECTIONS = 32;
const PATH = '/api/nodes';
const KEEP_TMP = process.env.BENCH_KEEP_TMP === '1';
// A/B a different warden build, or pass node flags (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
const WARDEN_CLI = process.env.BENCH_WARDEN_CLI ?? join(ROOT, 'dist', 'cli.js');
const WARDEN_NODE_ARGS = (process.env.BENCH_WARDEN_NODE_ARGS ?? '').split(' ').filter(Boolean);
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';
const REDIS_WANTED = process.env.BENCH_REDIS !== '0';
const WITH_JWT = process.env.BENCH_JWT !== '0';
const WITH_CACHE = process.env.BENCH_CACHE !== '0';
// BENCH_LAYOUT: `split` (default with 2+ CPUs and taskset): nginx and wrk on CPU 0, the auth servers
// (warden, the trivial node server) and Redis on CPU 1, for every configuration alike: the proxy's
// core is not shared with the auth service, as in a deployment where warden is a service of its own.
// `shared`: no pinning; nginx, wrk, warden and Redis compete for the same cores (a sidecar on a
// small box). The two layouts keep separate result blocks in bench/README.md.
const LAYOUT =
  process.env.BENCH_LAYOUT ?? (cpus().length >= 2 && existsSync('/usr/bin/taskset') ? 'split' : 'shared');
if (LAYOUT !== 'split' && LAYOUT !== 'shared') fail(`BENCH_LAYOUT must be split or shared, got "${LAYOUT}"`);
const PIN = LAYOUT === 'split';
/** The command and arguments, run under `taskset -c cpu` in the split layout. */
function onCpu(cpu, cmd, args) {
  return PIN ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args];
}

function positiveInt(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got "${v}"`);
  return n;
}
function nonNegativeInt(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

// ---------------------------------------------------------------- children and cleanup

const children = new Set();
let tmp = null;
let cleaned = false;
let keepTmp = KEEP_TMP;

function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGTERM');
      } catch {}
    }
  }
  // nginx's master stops its worker on SIGTERM; give both a moment, then make sure.
  const deadline = Date.now() + 3000;
  for (const child of children) {
    while (
      child.exitCode === null &&
      child.signalCode === null &&
      Date.now() < deadline &&
      isAlive(child.pid)
    )
      sleepSync(50);
    if (isAlive(child.pid)) {
      try {
        child.kill('SIGKILL');
      } catch {}
    }
  }
  if (tmp && !keepTmp) rmSync(tmp, { recursive: true, force: true });
}

function isAlive(pid) {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  if (tmp && !cleaned) {
    keepTmp = true; // logs and configs for the post-mortem
    process.stderr.write(
      `bench: kept ${tmp} (nginx/error.log, <warden>/stderr.log and audit.jsonl, redis/redis.log)\n`,
    );
  }
  cleanup();
  process.exit(1);
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping children\n`);
    cleanup();
    process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
  });
}
process.on('uncaughtException', (e) => fail(e?.stack ?? String(e)));
process.on('unhandledRejection', (e) => fail(e?.stack ?? String(e)));

function track(child, name) {
  children.add(child);
  child.on('exit', (code, signal) => {
    if (!cleaned && name !== 'wrk') fail(`${name} exited unexpectedly (code ${code}, signal ${signal})`);
  });
  return child;
}

// ---------------------------------------------------------------- helpers

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(url, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `status ${res.status}`;
    } catch (e) {
      last = e.cause?.code ?? e.message;
    }
    await sleep(100);
  }
  fail(`${what} not answering at ${url} after ${timeoutMs} ms (${last})`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`;
}

// ---------------------------------------------------------------- processes: warden, redis-server

/**
 * Inherited variables that would point a warden at a Redis (or change its key prefix), or change its
 * audit sinks or metrics: dropped, so that each configuration is exactly what its `extraEnv` says.
 */
const isRedisVar = (name) =>
  name === 'REDIS_URL' ||
  name.startsWith('WARDEN_REDIS_') ||
  name.startsWith('WARDEN_AUDIT_') ||
  name.startsWith('WARDEN_METRICS');

/**
 * Start one warden with its own directory <tmp>/<dir>/ (working directory, so also its state dir):
 * audit stream (stdout, one JSON line per decision) to audit.jsonl, as a real deployment would ship
 * it, ops log (stderr) to stderr.log. All wardens share the policy, keys and nginx dialect; only
 * `extraEnv` decides the store (Redis settings of the calling environment are not passed on).
 * Resolves when /readyz answers 200 (policy loaded, Redis answering if configured).
 */
async function startWarden({ dir, label, port, policyFile, keysFile, extraEnv = {} }) {
  const cwd = join(tmp, dir);
  mkdirSync(cwd, { recursive: true });
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !isRedisVar(name)));
  Object.assign(env, {
    HOST: '127.0.0.1',
    PORT: String(port),
    WARDEN_POLICY: policyFile,
    WARDEN_API_KEYS: keysFile,
    WARDEN_PROXY: 'nginx',
    WARDEN_TRUSTED_PROXIES: '127.0.0.0/8,::1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...extraEnv,
  });
  const stdio = ['ignore', openSync(join(cwd, 'audit.jsonl'), 'w'), openSync(join(cwd, 'stderr.log'), 'w')];
  track(
    spawn(...onCpu(1, process.execPath, [...WARDEN_NODE_ARGS, WARDEN_CLI, 'serve']), { cwd, env, stdio }),
    label,
  );
  await waitFor(`http://127.0.0.1:${port}/readyz`, label);
}

const redisCli = (port, ...args) => run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args]).trim();

/** Start a throw-away redis-server (no persistence) on 127.0.0.1:port, log in <tmp>/redis/; resolves on PONG. */
async function startRedis(port) {
  const cwd = join(tmp, 'redis');
  mkdirSync(cwd, { recursive: true });
  const log = openSync(join(cwd, 'redis.log'), 'w');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  track(spawn(...onCpu(1, REDIS_SERVER, args), { cwd, stdio: ['ignore', log, log] }), 'redis-server');
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    last = redisCli(port, 'ping');
    if (last === 'PONG') return;
    await sleep(100);
  }
  fail(`redis-server not answering PING on port ${port} after 15000 ms (${last})`);
}

/** A counter from redis-cli INFO (e.g. total_commands_processed). */
function redisInfo(port, field) {
  const m = new RegExp(`^${field}:(\\d+)`, 'm').exec(redisCli(port, 'info', 'stats'));
  if (!m) fail(`redis-cli info stats: no ${field}`);
  return Number(m[1]);
}

/** Sum of a Prometheus counter over all its label sets, from warden's /metrics. */
async function metricSum(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'gm');
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Through the nginx front server at `port`, the warden behind it really authorises. */
async function preflightWarden(label, port, credential) {
  const base = `http://127.0.0.1:${port}`;
  const withKey = await fetch(`${base}/api/_whoami`, { headers: credential });
  const whoami = (await withKey.text()).trim();
  if (withKey.status !== 200 || whoami !== 'bench|developer')
    fail(
      `${label} pre-flight: with the credential expected 200 "bench|developer" at the app, got ${withKey.status} "${whoami}"`,
    );
  const without = await fetch(`${base}${PATH}`);
  await without.arrayBuffer();
  if (without.status !== 401) fail(`${label} pre-flight: without a key expected 401, got ${without.status}`);
  const badKey = await fetch(`${base}${PATH}`, { headers: { 'X-API-Key': 'wdn_not-a-key' } });
  await badKey.arrayBuffer();
  if (badKey.status !== 401) fail(`${label} pre-flight: with a wrong key expected 401, got ${badKey.status}`);
  process.stdout.write(
    `pre-flight ok: ${label} via nginx → 200 with X-User-ID bench, 401 without a credential or with a wrong key\n`,
  );
}

// ---------------------------------------------------------------- JWT: a local issuer, and the first-verification cost

/** Serve a JWKS (and OpenID discovery) on 127.0.0.1 for the given public JWKs; resolves to its issuer URL. */
async function startJwksServer(jwks) {
  const server = createHttpServer((req, res) => {
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/jwks` }
        : req.url === '/jwks'
          ? { keys: jwks }
          : null;
    res
      .writeHead(body ? 200 : 404, { 'content-type': 'application/json' })
      .end(body ? JSON.stringify(body) : '');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  const issuer = `http://127.0.0.1:${server.address().port}`;
  return issuer;
}

async function signingKey(alg) {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid: `bench-${alg}`, alg, use: 'sig' } };
}

const mintToken = (key, issuer, claims) =>
  new SignJWT({ aud: 'bench', groups: ['developer'], ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.jwk.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime('3h')
    .sign(key.privateKey);

/** An ES256 issuer for the wardenjwt configuration and one token for the benchmark client (sub "bench"). */
async function startBenchIssuer() {
  const key = await signingKey('ES256');
  const issuer = await startJwksServer([key.jwk]);
  return { issuer, token: await mintToken(key, issuer, { sub: 'bench', jti: 'bench-token' }) };
}

const FIRST_VERIFY_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

/**
 * µs per first-time verification (no cache) per algorithm, in this process with warden's own JwtVerifier
 * (structural checks, routing by iss, jose signature and claim checks): the median of 3 batches of
 * 300 distinct tokens each, after a warm-up batch.
 */
async function firstVerificationCost() {
  const { JwtVerifier } = await import(join(dirname(WARDEN_CLI), 'auth', 'jwt.js'));
  const keys = await Promise.all(FIRST_VERIFY_ALGS.map(signingKey));
  const issuer = await startJwksServer(keys.map((k) => k.jwk));
  const verifier = new JwtVerifier(
    [{ issuer, audience: 'bench', clockToleranceSec: 30, subjectPrefix: '' }],
    { refreshMs: 3_600_000, cooldownMs: 30_000, timeoutMs: 5000, fetch, now: Date.now },
  );
  await verifier.start();
  const out = {};
  for (const key of keys) {
    const batch = async (n, tag) => {
      const tokens = await Promise.all(
        Array.from({ length: n }, (_, i) => mintToken(key, issuer, { sub: `u${i}`, jti: `${tag}-${i}` })),
      );
      const started = process.hrtime.bigint();
      for (const t of tokens) {
        const routed = verifier.route(t);
        if (!routed.issuer)
          fail(`first-verification ${key.alg}: refused before verification (${routed.failure})`);
        await verifier.verify(t, routed, Date.now());
      }
      return Number(process.hrtime.bigint() - started) / 1000 / n;
    };
    await batch(100, 'warm');
    out[key.alg] = median([await batch(300, 'a'), await batch(300, 'b'), await batch(300, 'c')]);
  }
  return out;
}

// ---------------------------------------------------------------- fixtures: policy and keys

function writePolicy(file, { cached = false } = {}) {
  // 19 rules that do not match GET /api/nodes, then the one that does (index 19), with a memory
  // rate limit by identity that never trips. Every rule is evaluated on each request (first match wins).
  const rules = [
    `  - match: { path: /health }\n    public: true\n    rateLimit: health`,
    `  - match: { path: /mcp/** }\n    require: [mcp:use]\n    rateLimit: mcp`,
    `  - match: { path: /nodes/**, methods: [GET, HEAD] }\n    require: [nodes:read]`,
    `  - match: { path: /nodes/** }\n    require: [nodes:write]`,
    `  - match: { host: admin.example.com, path: /** }\n    require: { all: ["admin:users", "admin:audit"] }\n    networks: [10.0.0.0/8, 127.0.0.0/8]`,
    `  - match: { path: /internal/** }\n    deny: true`,
    `  - match: { host: "*.internal.example.com", path: /api/** }\n    require: [api:internal]`,
    `  - match: { path: /api/admin/** }\n    require: { all: ["api:write", "admin:users"] }`,
    `  - match: { path: /api/nodes/*/exec }\n    require: [nodes:exec]`,
    `  - match: { path: /api/nodes, methods: [POST, PUT, PATCH, DELETE] }\n    require: [api:write]\n    rateLimit: api`,
  ];
  for (let i = 0; rules.length < 19; i++) {
    rules.push(`  - match: { path: /svc${i}/** }\n    require: [svc${i}:read]\n    rateLimit: api`);
  }
  // The cached variant: the matching rule lets the proxy reuse its allow for 5 s (a rate-limited
  // decision is never reusable, so it has no limit).
  rules.push(
    cached
      ? `  - match: { path: /api/**, methods: [GET, HEAD] }\n    require: [api:read]\n    cache: { allow: 5s }`
      : `  - match: { path: /api/**, methods: [GET, HEAD] }\n    require: [api:read]\n    rateLimit: bench`,
  );
  if (rules.length !== 20) throw new Error('policy must have 20 rules');
  writeFileSync(
    file,
    `# generated by bench/run.mjs: 20 rules, the matching one last\nroles:\n  admin: ["*"]\n  developer: ["nodes:*", "api:*", "mcp:use"]\n  analyst: ["nodes:read", "api:read", "mcp:use"]\n  viewer: ["nodes:read"]\nrateLimits:\n  api: { limit: 100, window: 60s, by: identity }\n  mcp: { limit: 200, window: 60s, by: identity }\n  health: { limit: 10, window: 1s, burst: 20, by: ip }\n  bench: { limit: 10000000, window: 60s, by: identity }\nrules:\n${rules.join('\n')}\ndefault: deny\n`,
  );
}

function writeKeys(file) {
  const key = `wdn_${randomBytes(32).toString('base64url')}`;
  const sha256 = createHash('sha256').update(key).digest('hex');
  writeFileSync(
    file,
    `keys:\n  - id: bench\n    name: Bench Client\n    sha256: ${sha256}\n    roles: [developer]\n`,
  );
  return key;
}

// ---------------------------------------------------------------- nginx config

// Preferred: the deploy/nginx recipe itself, addresses changed only (as test/e2e does). Both auth
// configurations include the same warden-auth.conf / warden-protect.conf; for nginx's static
// answer only the upstream the subrequest goes to differs. Fallback when the recipe is absent:
// the same subrequest shape written out here.
const RECIPE_DIR = join(ROOT, 'deploy', 'nginx');
const RECIPE_FILES = [
  'warden-upstream.conf',
  'warden-auth.conf',
  'warden-protect.conf',
  'warden-decisions.conf',
  'warden-decisions-cached.conf',
  'warden-cache-zone.conf',
];

function render(text, from, to, file) {
  if (!text.includes(from)) throw new Error(`deploy/nginx/${file}: expected "${from}" to replace`);
  return text.split(from).join(to);
}

/** Write the include files to <prefix>/<dir>/ for each target { dir, upstream, port }; returns what was used. */
function writeAuthIncludes(prefix, targets) {
  for (const t of targets) mkdirSync(join(prefix, t.dir), { recursive: true });
  if (RECIPE_FILES.every((f) => existsSync(join(RECIPE_DIR, f)))) {
    const up = readFileSync(join(RECIPE_DIR, 'warden-upstream.conf'), 'utf8');
    const auth = readFileSync(join(RECIPE_DIR, 'warden-auth.conf'), 'utf8');
    const protect = readFileSync(join(RECIPE_DIR, 'warden-protect.conf'), 'utf8');
    const decisions = readFileSync(join(RECIPE_DIR, 'warden-decisions.conf'), 'utf8');
    const cached = readFileSync(join(RECIPE_DIR, 'warden-decisions-cached.conf'), 'utf8');
    const zone = readFileSync(join(RECIPE_DIR, 'warden-cache-zone.conf'), 'utf8');
    for (const t of targets) {
      let u = render(up, 'server 127.0.0.1:8080', `server 127.0.0.1:${t.port}`, 'warden-upstream.conf');
      let a = render(
        auth,
        'include warden/warden-decisions.conf;',
        `include ${join(prefix, t.dir, 'warden-decisions.conf')};`,
        'warden-auth.conf',
      );
      // The cached configuration opts in as the recipe says: warden-decisions-cached.conf as warden-decisions.conf, plus the zone.
      writeFileSync(join(prefix, t.dir, 'warden-decisions.conf'), t.cached ? cached : decisions);
      if (t.cached)
        writeFileSync(
          join(prefix, t.dir, 'warden-cache-zone.conf'),
          render(zone, '/var/cache/nginx/warden', join(prefix, 'tmp', 'decisions'), 'warden-cache-zone.conf'),
        );
      if (t.upstream !== 'warden') {
        u = render(u, 'upstream warden ', `upstream ${t.upstream} `, 'warden-upstream.conf');
        a = render(a, 'http://warden/', `http://${t.upstream}/`, 'warden-auth.conf');
      }
      writeFileSync(join(prefix, t.dir, 'warden-upstream.conf'), u);
      writeFileSync(join(prefix, t.dir, 'warden-auth.conf'), a);
      writeFileSync(join(prefix, t.dir, 'warden-protect.conf'), protect);
    }
    return 'the deploy/nginx recipe (warden-upstream.conf, warden-auth.conf, warden-decisions.conf, warden-protect.conf; addresses changed only; the cached configuration with warden-decisions-cached.conf and warden-cache-zone.conf)';
  }
  const upstream = (name, port) => `upstream ${name} { server 127.0.0.1:${port}; keepalive 64; }\n`;
  const auth = (name) => `location = /_warden {
    internal;
    proxy_pass http://${name}/verify/nginx;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
}
`;
  const protect = `auth_request /_warden;
auth_request_set $warden_user_id $upstream_http_x_user_id;
auth_request_set $warden_user_roles $upstream_http_x_user_roles;
proxy_set_header X-User-ID $warden_user_id;
proxy_set_header X-User-Roles $warden_user_roles;
proxy_http_version 1.1;
proxy_set_header Connection "";
`;
  for (const t of targets) {
    writeFileSync(join(prefix, t.dir, 'warden-upstream.conf'), upstream(t.upstream, t.port));
    writeFileSync(join(prefix, t.dir, 'warden-auth.conf'), auth(t.upstream));
    writeFileSync(join(prefix, t.dir, 'warden-protect.conf'), protect);
  }
  return 'a built-in auth_request location (deploy/nginx recipe not found)';
}

function nginxConf(p) {
  return `# generated by bench/run.mjs
${process.getuid?.() === 0 ? 'user root;  # as root, workers would switch to nobody' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${p.prefix}/nginx.pid;
error_log ${p.prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${p.prefix}/tmp/body;
    proxy_temp_path ${p.prefix}/tmp/proxy;
    fastcgi_temp_path ${p.prefix}/tmp/fastcgi;
    uwsgi_temp_path ${p.prefix}/tmp/uwsgi;
    scgi_temp_path ${p.prefix}/tmp/scgi;
    default_type text/plain;

${p.targets.map((t) => `    include ${p.prefix}/${t.dir}/warden-upstream.conf;\n${t.cached ? `    include ${p.prefix}/${t.dir}/warden-cache-zone.conf;\n` : ''}`).join('')}    upstream app { server 127.0.0.1:${p.staticPort}; keepalive 32; }

    # the application: a small static answer (and an identity echo for the pre-flight check)
    server {
        listen 127.0.0.1:${p.staticPort};
        location = /api/_whoami { return 200 "$http_x_user_id|$http_x_user_roles\\n"; }
        location / { return 200 "ok\\n"; }
    }

    # nginx's own static auth answer
    server {
        listen 127.0.0.1:${p.staticAuthPort};
        location / { return 200; }
    }

    # (a) no auth
    server {
        listen 127.0.0.1:${p.ports.noauth};
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }

${p.targets
  .map(
    (t) => `
    # ${t.comment}
    server {
        listen 127.0.0.1:${p.ports[t.id]};
        include ${p.prefix}/${t.dir}/warden-auth.conf;
        location / {
            include ${p.prefix}/${t.dir}/warden-protect.conf;
            proxy_pass http://app;
        }
    }
`,
  )
  .join('')}}
`;
}

// ---------------------------------------------------------------- wrk

const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"mean\\":%f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
`;

function wrk(url, seconds, header, script) {
  return new Promise((resolve, reject) => {
    const args = [
      `-t${THREADS}`,
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      '--latency',
      '-H',
      header,
      '-s',
      script,
      url,
    ];
    const child = track(spawn(...onCpu(0, WRK, args), { stdio: ['ignore', 'pipe', 'pipe'] }), 'wrk');
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      children.delete(child);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${err}${out}`));
      const line = out.split('\n').find((l) => l.startsWith('BENCH_JSON '));
      if (!line) return reject(new Error(`wrk output without summary:\n${out}${err}`));
      const j = JSON.parse(line.slice('BENCH_JSON '.length));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? j.requests / (j.duration_us / 1e6));
      const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      resolve({
        rps,
        requests: j.requests,
        non2xx: Math.max(non2xx, j.status),
        socketErrors: j.connect + j.read + j.write + j.timeout,
        p50ms: j.p50 / 1000,
        p99ms: j.p99 / 1000,
        raw: out,
      });
    });
  });
}

// ---------------------------------------------------------------- README

function gitRev() {
  const rev = run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();
  const dirty = run('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src']).trim() !== '';
  return /^[0-9a-f]{4,}$/.test(rev) ? `${rev}${dirty ? ' (src/ modified)' : ''}` : 'unknown';
}

const MARKERS = {
  split: ['<!-- bench:results:start -->', '<!-- bench:results:end -->'],
  shared: ['<!-- bench:results-shared:start -->', '<!-- bench:results-shared:end -->'],
};

const EXPLANATION = `# warden benchmark

\`npm run bench\` measures what warden costs in front of an application when nginx asks it on
every request through \`auth_request\`, against the cheapest possible auth answer: nginx
answering its own auth subrequest with \`return 200;\`; and what sharing its rate limits through
Redis (as replicas do) adds to that.

## What runs

\`bench/run.mjs\` builds warden, then in a temporary directory:

- writes a **20-rule policy** (roles as in \`rbac/policy.yaml\`; 19 rules that do not match the
  benchmark request, then \`/api/**\` GET/HEAD \`require: [api:read]\` with a rate limit
  \`bench\` of 10 000 000 per 60 s by identity, so every request walks all the rules, hashes the
  key, checks the permission and consumes from the rate limiter without ever being limited) and a
  **keys file with one key** (role \`developer\`);
- starts **warden** (\`node dist/cli.js serve\`, \`WARDEN_PROXY=nginx\`, \`LOG_LEVEL=warn\`, no
  \`REDIS_URL\`: limits in the in-process memory store) with its **audit stream (stdout, one JSON
  line per decision) written to a file in the temp directory**, as a real deployment would ship
  it, not to \`/dev/null\`;
- starts a **redis-server** (\`--port <free port> --bind 127.0.0.1 --save "" --appendonly no\`)
  and a second warden, **warden + Redis**: the same policy, keys and settings (its own audit
  file) plus \`REDIS_URL=redis://127.0.0.1:<port>\`, other Redis settings at their defaults. Its
  \`bench\` limit is then a shared Redis counter taken in leases (src/store/lease.ts): warden asks
  Redis (one \`EVALSHA\` of its lease script: \`GET\`, \`PTTL\`, \`INCRBY\` or \`SET PX\`) for up to
  min(64, 1/32 of what the window has left) requests at once and counts them down in memory, so
  with this limit of 10 000 000 about one request in 64 waits for Redis; with a small limit, or
  near the end of any window, every request asks Redis. The results record Redis's commands per request. Redis, audit and metrics variables of the calling environment are passed to no warden.
  \`BENCH_REDIS=0\` leaves this configuration out; without \`redis-server\` or \`redis-cli\` it
  is skipped with a note (printed, and in the results);
- starts **nginx** (\`worker_processes 1\`, \`access_log off\`) with a static application
  server (\`return 200 "ok\\n"\`) and front servers, all proxying to the application over
  a keepalive upstream:
  - **no auth** — plain \`proxy_pass\` (HTTP/1.1, keepalive);
  - **nginx static auth** — the deploy recipe, with its auth subrequest sent to a second nginx
    server answering \`return 200;\`;
  - **warden** — the deploy recipe, subrequest to warden's \`/verify/nginx\`;
  - **warden, audit+metrics off** — the deploy recipe, subrequest to a third warden, the same as
    **warden** but with \`WARDEN_AUDIT_SINKS=none\` and \`WARDEN_METRICS=false\`: no audit line is built
    or written and nothing is counted. *warden / warden, audit+metrics off* is what the audit trail
    and the metrics cost (issue 6: at most 10 %, so target ≥ 0.90), measured in the same run;
  - **warden + Redis** — the deploy recipe, subrequest to the second warden's \`/verify/nginx\`.

  All auth configurations include the files of \`deploy/nginx/\` (\`warden-upstream.conf\`,
  \`warden-auth.conf\`, \`warden-protect.conf\`) with only the addresses (and upstream names)
  changed, exactly as the e2e tests do: the internal location with \`proxy_pass_request_body off\`,
  HTTP/1.1 with \`Connection ""\` to a keepalive upstream, \`X-Original-URL\`,
  \`X-Original-Method\`, \`X-Forwarded-For\`, \`X-Request-ID\`, and the \`auth_request_set\`
  identity headers passed on to the application. So they differ only in who answers the
  subrequest, and nginx talks to both wardens in exactly the same way. (Should the recipe be
  missing, the script falls back to an equivalent built-in location and says so in the results.)
- starts another warden, **warden JWT**: the same policy and keys plus \`WARDEN_JWT_ISSUERS\` naming
  an ES256 issuer whose key set the script serves on 127.0.0.1; wrk sends one ES256 access token
  (\`typ: at+jwt\`, \`groups: [developer]\`, three hours valid) as \`Authorization: Bearer\` on every
  request, so after the first request it is answered from warden's verified-token cache. It is
  compared with **nginx static auth, bearer request**: the same front server as *nginx static
  auth*, with wrk sending the same bearer token instead of the API key, so that both answer the same
  subrequest (target ≥ 0.85 × that). \`BENCH_JWT=0\` leaves it out. After the rounds the script also
  measures, in its own process with warden's \`JwtVerifier\`, the cost of a **first-time
  verification** per algorithm (RS256, PS256, ES256, ES384, EdDSA; distinct tokens, no cache);
- and one more, **warden, decision cache**: the same policy except that the matching
  rule has no rate limit and opts in with \`cache: { allow: 5s }\`, behind the recipe with its
  opt-in decision cache (\`warden-decisions-cached.conf\` as \`warden-decisions.conf\`, and
  \`warden-cache-zone.conf\`): repeated requests are answered from nginx's cache, and warden is asked
  about once per 5 s (the results record how many decisions it took; more than a tenth of the
  requests fails the run). Target > 1.0 × nginx static auth. \`BENCH_CACHE=0\` leaves it out;
- adds a **reference** configuration, *trivial node auth*: the same recipe asking a
  do-nothing Node.js \`http\` server (a constant 200 with the identity headers, no parsing, no
  log). It is not part of the target; it shows how close *any* Node.js auth service can get to
  nginx's static answer on this machine, so that warden's gap splits into "Node.js HTTP" and
  "warden's own work";
- checks first that each warden configuration really authorises through nginx: with the key →
  200 and the application sees \`X-User-ID: bench\`; without or with a wrong key → 401; and that
  after this pre-flight Redis holds the limit counter (\`redis-cli --scan --pattern
  'warden:rl:*'\` not empty). Otherwise the run aborts;
- runs **wrk with 1 thread and 32 connections** against \`GET /api/nodes\` with the
  \`X-API-Key\` header on each configuration: a short unmeasured warm-up each
  (\`BENCH_WARMUP\`, default 3 s), then \`BENCH_ROUNDS\` rounds (default 5) of
  \`BENCH_DURATION\` seconds (default 10), **interleaved** (round 1: no auth, static, trivial
  node, warden, warden + Redis, …; round 2 the same order starting one configuration later:
  static, trivial node, …, no auth; and so on) so that machine noise, and any effect of running
  first or right after the heaviest load, spreads over all of them;
- reports the **median** requests/s of the rounds per configuration, the median of the
  per-round p50 and p99 latencies, and the ratios *warden / nginx static auth* (target ≥ 0.85),
  *warden / no auth*, *warden / warden, audit+metrics off* (target ≥ 0.90), *warden + Redis /
  nginx static auth* (target ≥ 0.75) and *warden + Redis / warden*. Any non-2xx response or socket error fails the run (and leaves this file unchanged);
  so does warden + Redis having answered any limit from memory: after the rounds its
  \`/metrics\` must show \`warden_redis_up 1\`, no \`warden_redis_errors_total\` and no
  \`warden_rate_limit_insurance_total\`. The results also record how many commands Redis
  processed during the warden + Redis rounds, per request (commands run inside the Lua script
  count too).

Everything (nginx, the wardens, redis-server, wrk) runs on the same machine. Two layouts:

- **split** (the default with 2+ CPUs): \`taskset\` pins nginx (its worker) and wrk to CPU 0, and
  the auth servers (every warden, the trivial node server) and redis-server to CPU 1, in every
  configuration alike. The proxy's core is never shared with the auth service — as in a
  deployment where warden runs as a service of its own (its own pod or host), which is how the
  recipes deploy it — so the ratios show what warden costs the proxy path (its latency and
  connection handling), not how two busy programs share one small box. nginx's static answer and
  the no-auth path run on CPU 0 exactly as before; only the auth servers get the second core.
- **shared** (\`BENCH_LAYOUT=shared\`): no pinning: nginx, wrk, warden and Redis compete for the
  same two cores, as a sidecar on a small machine would. warden's own CPU per request then
  directly slows nginx. Its results are kept in a block of their own below.

Quote medians
and ratios, not single runs: on the 2-vCPU development VM the *trivial node auth* / nginx static
auth ratio, for the very same do-nothing server, came out anywhere between 0.89 and 1.09 across
runs, so compare builds over several runs (or more rounds, \`BENCH_ROUNDS=9\`), A/B with
\`BENCH_WARDEN_CLI\` in the same conditions, and read the *trivial node auth* row as the ceiling.

Options: \`BENCH_DURATION\`, \`BENCH_ROUNDS\`, \`BENCH_WARMUP\` (seconds / count),
\`BENCH_KEEP_TMP=1\` to keep the temp directory (configs, logs, audit files),
\`BENCH_NODE_FLOOR=0\` to leave out the reference configuration, \`BENCH_REDIS=0\` to leave out
warden + Redis; \`NGINX_BIN\`, \`WRK_BIN\`, \`REDIS_SERVER_BIN\`, \`REDIS_CLI_BIN\`;
\`BENCH_LAYOUT\` (\`split\` or \`shared\`, see above), \`BENCH_WARDEN_CLI\` (another warden build's \`cli.js\`, for A/B comparisons; used by both
wardens) and \`BENCH_WARDEN_NODE_ARGS\` (e.g. \`--cpu-prof --cpu-prof-dir=/tmp/prof\` to profile
the wardens during the run).

The section below is replaced on every successful run with the defaults or longer (a run with
\`BENCH_DURATION\` < 10, \`BENCH_ROUNDS\` < 3, \`BENCH_WARDEN_CLI\` or \`BENCH_WARDEN_NODE_ARGS\` only prints).

`;

/** Replace this layout's result block; keep the other layout's last results; rewrite the explanation. */
function writeReadme(results, layout) {
  const old = existsSync(README) ? readFileSync(README, 'utf8') : '';
  const block = (l) => {
    const [start, end] = MARKERS[l];
    if (l === layout) return `${start}\n${results}\n${end}`;
    const s = old.indexOf(start);
    const e = old.indexOf(end);
    return s !== -1 && e > s
      ? old.slice(s, e + end.length)
      : `${start}\n(no run in this layout yet: \`BENCH_LAYOUT=${l} npm run bench\`)\n${end}`;
  };
  writeFileSync(README, `${EXPLANATION}${block('split')}\n\n${block('shared')}\n`);
}

// ---------------------------------------------------------------- main

// A reference configuration (BENCH_NODE_FLOOR=0 leaves it out): the same recipe asking a
// do-nothing Node.js http server (constant 200 with the identity headers). It shows how close any
// Node.js auth service can get to nginx's static answer on this machine.
const NODE_FLOOR = process.env.BENCH_NODE_FLOOR !== '0';
// warden with Redis-backed limits (BENCH_REDIS=0 leaves it out; skipped when redis-server or
// redis-cli is missing): a second warden, same policy and keys, REDIS_URL → a redis-server started here.
const REDIS_MISSING = [REDIS_SERVER, REDIS_CLI].filter((bin) => !existsSync(bin));
const WITH_REDIS = REDIS_WANTED && REDIS_MISSING.length === 0;
const REDIS_NOTE = !REDIS_WANTED
  ? 'left out (BENCH_REDIS=0)'
  : REDIS_MISSING.length
    ? `skipped: ${REDIS_MISSING.join(', ')} not found (apt-get install redis-server)`
    : null;
const CONFIGS = [
  { id: 'noauth', label: 'no auth' },
  { id: 'static', label: 'nginx static auth' },
  ...(NODE_FLOOR ? [{ id: 'nodefloor', label: 'trivial node auth' }] : []),
  { id: 'warden', label: 'warden' },
  { id: 'wardenbare', label: 'warden, audit+metrics off' },
  ...(WITH_REDIS ? [{ id: 'wardenredis', label: 'warden + Redis' }] : []),
  ...(WITH_JWT
    ? [
        { id: 'staticjwt', label: 'nginx static auth, bearer request' },
        { id: 'wardenjwt', label: 'warden JWT (ES256)' },
      ]
    : []),
  ...(WITH_CACHE ? [{ id: 'wardencache', label: 'warden, decision cache' }] : []),
];

const NODE_FLOOR_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200, { 'content-length': '2' }); res.end('ok'); return; }
  const k = req.headers['x-api-key'];
  if (typeof k !== 'string' || k.length < 20) { res.writeHead(401, { 'content-length': '0', 'www-authenticate': 'ApiKey' }); res.end(); return; }
  res.writeHead(200, { 'content-length': '0', 'X-User-ID': 'bench', 'X-User-Roles': 'developer', 'X-User-Name': 'Bench Client', 'X-User-Email': '', 'X-Auth-Method': 'api_key' });
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function main() {
  for (const bin of [NGINX, WRK]) if (!existsSync(bin)) fail(`${bin} not found (apt-get install nginx wrk)`);
  if (!existsSync(WARDEN_CLI)) fail(`${WARDEN_CLI} missing: run \`npm run build\` (npm run bench does)`);
  // The source state the build was made from (npm run bench builds just before): taken now, not after
  // the rounds, so that edits made while the benchmark runs are not attributed to the measured build.
  const rev = gitRev();

  tmp = mkdtempSync(join(tmpdir(), 'warden-bench-'));
  const policyFile = join(tmp, 'policy.yaml');
  const keysFile = join(tmp, 'keys.yaml');
  writePolicy(policyFile);
  const key = writeKeys(keysFile);
  const [
    wardenPort,
    wardenRedisPort,
    redisPort,
    staticPort,
    staticAuthPort,
    floorPort,
    pNoauth,
    pStatic,
    pWarden,
    pWardenRedis,
    pFloor,
    wardenJwtPort,
    pWardenJwt,
    wardenCachePort,
    pWardenCache,
    wardenBarePort,
    pWardenBare,
  ] = await freePorts(17);
  const ports = {
    noauth: pNoauth,
    static: pStatic,
    warden: pWarden,
    wardenbare: pWardenBare,
    ...(NODE_FLOOR ? { nodefloor: pFloor } : {}),
    ...(WITH_REDIS ? { wardenredis: pWardenRedis } : {}),
    ...(WITH_JWT ? { staticjwt: pStatic, wardenjwt: pWardenJwt } : {}),
    ...(WITH_CACHE ? { wardencache: pWardenCache } : {}),
  };
  const targets = [
    {
      id: 'static',
      dir: 'static',
      upstream: 'warden_static',
      port: staticAuthPort,
      comment: "(b) auth_request to nginx's static answer: the recipe, subrequest to the server above",
    },
    ...(NODE_FLOOR
      ? [
          {
            id: 'nodefloor',
            dir: 'nodefloor',
            upstream: 'warden_nodefloor',
            port: floorPort,
            comment: '(reference) auth_request to a do-nothing Node.js server',
          },
        ]
      : []),
    {
      id: 'warden',
      dir: 'warden',
      upstream: 'warden',
      port: wardenPort,
      comment: '(c) auth_request to warden: the recipe',
    },
    {
      id: 'wardenbare',
      dir: 'wardenbare',
      upstream: 'warden_bare',
      port: wardenBarePort,
      comment: "(c') auth_request to warden with audit and metrics off: the recipe",
    },
    ...(WITH_REDIS
      ? [
          {
            id: 'wardenredis',
            dir: 'wardenredis',
            upstream: 'warden_redis',
            port: wardenRedisPort,
            comment: '(d) auth_request to warden with Redis-backed limits: the recipe',
          },
        ]
      : []),
    ...(WITH_JWT
      ? [
          {
            id: 'wardenjwt',
            dir: 'wardenjwt',
            upstream: 'warden_jwt',
            port: wardenJwtPort,
            comment:
              '(e) auth_request to warden with a JWT issuer (the client sends a bearer token): the recipe',
          },
        ]
      : []),
    ...(WITH_CACHE
      ? [
          {
            id: 'wardencache',
            dir: 'wardencache',
            upstream: 'warden_cache',
            port: wardenCachePort,
            cached: true,
            comment: "(f) auth_request to warden, decisions reused by the recipe's opt-in decision cache",
          },
        ]
      : []),
  ];

  const wardenOpts = { policyFile, keysFile };
  await startWarden({ ...wardenOpts, dir: 'warden', label: 'warden', port: wardenPort });
  await startWarden({
    ...wardenOpts,
    dir: 'wardenbare',
    label: 'warden, audit+metrics off',
    port: wardenBarePort,
    extraEnv: { WARDEN_AUDIT_SINKS: 'none', WARDEN_METRICS: 'false' },
  });
  if (REDIS_NOTE) process.stdout.write(`warden + Redis: ${REDIS_NOTE}\n`);
  if (WITH_REDIS) {
    await startRedis(redisPort);
    await startWarden({
      ...wardenOpts,
      dir: 'wardenredis',
      label: 'warden + Redis',
      port: wardenRedisPort,
      extraEnv: { REDIS_URL: `redis://127.0.0.1:${redisPort}` },
    });
  }
  if (WITH_CACHE) {
    const cachedPolicy = join(tmp, 'policy-cached.yaml');
    writePolicy(cachedPolicy, { cached: true });
    await startWarden({
      ...wardenOpts,
      policyFile: cachedPolicy,
      dir: 'wardencache',
      label: 'warden (decision cache)',
      port: wardenCachePort,
    });
  }
  const jwt = WITH_JWT ? await startBenchIssuer() : null;
  if (jwt)
    await startWarden({
      ...wardenOpts,
      dir: 'wardenjwt',
      label: 'warden JWT',
      port: wardenJwtPort,
      extraEnv: { WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: jwt.issuer, audience: 'bench' }]) },
    });
  if (NODE_FLOOR) {
    track(
      spawn(...onCpu(1, process.execPath, ['-e', NODE_FLOOR_SERVER]), {
        env: { ...process.env, PORT: String(floorPort) },
        stdio: 'ignore',
      }),
      'trivial node server',
    );
    await waitFor(`http://127.0.0.1:${floorPort}/healthz`, 'trivial node server');
  }

  const prefix = join(tmp, 'nginx');
  for (const d of ['tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi'])
    mkdirSync(join(prefix, d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const recipe = writeAuthIncludes(prefix, targets);
  writeFileSync(conf, nginxConf({ prefix, staticPort, staticAuthPort, ports, targets }));
  process.stdout.write(`nginx auth config: ${recipe}\n`);
  const test = run(NGINX, ['-t', '-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf]);
  if (!/test is successful/.test(test)) fail(`nginx -t failed:\n${test}`);
  track(
    spawn(...onCpu(0, NGINX, ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf]), {
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
    'nginx',
  );
  await waitFor(`http://127.0.0.1:${ports.noauth}/`, 'nginx');

  // Pre-flight: each warden really authorises through nginx; every front server answers the app's "ok".
  await preflightWarden('warden', ports.warden, { 'X-API-Key': key });
  await preflightWarden('warden, audit+metrics off', ports.wardenbare, { 'X-API-Key': key });
  if (jwt) await preflightWarden('warden JWT', ports.wardenjwt, { Authorization: `Bearer ${jwt.token}` });
  if (WITH_CACHE) await preflightWarden('warden (decision cache)', ports.wardencache, { 'X-API-Key': key });
  if (WITH_REDIS) {
    await preflightWarden('warden + Redis', ports.wardenredis, { 'X-API-Key': key });
    // …and its limits really live in Redis: the pre-flight's consume left a counter there.
    const counters = redisCli(redisPort, '--scan', '--pattern', 'warden:rl:*').split('\n').filter(Boolean);
    if (counters.length === 0)
      fail(
        `warden + Redis pre-flight: no rate-limit counter in Redis after an authorised request (redis-cli --scan --pattern 'warden:rl:*' is empty)`,
      );
    process.stdout.write(`pre-flight ok: Redis holds the limit counters (${counters.join(', ')})\n`);
  }
  for (const id of Object.keys(ports)) {
    const r = await fetch(`http://127.0.0.1:${ports[id]}${PATH}`, { headers: { 'X-API-Key': key } });
    const body = await r.text();
    if (r.status !== 200 || body !== 'ok\n')
      fail(`pre-flight ${id}: expected 200 "ok", got ${r.status} ${JSON.stringify(body)}`);
  }

  const script = join(tmp, 'done.lua');
  writeFileSync(script, WRK_LUA);
  const urls = Object.fromEntries(CONFIGS.map((c) => [c.id, `http://127.0.0.1:${ports[c.id]}${PATH}`]));
  // Every configuration gets the API key; the JWT one, and nginx's static answer it is compared
  // with (the same front server as 'static'), get the bearer token instead: the same request, the same subrequest.
  const credential = (id) =>
    id === 'wardenjwt' || id === 'staticjwt' ? `Authorization: Bearer ${jwt.token}` : `X-API-Key: ${key}`;

  if (WARMUP > 0) {
    process.stdout.write(`warm-up: ${WARMUP}s per configuration\n`);
    for (const c of CONFIGS) await wrk(urls[c.id], WARMUP, credential(c.id), script);
  }

  const results = Object.fromEntries(CONFIGS.map((c) => [c.id, []]));
  const problems = [];
  let redisCommands = 0; // commands Redis processed during the measured warden + Redis rounds
  for (let round = 1; round <= ROUNDS; round++) {
    // Each round starts one configuration further along, so that none always runs at the same
    // place (first, or right after the heaviest load, no auth): a position effect spreads over all.
    const shift = (round - 1) % CONFIGS.length;
    for (const c of [...CONFIGS.slice(shift), ...CONFIGS.slice(0, shift)]) {
      const before = c.id === 'wardenredis' ? redisInfo(redisPort, 'total_commands_processed') : 0;
      const r = await wrk(urls[c.id], DURATION, credential(c.id), script);
      if (c.id === 'wardenredis') redisCommands += redisInfo(redisPort, 'total_commands_processed') - before;
      results[c.id].push(r);
      process.stdout.write(
        `round ${round}/${ROUNDS} ${c.label.padEnd(18)} ${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms${r.non2xx ? `  NON-2xx ${r.non2xx}` : ''}${r.socketErrors ? `  socket errors ${r.socketErrors}` : ''}\n`,
      );
      if (r.non2xx) problems.push(`round ${round} ${c.label}: ${r.non2xx} non-2xx responses`);
      if (r.socketErrors) problems.push(`round ${round} ${c.label}: ${r.socketErrors} socket errors`);
    }
  }

  // warden + Redis must have answered from Redis throughout, not from its in-memory insurance limiter.
  let redisLine = `- warden + Redis: ${REDIS_NOTE}`;
  if (WITH_REDIS) {
    const [up, errors, insurance] = await Promise.all(
      ['warden_redis_up', 'warden_redis_errors_total', 'warden_rate_limit_insurance_total'].map((m) =>
        metricSum(wardenRedisPort, m),
      ),
    );
    if (up !== 1) problems.push(`warden + Redis: warden_redis_up is ${up} after the run, expected 1`);
    if (errors > 0) problems.push(`warden + Redis: ${errors} Redis errors during the run`);
    if (insurance > 0)
      problems.push(
        `warden + Redis: ${insurance} rate-limit decisions taken by the in-memory insurance limiter (Redis too slow or away)`,
      );
    const requests = results.wardenredis.reduce((n, r) => n + r.requests, 0);
    const version = /v=(\S+)/.exec(run(REDIS_SERVER, ['--version']))?.[1] ?? 'unknown';
    redisLine = `- warden + Redis: redis-server ${version} on 127.0.0.1 (no persistence), other Redis settings at their defaults; ${redisCommands} commands processed by Redis during its measured rounds, counting those inside Lua scripts (${(redisCommands / requests).toFixed(2)} per request); Redis errors ${errors}, insurance-limiter decisions ${insurance}`;
  }

  const summary = Object.fromEntries(
    CONFIGS.map((c) => [
      c.id,
      {
        rps: median(results[c.id].map((r) => r.rps)),
        p50: median(results[c.id].map((r) => r.p50ms)),
        p99: median(results[c.id].map((r) => r.p99ms)),
      },
    ]),
  );
  const ratioStatic = summary.warden.rps / summary.static.rps;
  const ratioNoauth = summary.warden.rps / summary.noauth.rps;
  const ratioAudit = summary.warden.rps / summary.wardenbare.rps;
  const ratioRedis = WITH_REDIS ? summary.wardenredis.rps / summary.static.rps : NaN;
  const ratioJwt = WITH_JWT ? summary.wardenjwt.rps / summary.staticjwt.rps : NaN;
  const ratioCache = WITH_CACHE ? summary.wardencache.rps / summary.static.rps : NaN;
  const roundCols = Array.from({ length: ROUNDS }, (_, i) => `round ${i + 1}`);
  const table = [
    `| configuration | median req/s | ${roundCols.join(' | ')} | p50 ms | p99 ms |`,
    `|---|--:|${roundCols.map(() => '--:').join('|')}|--:|--:|`,
    ...CONFIGS.map(
      (c) =>
        `| ${c.label} | **${summary[c.id].rps.toFixed(0)}** | ${results[c.id].map((r) => r.rps.toFixed(0)).join(' | ')} | ${summary[c.id].p50.toFixed(2)} | ${summary[c.id].p99.toFixed(2)} |`,
    ),
  ].join('\n');
  const ratios = [
    `| ratio (medians) | value |`,
    `|---|--:|`,
    `| warden / nginx static auth | **${ratioStatic.toFixed(3)}** (target ≥ 0.85: ${ratioStatic >= 0.85 ? 'met' : 'NOT met'}) |`,
    `| warden / no auth | **${ratioNoauth.toFixed(3)}** |`,
    `| warden / warden, audit+metrics off | **${ratioAudit.toFixed(3)}** (audit and metrics cost ≤ 10 %, target ≥ 0.90: ${ratioAudit >= 0.9 ? 'met' : 'NOT met'}) |`,
    ...(WITH_REDIS
      ? [
          `| warden + Redis / nginx static auth | **${ratioRedis.toFixed(3)}** (target ≥ 0.75: ${ratioRedis >= 0.75 ? 'met' : 'NOT met'}) |`,
          `| warden + Redis / warden | ${(summary.wardenredis.rps / summary.warden.rps).toFixed(3)} |`,
        ]
      : []),
    ...(WITH_JWT
      ? [
          `| warden JWT (ES256, repeated token) / nginx static auth, bearer request | **${ratioJwt.toFixed(3)}** (target ≥ 0.85: ${ratioJwt >= 0.85 ? 'met' : 'NOT met'}) |`,
          `| warden JWT / nginx static auth (API key request) | ${(summary.wardenjwt.rps / summary.static.rps).toFixed(3)} |`,
          `| nginx static auth, bearer request / nginx static auth | ${(summary.staticjwt.rps / summary.static.rps).toFixed(3)} |`,
        ]
      : []),
    ...(WITH_CACHE
      ? [
          `| warden, decision cache (repeated requests) / nginx static auth | **${ratioCache.toFixed(3)}** (target > 1.0: ${ratioCache > 1 ? 'met' : 'NOT met'}) |`,
        ]
      : []),
    `| nginx static auth / no auth | ${(summary.static.rps / summary.noauth.rps).toFixed(3)} |`,
    ...(NODE_FLOOR
      ? [
          `| trivial node auth / nginx static auth | ${(summary.nodefloor.rps / summary.static.rps).toFixed(3)} |`,
          `| warden / trivial node auth | ${(summary.warden.rps / summary.nodefloor.rps).toFixed(3)} |`,
        ]
      : []),
  ].join('\n');

  // The decision cache really answered: warden (its audit file) saw a small fraction of the requests.
  let cacheLine = '';
  if (WITH_CACHE) {
    const decisions = readFileSync(join(tmp, 'wardencache', 'audit.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"event":"decision"')).length;
    const requests = results.wardencache.reduce((n, r) => n + r.requests, 0) + (WARMUP > 0 ? 1 : 0);
    cacheLine = `- warden, decision cache: warden took ${decisions} decisions for ${requests} requests through nginx (the rest answered from nginx's cache; the rule allows reuse for 5 s)`;
    if (decisions > requests / 10)
      problems.push(
        `warden, decision cache: ${decisions} decisions for ${requests} requests: the cache did not answer`,
      );
  }
  const nginxVersion = run(NGINX, ['-v'])
    .trim()
    .replace(/^nginx version:\s*(nginx\/)?/, '');
  const cpuModel =
    /model name\s*:\s*(.*)/
      .exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1]
      ?.trim() ??
    cpus()[0]?.model ??
    'unknown';
  const nproc = run('nproc', []).trim() || String(cpus().length);
  const wrkVersion = run(WRK, ['-v'])
    .split('\n')[0]
    .replace(/\s*\[.*$/, '')
    .replace(/^wrk\s*/, '')
    .trim();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const machine = [
    `- date: ${date}`,
    `- machine: ${nproc} CPUs (\`nproc\`), ${cpuModel}`,
    `- node ${process.version}, nginx ${nginxVersion}, wrk ${wrkVersion}`,
    `- wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s, ${ROUNDS} rounds interleaved, ${WARMUP}s warm-up each, GET ${PATH} with X-API-Key (warden JWT: Authorization: Bearer, one ES256 token); nginx 1 worker; warden audit to a file`,
    `- layout: ${PIN ? 'split: nginx and wrk pinned to CPU 0, the auth servers and Redis to CPU 1 (taskset)' : 'shared: no pinning, every process on any core'}`,
    `- auth subrequest: ${recipe}; warden at git ${rev}`,
    redisLine,
    ...(cacheLine ? [cacheLine] : []),
  ].join('\n');

  let firstVerify = '';
  if (WITH_JWT) {
    process.stdout.write('first-time JWT verification cost per algorithm (in-process)…\n');
    const cost = await firstVerificationCost();
    firstVerify = [
      `First-time verification of a JWT (no cache: structural checks, routing by \`iss\`, jose signature and claim checks), in-process, median of 3 batches of 300 distinct tokens:`,
      '',
      `| algorithm | µs per token |`,
      `|---|--:|`,
      ...FIRST_VERIFY_ALGS.map((a) => `| ${a} | ${cost[a].toFixed(0)} |`),
    ].join('\n');
  }

  process.stdout.write(`\n${table}\n\n${ratios}\n\n${firstVerify}\n\n${machine}\n`);

  if (problems.length > 0) {
    fail(`results invalid, bench/README.md not updated:\n  ${problems.join('\n  ')}`);
  }
  const notRecorded = [
    process.env.BENCH_WARDEN_CLI ? 'BENCH_WARDEN_CLI is set (not this build)' : null,
    WARDEN_NODE_ARGS.length ? 'BENCH_WARDEN_NODE_ARGS is set (e.g. a profiler)' : null,
    DURATION < 10 ? `BENCH_DURATION ${DURATION} < 10` : null,
    ROUNDS < 3 ? `BENCH_ROUNDS ${ROUNDS} < 3` : null,
  ].filter(Boolean);
  if (notRecorded.length > 0) {
    process.stdout.write(`\nbench/README.md not updated: ${notRecorded.join('; ')}\n`);
  } else {
    writeReadme(
      `## Results: ${LAYOUT === 'split' ? 'proxy and auth service on separate cores (the default layout)' : 'everything on shared cores (BENCH_LAYOUT=shared)'}, last run\n\n${machine}\n\n${table}\n\n${ratios}\n${firstVerify ? `\n${firstVerify}\n` : ''}`,
      LAYOUT,
    );
    process.stdout.write(`\nbench/README.md updated\n`);
  }
}

await main();
cleanup();
process.exit(0);
