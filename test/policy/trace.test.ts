import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { policySchema } from '../../src/config/policy-schema.js';
import { compilePolicy } from '../../src/policy/compile.js';
import { decide, type DecisionInput } from '../../src/policy/decide.js';
import { TraceCollector } from '../../src/policy/trace.js';
import { canonicalizePath, matchKey } from '../../src/request/canonical-path.js';
import { parseAddress } from '../../src/request/client-ip.js';

const policy = compilePolicy(
  policySchema.parse(
    parse(readFileSync(join(import.meta.dirname, '..', '..', 'rbac', 'policy.yaml'), 'utf8')),
  ),
);

function req(raw: string, method = 'GET', host = 'api.example.com', ip = '10.1.2.3'): DecisionInput {
  const c = canonicalizePath(raw);
  if (!c.ok) throw new Error(c.detail);
  return {
    method,
    host,
    matchPath: matchKey(c.path),
    altMatchPaths: c.alternates?.map(matchKey) ?? null,
    clientIp: parseAddress(ip)!,
  };
}
const who = (roles: string[]) => ({
  identity: { sub: 's', name: '', email: '', roles, method: 'api_key' as const },
});

describe('decide() with a trace collector', () => {
  const cases: [DecisionInput, ReturnType<typeof who> | null][] = [
    [req('/health'), null],
    [req('/api/nodes'), who(['analyst'])],
    [req('/api/nodes', 'POST'), who(['analyst'])],
    [req('/internal/x'), who(['admin'])],
    [req('/x', 'GET', 'admin.example.com', '203.0.113.7'), who(['admin'])],
    [req('/nowhere'), null],
    [req('/nodes/a/../../internal/x'), who(['admin'])],
  ];

  it('takes exactly the decision decide() takes without one', () => {
    for (const [r, auth] of cases) {
      const t = new TraceCollector();
      const traced = decide(policy, r, auth, { tracer: t });
      expect(traced).toEqual(decide(policy, r, auth));
      expect(t.readings.at(-1)!.decision).toEqual({
        kind: traced.kind,
        reason: traced.reason,
        rule: traced.rule,
      });
    }
  });

  it('records every rule tried with why it did not match, and the permission check', () => {
    const t = new TraceCollector();
    decide(policy, req('/api/nodes', 'POST'), who(['analyst', 'viewer']), { tracer: t });
    expect(t.readings).toHaveLength(1);
    expect(t.readings[0]!.rules).toEqual([
      { index: 0, verdict: 'path' },
      { index: 1, verdict: 'methods' },
      { index: 2, verdict: 'match' },
    ]);
    expect(t.readings[0]!.require).toEqual({
      rule: 2,
      mode: 'any',
      checks: [{ permission: 'api:write', grantedBy: [] }],
    });
  });

  it('records host mismatches, rule networks and role grants', () => {
    const t = new TraceCollector();
    const d = decide(policy, req('/users', 'GET', 'admin.example.com', '203.0.113.7'), who(['admin']), {
      tracer: t,
    });
    expect(d.reason).toBe('network_not_allowed');
    expect(t.readings[0]!.networks).toEqual([{ scope: 6, allowed: false }]);
    const u = new TraceCollector();
    decide(policy, req('/users', 'GET', 'admin.example.com'), who(['viewer', 'admin']), { tracer: u });
    expect(u.readings[0]!.require!.checks).toEqual([
      { permission: 'admin:users', grantedBy: ['admin'] },
      { permission: 'admin:audit', grantedBy: ['admin'] },
    ]);
    const v = new TraceCollector();
    decide(policy, req('/users', 'GET', 'other.example.com'), null, { tracer: v });
    expect(v.readings[0]!.rules.find((r) => r.index === 6)).toEqual({ index: 6, verdict: 'host' });
  });

  it('traces each reading of an ambiguous path while every one is allowed', () => {
    const t = new TraceCollector();
    const d = decide(policy, req('/api/x/..'), who(['admin']), { tracer: t });
    expect(d.kind).toBe('allow');
    expect(t.readings.map((r) => r.matchPath)).toEqual(['/api/', '/api/x/..']);
  });
});
