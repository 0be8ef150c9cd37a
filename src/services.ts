// Long-lived services behind the runtime: the store (memory or Redis) and the mirrored sets.
import type { Logger } from 'pino';
import type { AuditLog } from './audit/audit-log.js';
import { JwtVerifier } from './auth/jwt.js';
import { Revocations } from './auth/revocations.js';
import { StoredKeys } from './auth/stored-keys.js';
import type { Env } from './config/env-schema.js';
import { requiredVar } from './config/errors.js';
import type { IssuerConfig } from './config/issuers-schema.js';
import { AdminBans } from './limits/admin-bans.js';
import { AlertWebhook } from './limits/alert-webhook.js';
import { AlertLog, firingText, type Firing } from './limits/alerts.js';
import { recordJwksFetch, type Metrics } from './metrics.js';
import type { Shared } from './runtime.js';
import { createMemoryStore } from './store/memory.js';
import { BatchedCounts } from './store/batched-counts.js';
import { MirroredSet } from './store/mirror.js';
import { connectRedis, createRedisStore, type RedisConnectOptions } from './store/redis.js';
import type { Store } from './store/store.js';
import { systemClock, type Clock } from './util/clock.js';

/** The shared services and how to stop them (sign-in's session authenticator is added by main.ts). */
export interface Services extends Omit<Shared, 'sessionAuth'> {
  revocations: Revocations;
  banned: MirroredSet;
  /** Bans made through the admin API (an IP, a CIDR or an identity), replicated like revocations. */
  adminBans: AdminBans;
  /** Alert firings: claimed once per window across replicas, posted to WARDEN_ALERT_WEBHOOK_URL. */
  alertLog: AlertLog;
  storedKeys: StoredKeys | null;
  /** True when the store answers, every mirrored set has loaded and every issuer's keys were fetched. */
  ready(): {
    ready: boolean;
    store: string;
    revocations: boolean;
    bans: boolean;
    jwks: { ready: boolean; pending: string[] };
  };
  close(): Promise<void>;
}

/** How the store reaches Redis, from the environment (none of cluster, sentinel, url: no Redis). */
export function redisConnection(env: Env): RedisConnectOptions {
  return {
    cluster: env.WARDEN_REDIS_CLUSTER_NODES,
    sentinel: env.WARDEN_REDIS_SENTINELS && {
      nodes: env.WARDEN_REDIS_SENTINELS,
      name: requiredVar(
        env.WARDEN_REDIS_SENTINEL_NAME,
        'WARDEN_REDIS_SENTINEL_NAME',
        'required with WARDEN_REDIS_SENTINELS (the master group name)',
      ),
    },
    url: env.REDIS_URL,
    password: env.WARDEN_REDIS_PASSWORD,
    tls: env.WARDEN_REDIS_TLS,
    commandTimeoutMs: Math.round(env.WARDEN_REDIS_TIMEOUT * 1000),
  };
}

/** What the store reports to: the Redis errors and state changes, paced on `clock` (default: the system's). */
export interface StoreDeps {
  clock?: Clock;
  log?: Logger;
  metrics?: Metrics;
}

/** Open the configured store: Redis when configured, else memory with revocations in the state dir. */
export function openStore(env: Env, deps: StoreDeps = {}): Store {
  const { clock = systemClock, log, metrics } = deps;
  const client = connectRedis(redisConnection(env));
  if (!client) return createMemoryStore({ stateDir: env.WARDEN_STATE_DIR, clock });
  let lastLogged = 0;
  const timeoutMs = Math.round(env.WARDEN_REDIS_TIMEOUT * 1000);
  return createRedisStore(
    client,
    env.WARDEN_REDIS_PREFIX,
    {
      onError(err) {
        metrics?.redisErrors.inc();
        // Errors arrive per command while Redis is away; log at most one a second.
        const now = clock.now();
        if (now - lastLogged > 1000) {
          lastLogged = now;
          log?.warn(
            { event: 'redis_error', err: err.message },
            'Redis error; limits fall back to memory, revocations already known stay enforced',
          );
        }
      },
      onInsurance: (limit) => metrics?.insurance.inc({ limit }),
      onState(state) {
        metrics?.redisUp.set(state === 'ready' ? 1 : 0);
        log?.info({ event: 'redis_state', state }, `Redis ${state}`);
      },
    },
    { timeoutMs, clock },
  );
}

/** What the services report to and run on. */
export interface ServiceDeps {
  log: Logger;
  audit: AuditLog;
  metrics: Metrics;
  /** The JWKS refresh and cooldown clock; the Redis warnings' pace. */
  clock: Clock;
  /** JWKS fetches. */
  fetch: typeof fetch;
}

/** The store's set `what`, mirrored in memory and resynced every WARDEN_REVOCATION_RESYNC. */
function mirrorSet(store: Store, what: string, persistent: boolean, env: Env, log: Logger): MirroredSet {
  return new MirroredSet(store.set(what, { persistent }), {
    resyncMs: env.WARDEN_REVOCATION_RESYNC * 1000,
    onError: (err: Error) =>
      log.warn({ event: 'mirror_error', set: what, err: err.message }, `cannot load ${what}; retrying`),
    onRestore: (count) =>
      log.warn(
        { event: 'set_restored', set: what, count },
        `the store had lost ${what}; wrote back the ${count} entries this replica holds`,
      ),
  });
}

/** The stored keys (WARDEN_KEYS_STORE=redis), listening for invalidations; null with keys in the file only. */
function storedKeys(env: Env, store: Store, deps: ServiceDeps): StoredKeys | null {
  const backend = env.WARDEN_KEYS_STORE === 'redis' ? store.keys?.() : undefined;
  if (!backend) return null;
  const keys = new StoredKeys(backend, {
    clock: deps.clock,
    onError: (err) =>
      deps.log.debug({ event: 'keys_store_error', err: err.message }, 'stored key lookup failed'),
    onStoreLookup: (result) => deps.metrics.storedKeyLookups.inc({ result }),
  });
  keys.start();
  return keys;
}

/** Warn (ops log) about ids that are both in the keys file and stored: the stored key is refused. */
function keyIdConflicts(keys: StoredKeys | null, log: Logger): (ids: readonly string[]) => void {
  return (ids) => {
    if (!keys || ids.length === 0) return;
    keys.storedIds(ids).then(
      (both) => {
        if (both.length > 0)
          log.warn(
            { event: 'keys_id_conflict', ids: both.slice(0, 20), count: both.length },
            'key ids both in the keys file and in Redis: the file key works, the stored key is refused',
          );
      },
      (err: unknown) =>
        log.warn(
          { event: 'keys_id_conflict_unchecked', err: (err as Error).message },
          'cannot check the keys file ids against the stored keys',
        ),
    );
  };
}

/** The verifier of the trusted JWT issuers' tokens, or null without issuers; key sets not fetched yet. */
function jwtVerifier(env: Env, issuers: readonly IssuerConfig[], deps: ServiceDeps): JwtVerifier | null {
  const { log, metrics, clock } = deps;
  if (issuers.length === 0) return null;
  return new JwtVerifier(issuers, {
    refreshMs: env.WARDEN_JWKS_REFRESH * 1000,
    cooldownMs: env.WARDEN_JWKS_COOLDOWN * 1000,
    timeoutMs: env.WARDEN_JWKS_TIMEOUT * 1000,
    fetch: deps.fetch,
    now: () => clock.now(),
    onFetch(issuer, outcome, error) {
      recordJwksFetch(metrics, issuer, outcome);
      if (outcome === 'error')
        log.warn(
          { event: 'jwks_fetch_failed', issuer, err: error },
          'cannot fetch the signing keys of an issuer; keys already held stay in use',
        );
    },
  });
}

/** Post a firing to WARDEN_ALERT_WEBHOOK_URL (when set) and report it: ops log, metrics. */
function alertNotifier(env: Env, deps: ServiceDeps): { notify: (f: Firing) => void; close: () => void } {
  const { log, metrics } = deps;
  const url = env.WARDEN_ALERT_WEBHOOK_URL;
  const hook = url
    ? new AlertWebhook({
        url,
        fetch: deps.fetch,
        onOutcome(outcome, detail) {
          metrics.alertDeliveries.inc({ result: outcome });
          if (outcome !== 'delivered')
            log.warn({ event: 'alert_delivery', outcome, detail }, `alert webhook: ${outcome} (${detail})`);
        },
      })
    : null;
  return {
    notify(f) {
      metrics.alertsFired.inc({ alert: f.alert });
      const text = firingText(f);
      log.warn({ event: 'alert_fired', alert: f.alert, subject: f.subject, delivered: hook !== null }, text);
      hook?.send({
        text,
        alert: { name: f.alert, on: f.on, by: f.by, threshold: f.threshold, window: f.windowSec },
        subject: f.subject,
        firedAt: new Date(f.at).toISOString(),
        windowEndsAt: new Date(f.windowEndsAt).toISOString(),
      });
    },
    close: () => hook?.close(),
  };
}

/** Build the store and start the mirrors (a failed first load is retried by their resync). */
export async function startServices(
  env: Env,
  issuers: readonly IssuerConfig[],
  deps: ServiceDeps,
): Promise<Services> {
  const { log, audit, metrics, clock } = deps;
  const store = openStore(env, { clock, log, metrics });
  if (!(await store.waitReady(5000)))
    log.warn(
      { event: 'redis_unavailable' },
      'Redis not ready after 5 s; starting anyway: limits use memory, API keys are refused until revocations load',
    );
  const revMirror = mirrorSet(store, 'revocations', true, env, log);
  const banned = mirrorSet(store, 'bans', false, env, log);
  // Admin bans may last 30 days: kept like revocations (the state dir without Redis), not like failure bans.
  const adminMirror = mirrorSet(store, 'admin-bans', true, env, log);
  await Promise.all([revMirror.start(), banned.start(), adminMirror.start()]);
  // Requests refused per revocation and per admin ban, added to the store once a second.
  const refused = new BatchedCounts(store.counts('refused'), clock);
  refused.start();
  const alerts = alertNotifier(env, deps);
  const jwt = jwtVerifier(env, issuers, deps);
  const stored = storedKeys(env, store, deps);
  // Not awaited: readiness reports the key sets, and the first token waits for a fetch in flight.
  if (jwt) void jwt.start();
  // A store (or a key set) that was down at start: retry the first load quickly rather than at the resync interval.
  const retry = setInterval(() => {
    jwt?.retryMissing();
    if (!revMirror.loaded) void revMirror.resync();
    if (!banned.loaded) void banned.resync();
    if (!adminMirror.loaded) void adminMirror.resync();
  }, 500);
  retry.unref();
  return {
    jwt,
    jwtCacheSize: env.WARDEN_JWT_CACHE_SIZE,
    clientCert: env.WARDEN_CLIENT_CERT,
    store,
    revocations: new Revocations(revMirror, refused),
    banned,
    adminBans: new AdminBans(adminMirror, refused),
    alertLog: new AlertLog(store, alerts.notify, (err) =>
      log.debug({ event: 'alert_store_error', err: err.message }, 'cannot record an alert firing'),
    ),
    storedKeys: stored,
    checkKeyIds: keyIdConflicts(stored, log),
    onBan(ip, until) {
      metrics.bans.inc();
      audit.admin({ event: 'ban_started', ip, until: new Date(until).toISOString() });
      log.warn(
        { event: 'ban_started', ip, until: new Date(until).toISOString() },
        'client IP banned for repeated failed credentials',
      );
    },
    ready() {
      const s = store.status();
      const jwks = jwt ? jwt.ready() : { ready: true, pending: [] };
      return {
        ready: s.ready && revMirror.loaded && banned.loaded && adminMirror.loaded && jwks.ready,
        store: s.detail,
        revocations: revMirror.loaded,
        bans: banned.loaded && adminMirror.loaded,
        jwks,
      };
    },
    async close() {
      clearInterval(retry);
      revMirror.stop();
      banned.stop();
      adminMirror.stop();
      refused.stop();
      alerts.close();
      await refused.flush().catch(() => undefined);
      await stored?.close().catch(() => undefined);
      await store.close();
    },
  };
}
