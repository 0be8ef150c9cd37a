// Start warden: load config, build dependencies, serve, reload on change, shut down gracefully (signals: cli.ts).
import { getRequestListener } from '@hono/node-server';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { JWK } from 'jose';
import type { DestinationStream, Logger } from 'pino';
import { createApp, metricsRoutes } from './app.js';
import { createAuditLog, createOpsLog, type AuditLog } from './audit/audit-log.js';
import { AuditChain, replicaName } from './audit/chain.js';
import { openAuditSigning, openAuditSinks } from './audit/open-sinks.js';
import { OverviewAggregator } from './audit/overview.js';
import type { AuditView } from './audit/view.js';
import { openAuditRedis, openAuditView } from './audit-view.js';
import { byDeadline } from './audit/sink.js';
import type { Env } from './config/env-schema.js';
import { ConfigError } from './config/errors.js';
import { loadConfig, type Config } from './config/load.js';
import { unknownVariables } from './config/unknown-env.js';
import { AssertionKeyError, AssertionSigner } from './identity/assertion.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Readiness } from './readiness.js';
import { compileCidrs } from './request/client-ip.js';
import { startReloader, type ReloadResult, type Reloader } from './reload.js';
import { buildRuntime, RuntimeState, type Shared } from './runtime.js';
import { startServices, type Services } from './services.js';
import { createVerifyListener } from './http/verify-route.js';
import { attachSignIn, type AttachedSignIn } from './oauth2/attach.js';
import { attachConsole } from './console/attach.js';
import { systemClock, type Clock } from './util/clock.js';

/** The listen address is unusable (in use, not permitted). */
export class ListenError extends Error {}

/** A started warden process. */
export interface Running {
  port: number;
  /** The /metrics port when WARDEN_METRICS_PORT is set. */
  metricsPort: number | null;
  /** Named readiness checks; JWKS and OIDC discovery register theirs here. */
  readiness: Readiness;
  /** Reload policy and keys now (audited with trigger `api`). */
  reload(): Promise<ReloadResult>;
  /**
   * What SIGHUP does (the process edge, `warden serve`, sends it here): reload policy and keys
   * (trigger `SIGHUP`) and re-read an assertion key file. Resolves when both are done; a key file
   * that cannot be used is logged and the current key stays.
   */
  hangup(): Promise<ReloadResult>;
  close(): Promise<void>;
}

/** Where logs go, what time it is and how to fetch: tests capture, move and fake them. */
export interface StartOptions {
  auditDestination?: DestinationStream;
  opsDestination?: DestinationStream;
  /** Every time warden reads (default: the system clock). */
  clock?: Clock;
  /** Every HTTP request warden makes: policy URL, JWKS, OIDC, audit webhook (default: the global fetch). */
  fetch?: typeof fetch;
  /** What checks for a time-based audit checkpoint (tests fire it by hand; default an unref'd interval). */
  checkpointTimer?: (ms: number, check: () => void) => () => void;
}

/** What warden runs on, built before it serves: logs, audit trail, metrics, services and the first runtime. */
interface Core {
  config: Config;
  env: Env;
  log: Logger;
  assertion: AssertionSigner | null;
  /** The public keys of audit checkpoints (WARDEN_AUDIT_SIGNING_KEY), published beside the assertion keys. */
  auditKeys: JWK[] | null;
  audit: AuditLog;
  /** The audit search and overview (admin endpoints, console). */
  auditView: AuditView;
  closeAuditRedis: () => Promise<void>;
  metrics: Metrics;
  services: Services;
  state: RuntimeState;
  signIn: AttachedSignIn;
  shared: Shared;
}

/** Whether warden takes requests as usual: false once shutdown begins. */
interface Gate {
  accepting: boolean;
  /** Told when shutdown begins: long-lived answers (the console's live feed) end so connections drain. */
  stopping: (() => void)[];
}

/** The main server and, with WARDEN_METRICS_PORT, the /metrics server and its port. */
interface Servers {
  http: Server;
  metrics: { server: Server; port: number } | null;
}

/** Start warden from environment variables. Throws ConfigError on bad configuration. */
export async function start(
  vars: Record<string, string | undefined>,
  opts: StartOptions = {},
): Promise<Running> {
  const clock = opts.clock ?? systemClock;
  const fetch = opts.fetch ?? globalThis.fetch;
  const config = await loadConfig(vars, { fetch });
  const core = await buildCore(config, opts, clock, fetch);
  const { env, log, audit, metrics, services, state, shared } = core;
  const gate: Gate = { accepting: true, stopping: [] };
  const readiness = registerReadiness(core, gate);
  const handlers = requestHandlers(core, readiness, clock, gate);
  const reloader = startReloader({
    env,
    state,
    shared,
    log,
    load: { fetch },
    audit,
    counted: (result) => metrics.reloads.inc({ result }),
  });
  const hangup = hangupHandler(core, reloader);
  const servers = createServers(core, gate, handlers);
  const { port, metricsPort } = await listenAll(servers, core, reloader);
  log.info(
    {
      event: 'started',
      host: env.HOST,
      port,
      metricsPort,
      dialect: env.WARDEN_PROXY,
      store: services.store.kind,
      rules: state.current.policy.rules.length,
      keys: state.current.keys.entries.length,
      auditSinks: env.WARDEN_AUDIT_SINKS,
    },
    'warden listening',
  );
  if (state.current.docs.policy.alerts.length > 0 && env.WARDEN_ALERT_WEBHOOK_URL === undefined)
    log.warn(
      { event: 'alerts_not_posted' },
      'the policy has alerts but WARDEN_ALERT_WEBHOOK_URL is not set: firings are logged and listed at /admin/alerts, not posted',
    );
  for (const u of unknownVariables(vars))
    log.warn({ event: 'unknown_variable', variable: u.variable, suggestion: u.suggestion }, u.message);
  const close = shutdown(core, servers, reloader, gate, clock);
  return { port, metricsPort, readiness, close, hangup, reload: () => reloader.reload('api') };
}

/** Open the ops log, assertion signer, audit sinks, metrics and services, and install the first runtime. */
async function buildCore(
  config: Config,
  opts: StartOptions,
  clock: Clock,
  fetch: typeof globalThis.fetch,
): Promise<Core> {
  const env = config.env;
  const log = createOpsLog(env.LOG_LEVEL, opts.opsDestination);
  const assertion = await openAssertionSigner(env, clock, (e) =>
    log.error(
      { event: 'assertion_key_error', err: e.message },
      'cannot rotate the generated assertion key; the current one stays',
    ),
  );
  const signing = await openAuditSigning(env);
  if (signing?.unsaved)
    log.warn(
      { event: 'audit_key_not_saved', detail: signing.unsaved },
      'the audit signing key is not in the state dir key list: after a key change it will no longer be published',
    );
  // A rotated file removed for age or count is itself audited (removals start once the log exists).
  const removed: { audit: AuditLog | null } = { audit: null };
  const auditRedis = openAuditRedis(env);
  const sinks = closingOnError(auditRedis.close, () =>
    openAuditSinks(env, log, {
      clock,
      fetch,
      stdoutDestination: opts.auditDestination,
      auditStream: auditRedis.stream,
      onFileRemoved: (r) => removed.audit?.admin({ event: 'audit_file_removed', ...r }),
    }),
  );
  const chain = new AuditChain(replicaName(env.WARDEN_REPLICA_ID, hostname(), clock.now()));
  const aggregator = new OverviewAggregator(chain.replica, clock);
  const audit = createAuditLog(sinks, clock, {
    allowSample: env.WARDEN_AUDIT_ALLOW_SAMPLE,
    chain,
    observe: (e) => aggregator.record(e),
    ...(signing && {
      checkpoints: {
        key: signing.key,
        everyLines: env.WARDEN_AUDIT_CHECKPOINT.lines,
        everyMs: env.WARDEN_AUDIT_CHECKPOINT.ms,
        ...(opts.checkpointTimer && { every: opts.checkpointTimer }),
      },
    }),
  });
  removed.audit = audit;
  const metrics = createMetrics(true, env.WARDEN_METRICS);
  metrics.watchAudit(audit.sinks);
  const services = await startServices(env, config.issuers, { log, audit, metrics, clock, fetch });
  const reading = { audit, sinks, stream: auditRedis.stream, store: services.store, aggregator, clock };
  const auditView = openAuditView(env, reading);
  // Sign-in reads the runtime in force at each request, and every runtime's chain holds sign-in's
  // session authenticator: the (empty) holder first, then sign-in, then the first runtime.
  const state = new RuntimeState();
  const signIn = attachSignIn(config, { services, state, audit, clock, fetch, log });
  const shared: Shared = { ...services, sessionAuth: signIn.sessionAuth };
  state.swap(buildRuntime(config, shared));
  return {
    config,
    env,
    log,
    assertion,
    auditKeys: signing?.jwks ?? null,
    audit,
    auditView,
    closeAuditRedis: auditRedis.close,
    metrics,
    services,
    state,
    signIn,
    shared,
  };
}

/** The named readiness checks: policy, keys, store, bans, JWKS and OIDC when configured, accepting. */
function registerReadiness(core: Core, gate: Gate): Readiness {
  const { config, services, state, signIn } = core;
  const readiness = new Readiness();
  readiness.register('policy', () => ({
    ready: true,
    detail: `version ${state.current.version}, ${state.current.policy.rules.length} rules`,
  }));
  // API keys are refused until the revocations in force are known.
  readiness.register('keys', () => ({
    ready: services.ready().revocations,
    detail: `${state.current.keys.entries.length} keys, revocations ${services.ready().revocations ? 'loaded' : 'loading'}`,
  }));
  // The store gates readiness at start only. Once it has answered, an outage degrades warden (limits from
  // memory, revocations and bans as last known) but it keeps answering correctly: marking every replica
  // unready at once would empty the Service and fail every protected request instead.
  let storeWasReady = false;
  readiness.register('store', () => {
    const s = services.store.status();
    storeWasReady ||= s.ready;
    return s.ready || !storeWasReady
      ? s
      : {
          ready: true,
          detail: `degraded: ${s.detail}; limits from memory, revocations and bans as last known`,
        };
  });
  readiness.register('bans', () => services.ready().bans);
  // With JWT issuers: ready once every issuer's key set was fetched (a token for a missing set would be refused).
  if (config.issuers.length > 0)
    readiness.register('jwks', () => {
      const { ready, pending } = services.ready().jwks;
      return ready
        ? { ready, detail: `${config.issuers.length} issuers` }
        : { ready, detail: `waiting for the keys of ${pending.join(', ')}` };
    });
  if (signIn.readiness) readiness.register('oidc', signIn.readiness);
  readiness.register('accepting', () => (gate.accepting ? true : { ready: false, detail: 'shutting down' }));
  return readiness;
}

/** What serves requests: /verify straight from node:http, and the Hono app for everything else. */
interface Handlers {
  fastVerify: (req: IncomingMessage, res: ServerResponse) => boolean;
  hono: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

function requestHandlers(core: Core, readiness: Readiness, clock: Clock, gate: Gate): Handlers {
  const { env, state, services, audit, auditView, metrics, assertion, auditKeys, signIn } = core;
  const consoleDeps = attachConsole({
    env,
    state,
    services,
    audit,
    auditView,
    clock,
    loginUrl: signIn.loginUrl,
    sessionCookie: signIn.sessionAuth?.cookie ?? null,
  });
  if (consoleDeps) gate.stopping.push(() => consoleDeps.feed.close());
  const deps = {
    auditKeys,
    state,
    services,
    audit,
    auditView,
    metrics,
    trustedProxies: compileCidrs(env.WARDEN_TRUSTED_PROXIES),
    trustedProxyCidrs: env.WARDEN_TRUSTED_PROXIES,
    alertWebhook: env.WARDEN_ALERT_WEBHOOK_URL !== undefined,
    loginUrl: signIn.loginUrl ?? env.WARDEN_LOGIN_URL,
    startUrl: signIn.startUrl,
    defaultDialect: env.WARDEN_PROXY,
    shadowMode: env.WARDEN_MODE === 'shadow',
    mcpMaxBody: env.WARDEN_MCP_MAX_BODY,
    assertion,
    now: () => clock.now(),
    readiness,
    serveMetrics: env.WARDEN_METRICS && env.WARDEN_METRICS_PORT === undefined,
    signIn: signIn.routes,
    clearSessionCookie: signIn.clearSessionCookie,
    console: consoleDeps,
  };
  const app = createApp(deps);
  return { hono: getRequestListener(app.fetch), fastVerify: createVerifyListener(deps, env.WARDEN_PROXY) };
}

/**
 * What SIGHUP does: reload policy and keys, and re-read an assertion key file. A replaced key file
 * takes over; the old key stays published until its tokens expire.
 */
function hangupHandler(core: Core, reloader: Reloader): () => Promise<ReloadResult> {
  const { env, log, assertion } = core;
  const rereadAssertionKey = async () => {
    if (!assertion || env.WARDEN_ASSERTION_KEY === 'generate') return;
    try {
      if (await assertion.rotate()) log.info({ event: 'assertion_key_rotated' }, 'assertion key replaced');
    } catch (e) {
      log.error(
        { event: 'assertion_key_error', err: (e as Error).message },
        'cannot read the new assertion key; the current one stays',
      );
    }
  };
  return async (): Promise<ReloadResult> => {
    const [reloaded] = await Promise.all([reloader.reload('SIGHUP'), rereadAssertionKey()]);
    return reloaded;
  };
}

/** The main server and, with WARDEN_METRICS_PORT, the /metrics one; neither listens yet. */
function createServers(core: Core, gate: Gate, { fastVerify, hono }: Handlers): Servers {
  const { env, metrics } = core;
  // Keep-alive longer than proxies' upstream keepalive (nginx 60 s) so warden never closes a connection they are about to reuse.
  // Headers up to 96 KiB are read, so an oversized credential gets a 401 and an audit line rather than a bare 431.
  const http = createServer(
    { keepAliveTimeout: 75_000, headersTimeout: 20_000, requestTimeout: 30_000, maxHeaderSize: 96 * 1024 },
    (req, res) => {
      // While draining, every answer closes its connection: the proxy reconnects to another replica.
      if (!gate.accepting) res.shouldKeepAlive = false;
      if (!fastVerify(req, res)) void hono(req, res);
    },
  );
  const metricsPort = env.WARDEN_METRICS ? env.WARDEN_METRICS_PORT : undefined;
  if (metricsPort === undefined) return { http, metrics: null };
  const serveMetrics = getRequestListener(metricsRoutes(metrics).fetch);
  return {
    http,
    metrics: { server: createServer((req, res) => void serveMetrics(req, res)), port: metricsPort },
  };
}

/** Listen on every server; resolves with the ports bound. A failure stops what was started, then throws. */
async function listenAll(
  servers: Servers,
  core: Core,
  reloader: Reloader,
): Promise<{ port: number; metricsPort: number | null }> {
  const { env, audit, services } = core;
  try {
    const port = await listen(servers.http, env.PORT, env.HOST);
    const metricsPort = servers.metrics
      ? await listen(servers.metrics.server, servers.metrics.port, env.HOST)
      : null;
    return { port, metricsPort };
  } catch (e) {
    servers.http.close();
    reloader.stop();
    core.auditView.overview.stop();
    audit.close();
    await core.closeAuditRedis();
    await services.close();
    throw e;
  }
}

/**
 * The graceful shutdown, run once however often it is asked for: stop taking requests, finish those
 * in flight, deliver the audit trail, all by one deadline (WARDEN_SHUTDOWN_TIMEOUT); then close the rest.
 */
function shutdown(
  core: Core,
  servers: Servers,
  reloader: Reloader,
  gate: Gate,
  clock: Clock,
): () => Promise<void> {
  const { env, log, audit, services, assertion } = core;
  const { http } = servers;
  const run = async () => {
    const deadline = clock.now() + env.WARDEN_SHUTDOWN_TIMEOUT * 1000;
    gate.accepting = false;
    for (const stop of gate.stopping) stop();
    reloader.stop();
    log.info({ event: 'stopping' }, 'stopping: no new connections, finishing requests in flight');
    const drained = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeIdleConnections();
    await byDeadline(drained, deadline, clock);
    http.closeAllConnections();
    const droppedBefore = audit.sinks.reduce((n, s) => n + s.dropped(), 0);
    await audit.flush(deadline);
    const lost = audit.sinks.reduce((n, s) => n + s.dropped(), 0) - droppedBefore;
    if (lost > 0)
      log.error(
        {
          event: 'audit_undelivered',
          lost,
          sinks: audit.sinks.map((s) => ({ sink: s.name, dropped: s.dropped() })),
        },
        `${lost} audit events not delivered by the shutdown deadline`,
      );
    core.auditView.overview.stop();
    await byDeadline(core.auditView.overview.share(), deadline, clock);
    audit.close();
    await core.closeAuditRedis();
    servers.metrics?.server.close();
    servers.metrics?.server.closeAllConnections();
    await services.close();
    assertion?.close();
    log.info({ event: 'stopped' }, 'warden stopped');
  };
  let closing: Promise<void> | null = null;
  return () => (closing ??= run());
}

/** `make()`, calling `close` (not awaited) when it throws. */
function closingOnError<T>(close: () => Promise<void>, make: () => T): T {
  try {
    return make();
  } catch (e) {
    void close();
    throw e;
  }
}

/** Listen on host:port; resolves with the port bound (port 0 picks one). */
function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new ListenError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)),
    );
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** The assertion signer of WARDEN_ASSERTION_KEY, or null; an unusable key file is a configuration error (exit 2). */
async function openAssertionSigner(
  env: Env,
  clock: Clock,
  onRotateError: (e: Error) => void,
): Promise<AssertionSigner | null> {
  const spec = env.WARDEN_ASSERTION_KEY;
  if (spec === undefined) return null;
  const source =
    spec === 'generate'
      ? {
          kind: 'generated' as const,
          stateDir: env.WARDEN_STATE_DIR,
          rotateMs: env.WARDEN_ASSERTION_ROTATE * 1000,
        }
      : { kind: 'file' as const, path: spec };
  try {
    return await AssertionSigner.open(source, env.WARDEN_ASSERTION_TTL, clock, onRotateError);
  } catch (e) {
    if (e instanceof AssertionKeyError)
      throw new ConfigError([{ source: 'env WARDEN_ASSERTION_KEY', path: '', message: e.message }]);
    throw e;
  }
}
