import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { destinationSink } from '../../src/audit/sink.js';
import { Readiness } from '../../src/readiness.js';
import { policySchema } from '../../src/config/policy-schema.js';
import { createMetrics } from '../../src/metrics.js';
import { compileCidrs } from '../../src/request/client-ip.js';
import { buildRuntime, RuntimeState } from '../../src/runtime.js';
import type { Store } from '../../src/store/store.js';
import { send } from '../helpers/http.js';
import { Revocations } from '../../src/auth/revocations.js';
import { MirroredSet } from '../../src/store/mirror.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { systemClock } from '../../src/util/clock.js';

// A store that fails on every call, as a broken backend would.
const failing: Store = {
  kind: 'memory',
  limiter: () => ({ consume: () => Promise.reject(new Error('store down')) }) as never,
  set: () => {
    throw new Error('store down');
  },
  records: () => {
    throw new Error('store down');
  },
  counts: () => {
    throw new Error('store down');
  },
  status: () => ({ ready: false, detail: 'down' }),
  waitReady: () => Promise.resolve(false),
  close: async () => {},
};

const audit: Record<string, unknown>[] = [];
let url = '';
let close = () => {};
beforeAll(async () => {
  const policy = policySchema.parse({
    rateLimits: { l: { limit: 5, window: 60 } },
    rules: [{ match: { path: '/**' }, public: true, rateLimit: 'l' }],
  });
  const state = new RuntimeState(
    buildRuntime(
      { policy, keys: { keys: [] } },
      { store: failing, revocations: null, banned: null, onBan: () => {}, jwt: null, jwtCacheSize: 0 },
    ),
  );
  const sink = new Writable({
    write: (c, _e, cb) => {
      for (const l of String(c).split('\n').filter(Boolean)) audit.push(JSON.parse(l));
      cb();
    },
  });
  const readiness = new Readiness();
  readiness.register('policy', () => true);
  readiness.register('store', () => failing.status());
  const revocations = new Revocations(
    new MirroredSet(createMemoryStore().set('r', { persistent: false }), { resyncMs: 60_000 }),
  );
  const app = createApp({
    state,
    services: { store: failing, revocations },
    audit: createAuditLog([destinationSink('test', sink, systemClock)], systemClock),
    metrics: createMetrics(false),
    trustedProxies: compileCidrs(['127.0.0.1']),
    loginUrl: undefined,
    defaultDialect: 'traefik',
    now: () => systemClock.now(),
    readiness,
    serveMetrics: true,
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

describe('faults', () => {
  it('an exception in the decision answers 500, never a 2xx, and is audited', async () => {
    const r = await send(`${url}/verify/traefik`, {
      headers: {
        'X-Forwarded-Method': 'GET',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'a',
        'X-Forwarded-Uri': '/x',
        'X-Forwarded-For': '203.0.113.1',
      },
    });
    expect(r.status).toBe(500);
    expect(r.headers['x-user-id']).toBeUndefined();
    expect(r.headers['cache-control']).toBe('no-store');
    expect(audit.at(-1)).toMatchObject({ decision: 'error', reason: 'internal_error', status: 500 });
  });

  it('readiness reports the failing store', async () => {
    const r = await send(`${url}/readyz`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({
      ready: false,
      notReady: ['store'],
      parts: { policy: true, store: false },
      details: { store: 'down' },
    });
  });
});
