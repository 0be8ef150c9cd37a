// docs/metrics.md and deploy/grafana/ must match the metrics a running warden exposes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
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

describe('deploy/prometheus/warden-alerts.yaml', () => {
  const doc = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'warden-alerts.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    spec: {
      groups: {
        name: string;
        rules: {
          alert: string;
          expr: string;
          labels: Record<string, string>;
          annotations: Record<string, string>;
        }[];
      }[];
    };
  };
  const rules = doc.spec.groups.flatMap((g) => g.rules);

  it('is a PrometheusRule whose alerts are named, graded and explained', () => {
    expect(doc).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' });
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.alert).toMatch(/^Warden[A-Za-z]+$/);
      expect(['info', 'warning', 'critical']).toContain(r.labels.severity);
      expect(r.annotations.summary).toBeTruthy();
      // Balanced brackets: a typo in a hand-written expression shows here rather than in Prometheus.
      for (const [open, close] of [
        ['(', ')'],
        ['[', ']'],
        ['{', '}'],
      ] as const)
        expect(r.expr.split(open).length, `${r.alert}: ${open}${close}`).toBe(r.expr.split(close).length);
    }
  });

  it('names only metrics warden exposes', () => {
    const used = new Set(rules.flatMap((r) => [...r.expr.matchAll(/\bwarden_[a-z0-9_]+/g)].map((x) => x[0])));
    expect(used.size).toBeGreaterThan(8);
    expect([...used].filter((n) => !known(n))).toEqual([]);
  });

  it('covers what policy alerts count: failed authentications, denials and requests', () => {
    const exprs = rules.map((r) => r.expr).join('\n');
    expect(exprs).toContain('reason="invalid_credentials"');
    expect(exprs).toContain('decision!~"allow|would-deny"');
    expect(exprs).toMatch(/sum\(rate\(warden_decisions_total\[10m\]\)\)/);
  });
});
