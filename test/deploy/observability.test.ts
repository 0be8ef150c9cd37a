// docs/metrics.md and deploy/grafana/ must match the metrics a running warden exposes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { scrape, type Scrape } from '../helpers/prometheus.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { ifStarted } from '../helpers/hooks.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dev = testKey('dev', ['developer']);
let w: TestWarden;
let m: Scrape;

beforeAll(async () => {
  w = await startWarden({
    policy: {
      roles: { developer: ['api:*'] },
      rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
    },
    keys: [dev.entry],
  });
  await send(`${w.url}/verify/traefik`, { headers: traefikHeaders('/api/x', '203.0.113.1', dev.key) });
  m = await scrape(`${w.url}/metrics`);
});
afterAll(() => ifStarted(w)?.close());

/** A metric name as queried: a family, or a histogram family's _bucket/_sum/_count series. */
function known(name: string): boolean {
  const families = new Set(m.families.map((f) => f.name));
  return families.has(name) || families.has(name.replace(/_(bucket|sum|count)$/, ''));
}

describe('docs/metrics.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'metrics.md'), 'utf8');

  it('lists every metric a running warden exposes', () => {
    const missing = m.families.map((f) => f.name).filter((name) => !doc.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });

  it('names no metric warden does not expose', () => {
    const named = [...doc.matchAll(/`(warden_[a-z0-9_]+)`/g)].map((x) => x[1]!);
    expect(named.filter((n) => !known(n))).toEqual([]);
  });
});

describe('deploy/grafana/warden-dashboard.json', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'warden-dashboard.json'), 'utf8'));
  const exprs: string[] = dash.panels.flatMap((p: { targets?: { expr: string }[] }) =>
    (p.targets ?? []).map((t) => t.expr),
  );

  it('queries only metrics warden exposes', () => {
    expect(exprs.length).toBeGreaterThan(20);
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\bwarden_[a-z0-9_]+/g)].map((x) => x[0])));
    expect([...used].filter((n) => !known(n))).toEqual([]);
  });

  it('charts each of warden’s own metrics', () => {
    const own = m.families.map((f) => f.name).filter((n) => !/^warden_(process|nodejs)_/.test(n));
    expect(own.filter((n) => !exprs.some((e) => e.includes(n)))).toEqual([]);
  });

  it('is importable: a data source input, unique panel ids, every panel on the grid', () => {
    expect(dash.__inputs[0]).toMatchObject({ type: 'datasource', pluginId: 'prometheus' });
    const ids = dash.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) expect(p.gridPos.w).toBeGreaterThan(0);
  });
});
