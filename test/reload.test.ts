import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { send } from './helpers/http.js';
import { startWarden, testKey, type TestWarden } from './helpers/warden.js';

const policyV1 = {
  roles: { dev: ['api:read'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const policyV2 = { roles: { dev: ['api:read'] }, rules: [{ match: { path: '/api/**' }, deny: true }] };
const k = testKey('k1', ['dev']);
const k2 = testKey('k2', ['dev']);
let w: TestWarden;
beforeAll(async () => {
  w = await startWarden({ policy: policyV1, keys: [k.entry] });
});
afterAll(() => w.close());

const ask = (key: string) =>
  send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'a.example',
      'X-Forwarded-Uri': '/api/x',
      'X-Forwarded-For': '203.0.113.1',
      'X-API-Key': key,
    },
  }).then((r) => r.status);

async function eventually(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe('hot reload', () => {
  it('picks up a changed policy file without a restart', async () => {
    expect(await ask(k.key)).toBe(200);
    w.writePolicy(policyV2);
    await eventually(async () => (await ask(k.key)) === 403);
    w.writePolicy(policyV1);
    await eventually(async () => (await ask(k.key)) === 200);
  });

  it('picks up a new key in the keys file', async () => {
    expect(await ask(k2.key)).toBe(401);
    writeFileSync(w.keysPath, stringify({ keys: [k.entry, k2.entry] }));
    await eventually(async () => (await ask(k2.key)) === 200);
  });

  it('rejects an invalid version, logs why, and keeps the old one in force', async () => {
    const before = w.ops.length;
    w.writePolicy('rules:\n  - match: { path: /api/** }\n    rateLimit: undefined-limit\n');
    await eventually(() => w.ops.slice(before).some((l) => l.event === 'config_rejected'));
    const rejected = w.ops.slice(before).find((l) => l.event === 'config_rejected')!;
    expect((rejected.problems as string[]).join('\n')).toMatch(
      /rules\[0\]\.rateLimit: rate limit "undefined-limit" is not defined/,
    );
    expect(await ask(k.key)).toBe(200);
  });

  it('reloads on demand (SIGHUP path) and reports no change when nothing changed', async () => {
    w.writePolicy(policyV1);
    await eventually(async () => (await w.reload()).ok);
    const before = w.ops.length;
    const r = await w.reload();
    expect(r).toMatchObject({ ok: true, changed: false });
    expect(w.ops.slice(before)).toContainEqual(
      expect.objectContaining({
        event: 'policy_unchanged',
        trigger: 'api',
        msg: 'policy and keys reloaded: nothing changed',
      }),
    );
  });

  it('swaps atomically: under concurrent load every answer comes from one whole version', async () => {
    // V1 allows /api (200); V2 denies it (403). Any other status would mean a half-built policy.
    const statuses = new Set<number>();
    let flips = 0;
    const load = (async () => {
      for (let i = 0; i < 300; i++) statuses.add(await ask(k.key));
    })();
    while (flips < 6) {
      w.writePolicy(flips % 2 === 0 ? policyV2 : policyV1);
      flips++;
      await w.reload();
    }
    await load;
    expect([...statuses].every((s) => s === 200 || s === 403)).toBe(true);
  });
});
