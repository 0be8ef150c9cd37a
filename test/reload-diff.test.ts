import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { diffDocuments, type DocumentsDiff } from '../src/config/documents-diff.js';
import { keysSchema } from '../src/config/keys-schema.js';
import { policySchema } from '../src/config/policy-schema.js';
import { startWarden, testKey, type LogLine, type TestWarden } from './helpers/warden.js';

const docs = (policy: unknown, keys: unknown[] = []) => ({
  policy: policySchema.parse(policy),
  keys: keysSchema.parse({ keys }),
});

describe('diffDocuments', () => {
  it('names rules by index and match: unchanged rules found even when shifted, edited ones as changed', () => {
    const a = docs({
      roles: { dev: ['x'] },
      rules: [
        { match: { path: '/a/**' }, require: ['x'] },
        { match: { path: '/b' }, public: true },
        { match: { path: '/c', methods: ['GET'] }, deny: true },
      ],
    });
    const b = docs({
      roles: { dev: ['x'] },
      rules: [
        { match: { path: '/new' }, public: true },
        { match: { path: '/a/**' }, require: ['x'] },
        { match: { path: '/b' }, require: ['x'] },
      ],
    });
    const d = diffDocuments(a, b);
    expect(d.rules).toEqual({
      added: [{ index: 0, match: '*/new' }],
      removed: [{ index: 2, match: 'GET */c' }],
      changed: [{ from: 1, to: 2, match: '*/b' }],
    });
    expect(d.summary).toBe('rules: 1 added, 1 removed, 1 changed');
  });

  it('diffs roles, rate limits and settings by name', () => {
    const a = docs({ roles: { dev: ['x'], old: ['y'] }, rateLimits: { api: { limit: 1, window: '1s' } } });
    const b = docs({
      roles: { dev: ['x', 'z'], fresh: [] },
      rateLimits: { api: { limit: 2, window: '1s' }, mcp: { limit: 1, window: '1m' } },
      default: 'authenticated',
      networks: ['10.0.0.0/8'],
    });
    const d = diffDocuments(a, b);
    expect(d.roles).toEqual({ added: ['fresh'], removed: ['old'], changed: ['dev'] });
    expect(d.rateLimits).toEqual({ added: ['mcp'], removed: [], changed: ['api'] });
    expect(d.settings).toEqual(['default', 'networks']);
    expect(d.summary).toBe(
      'roles: 1 added, 1 removed, 1 changed; rate limits: 1 added, 1 changed; settings changed: default, networks',
    );
  });

  it('diffs keys by id and names changed fields, never a hash', () => {
    const k1 = testKey('k1', ['dev']).entry;
    const k2 = testKey('k2', ['dev']).entry;
    const k3 = testKey('k3', ['dev']).entry;
    const rotated = { ...k2, sha256: testKey('k2-rotated', ['dev']).entry.sha256, roles: [] };
    const p = { roles: { dev: ['x'] } };
    const d = diffDocuments(docs(p, [k1, k2]), docs(p, [rotated, k3]));
    expect(d.keys).toEqual({
      added: ['k3'],
      removed: ['k1'],
      changed: [{ id: 'k2', fields: ['sha256', 'roles'] }],
    });
    const text = JSON.stringify(d);
    for (const k of [k1, k2, k3, rotated]) expect(text).not.toContain(String(k.sha256));
  });

  it('says no change for equal documents', () => {
    expect(diffDocuments(docs({}), docs({})).summary).toBe('no change');
  });
});

const key = testKey('k1', ['dev']);
const policyV1 = {
  roles: { dev: ['api:read'], ops: ['ops:*'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
let w: TestWarden;
beforeAll(async () => {
  w = await startWarden({ policy: policyV1, keys: [key.entry] });
});
afterAll(() => w.close());

describe('reload audit', () => {
  it('audits policy_reloaded with what changed, keys by id only', async () => {
    const before = w.audit.length;
    const k2 = testKey('k2', ['ops']);
    w.writePolicy({
      roles: { dev: ['api:read', 'api:write'] },
      rules: [
        { match: { path: '/api/**' }, require: ['api:write'] },
        { match: { path: '/ops/**' }, deny: true },
      ],
    });
    writeFileSync(w.keysPath, stringify({ keys: [key.entry, { ...k2.entry, roles: ['dev'] }] }));
    const r = await w.reload();
    expect(r).toMatchObject({ ok: true });
    const events = w.audit
      .slice(before)
      .filter((l): l is LogLine & DocumentsDiff => l.event === 'policy_reloaded');
    expect(events.length).toBeGreaterThan(0);
    // The watcher may reload between the two writes; the last event carries the final state.
    const all = events.map((e) => e.summary).join(' | ');
    expect(all).toMatch(/rules: 1 added, 1 changed/);
    expect(all).toMatch(/roles: 1 removed, 1 changed/);
    expect(all).toMatch(/keys: 1 added/);
    const last = events.at(-1)!;
    expect(last).toMatchObject({
      level: 'info',
      event: 'policy_reloaded',
      version: expect.any(Number),
      previousVersion: expect.any(Number),
    });
    const merged = {
      rules: events.flatMap((e) => [...e.rules.added, ...e.rules.changed]),
      keys: events.flatMap((e) => e.keys.added),
      roles: events.flatMap((e) => e.roles.removed),
    };
    expect(merged.rules).toContainEqual({ index: 1, match: '*/ops/**' });
    expect(merged.rules).toContainEqual({ from: 0, to: 0, match: '*/api/**' });
    expect(merged.keys).toEqual(['k2']);
    expect(merged.roles).toEqual(['ops']);
    const text = JSON.stringify(w.audit.slice(before));
    expect(text).not.toContain(String(key.entry.sha256));
    expect(text).not.toContain(String(k2.entry.sha256));
  });

  it('audits config_rejected with every problem, and nothing when a reload changes nothing', async () => {
    const before = w.audit.length;
    w.writePolicy(
      'rules:\n  - match: { path: /api/** }\n    rateLimit: nope\n  - match: { path: /b }\n    require: 7\n',
    );
    const r = await w.reload();
    expect(r.ok).toBe(false);
    const rejected = w.audit.slice(before).find((l) => l.event === 'config_rejected')!;
    expect(rejected.trigger).toBeDefined();
    const problems = rejected.problems as string[];
    expect(problems.join('\n')).toMatch(/rules\[0\]\.rateLimit: rate limit "nope" is not defined/);
    expect(problems.join('\n')).toMatch(/rules\[1\]\.require: /);
    w.writePolicy(policyV1);
    await w.reload();
    const mark = w.audit.length;
    expect(await w.reload()).toMatchObject({ ok: true, changed: false });
    expect(w.audit.slice(mark).filter((l) => l.event === 'policy_reloaded')).toEqual([]);
  });
});
