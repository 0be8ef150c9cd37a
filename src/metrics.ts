// Prometheus metrics (prom-client), served on /metrics: decisions, latency, limits, Redis, reloads, JWKS, audit.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuditSink } from './audit/sink.js';
import { LatencyHistogram } from './latency-histogram.js';

/** Outcome of one JWKS fetch, for {@link recordJwksFetch}. */
export type JwksFetchResult = 'ok' | 'not_modified' | 'error';

/** The metrics warden records. One registry per app, no globals. */
export interface Metrics {
  registry: Registry;
  // /verify
  decisions: Counter<'decision' | 'reason' | 'dialect' | 'auth_method'>;
  latency: LatencyHistogram<'dialect'>;
  /** Count one /verify decision and its latency (labelled children cached: the hot path). */
  decided(decision: string, reason: string, dialect: string, authMethod: string, seconds: number): void;
  // Audit
  /** Report these sinks' queue depth and drops on scrape. */
  watchAudit(sinks: readonly AuditSink[]): void;
  // Rate limits and bans
  /** Requests refused by a rate limit, by limit name. */
  rateLimited: Counter<'limit'>;
  /** Requests refused because their client IP (or, for an admin ban, identity) is banned. */
  bannedRequests: Counter;
  /** Count one request refused by an admin ban (POST /admin/bans); ban ids beyond the first 1000 count as `other`. */
  banRefused(type: string, ban: string): void;
  /** Alerts fired (once per window and subject, across replicas), by alert name. */
  alertsFired: Counter<'alert'>;
  /** Alert webhook POSTs by outcome: delivered, retried, failed, dropped. */
  alertDeliveries: Counter<'result'>;
  insurance: Counter<'limit'>;
  bans: Counter;
  // Store
  redisErrors: Counter;
  redisUp: Gauge;
  revocations: Counter<'op'>;
  /** Stored-key lookups that went to Redis (not answered from the cache), by result. */
  storedKeyLookups: Counter<'result'>;
  // Reloads and key sets
  /** Policy and keys reloads: `changed`, `unchanged`, `rejected`. */
  reloads: Counter<'result'>;
  /** JWKS fetches by issuer and result; count them with {@link recordJwksFetch}. */
  jwksFetches: Counter<'issuer' | 'result'>;
  // MCP
  /** Count one `tools/call` judged by `mcp` sub-rules; tool names beyond the first 200 count as `other`. */
  mcpCalled(tool: string, decision: 'allow' | 'deny'): void;
}

/** Count one JWKS fetch (the JWT authenticator calls this for each key-set download). */
export function recordJwksFetch(metrics: Metrics, issuer: string, result: JwksFetchResult): void {
  metrics.jwksFetches.inc({ issuer, result });
}

/**
 * Create a registry with warden's metrics and the process defaults. `enabled: false`
 * (`WARDEN_METRICS=false`) keeps the same objects but /verify counts nothing.
 */
export function createMetrics(withDefaults = true, enabled = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'warden_' });
  return {
    registry,
    ...verifyMetrics(registry, enabled),
    ...auditMetrics(registry),
    ...limitMetrics(registry),
    ...storeMetrics(registry),
    ...reloadMetrics(registry),
    ...mcpMetrics(registry, enabled),
  };
}

/** The most distinct tool names labelled: a client choosing names must not grow the registry without bound. */
export const MCP_TOOL_LABELS = 200;

/** MCP tool calls judged by sub-rules, by tool and outcome. */
function mcpMetrics(registry: Registry, enabled: boolean): Pick<Metrics, 'mcpCalled'> {
  const calls = new Counter({
    name: 'warden_mcp_calls_total',
    help: `MCP tools/call calls judged by mcp sub-rules, by tool (the first ${MCP_TOOL_LABELS} names; then "other") and decision`,
    labelNames: ['tool', 'decision'] as const,
    registers: [registry],
  });
  const named = new Set<string>();
  return {
    mcpCalled(tool, decision) {
      if (!enabled) return;
      if (!named.has(tool) && named.size < MCP_TOOL_LABELS) named.add(tool);
      calls.inc({ tool: named.has(tool) ? tool : 'other', decision });
    },
  };
}

/** Latency buckets of /verify, in seconds. */
const VERIFY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 0.5];

/** /verify decisions and latency, and `decided`, which records both (or nothing when not `enabled`). */
function verifyMetrics(
  registry: Registry,
  enabled: boolean,
): Pick<Metrics, 'decisions' | 'latency' | 'decided'> {
  // The hot path only bumps plain numbers; prom-client reads them when /metrics is scraped.
  // Label values come from fixed sets (decisions, reasons, dialects, methods): the maps stay small.
  const counts = new Map<string, { labels: [string, string, string, string]; n: number }>();
  const decisions = new Counter({
    name: 'warden_decisions_total',
    help: 'Decisions taken on /verify by result, reason, dialect and auth method',
    labelNames: ['decision', 'reason', 'dialect', 'auth_method'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, n } of counts.values()) this.labels(...labels).inc(n);
    },
  });
  const latency = new LatencyHistogram({
    name: 'warden_verify_duration_seconds',
    help: 'Time to answer /verify, by dialect',
    labelName: 'dialect',
    buckets: VERIFY_BUCKETS,
    registry,
  });
  return {
    decisions,
    latency,
    decided: !enabled
      ? () => {}
      : function decided(decision, reason, dialect, authMethod, seconds) {
          const key = `${decision}|${reason}|${dialect}|${authMethod}`;
          const c = counts.get(key);
          if (c) c.n++;
          else counts.set(key, { labels: [decision, reason, dialect, authMethod], n: 1 });
          latency.record(dialect, seconds);
        },
  };
}

/** Queue depth and drops of the audit sinks given to `watchAudit`, read on scrape. */
function auditMetrics(registry: Registry): Pick<Metrics, 'watchAudit'> {
  let auditSinks: readonly AuditSink[] = [];
  new Gauge({
    name: 'warden_audit_queue_depth',
    help: 'Audit events accepted by a sink and not yet delivered',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      for (const s of auditSinks) this.set({ sink: s.name }, s.queued());
    },
  });
  new Counter({
    name: 'warden_audit_dropped_total',
    help: 'Audit events a sink had to drop: queue full, write failed, or undelivered at shutdown',
    labelNames: ['sink'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of auditSinks) this.inc({ sink: s.name }, s.dropped());
    },
  });
  return {
    watchAudit(sinks) {
      auditSinks = sinks;
    },
  };
}

/** The most distinct ban ids labelled: bans come and go, the registry must not grow with them forever. */
export const BAN_LABELS = 1000;

/** Requests refused by rate limits and bans, bans started, limits answered from memory without Redis, alerts. */
function limitMetrics(
  registry: Registry,
): Pick<
  Metrics,
  'rateLimited' | 'bannedRequests' | 'insurance' | 'bans' | 'banRefused' | 'alertsFired' | 'alertDeliveries'
> {
  const banRefusals = new Counter({
    name: 'warden_ban_refusals_total',
    help: `Requests refused (429) by an admin ban, by ban type (ip, cidr, identity) and ban id (the first ${BAN_LABELS}; then "other")`,
    labelNames: ['type', 'ban'] as const,
    registers: [registry],
  });
  const named = new Set<string>();
  return {
    banRefused(type, ban) {
      if (!named.has(ban) && named.size < BAN_LABELS) named.add(ban);
      banRefusals.inc({ type, ban: named.has(ban) ? ban : 'other' });
    },
    alertsFired: new Counter({
      name: 'warden_alerts_fired_total',
      help: 'Policy alerts fired by this replica (once per window and subject across replicas), by alert name',
      labelNames: ['alert'],
      registers: [registry],
    }),
    alertDeliveries: new Counter({
      name: 'warden_alert_deliveries_total',
      help: 'Alert webhook POSTs by outcome: delivered, retried (a failed attempt), failed (gave up), dropped (queue full)',
      labelNames: ['result'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'warden_rate_limited_total',
      help: 'Requests refused by a rate limit (429), by limit name',
      labelNames: ['limit'],
      registers: [registry],
    }),
    bannedRequests: new Counter({
      name: 'warden_banned_requests_total',
      help: 'Requests refused (429) because their client IP or identity is banned (failed credentials or an admin ban)',
      registers: [registry],
    }),
    insurance: new Counter({
      name: 'warden_rate_limit_insurance_total',
      help: 'Rate-limit decisions taken from the in-memory insurance limiter while Redis was unavailable',
      labelNames: ['limit'],
      registers: [registry],
    }),
    bans: new Counter({
      name: 'warden_bans_total',
      help: 'Client IPs banned for repeated failed credentials',
      registers: [registry],
    }),
  };
}

/** The Redis connection (errors, readiness), the revocation set and the stored keys kept in the store. */
function storeMetrics(
  registry: Registry,
): Pick<Metrics, 'redisErrors' | 'redisUp' | 'revocations' | 'storedKeyLookups'> {
  return {
    redisErrors: new Counter({
      name: 'warden_redis_errors_total',
      help: 'Redis connection and command errors',
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: 'warden_redis_up',
      help: '1 when the Redis connection is ready',
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'warden_revocations_total',
      help: 'Revocations added and removed',
      labelNames: ['op'],
      registers: [registry],
    }),
    storedKeyLookups: new Counter({
      name: 'warden_stored_key_lookups_total',
      help: 'Stored-key lookups that went to Redis, by result: found, unknown, unavailable',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** What warden reloads while running: policy and keys files, and issuers' JWKS key sets. */
function reloadMetrics(registry: Registry): Pick<Metrics, 'reloads' | 'jwksFetches'> {
  return {
    reloads: new Counter({
      name: 'warden_policy_reloads_total',
      help: 'Policy and keys reloads by result: changed, unchanged, rejected',
      labelNames: ['result'],
      registers: [registry],
    }),
    jwksFetches: new Counter({
      name: 'warden_jwks_fetches_total',
      help: 'JWKS downloads by issuer and result (ok, not_modified, error)',
      labelNames: ['issuer', 'result'],
      registers: [registry],
    }),
  };
}
