// Prometheus metrics of decisions and latency (prom-client), served on /metrics.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The metrics warden records. One registry per app, no globals. */
export interface Metrics {
  registry: Registry;
  decisions: Counter<'decision' | 'reason' | 'dialect' | 'auth_method'>;
  latency: Histogram<'dialect'>;
}

/** Create a registry with warden's metrics and the process defaults. */
export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'warden_' });
  return {
    registry,
    decisions: new Counter({
      name: 'warden_decisions_total',
      help: 'Decisions taken on /verify by result, reason, dialect and auth method',
      labelNames: ['decision', 'reason', 'dialect', 'auth_method'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'warden_verify_duration_seconds',
      help: 'Time to answer /verify',
      labelNames: ['dialect'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1],
      registers: [registry],
    }),
  };
}
