// A keys file of 100 000 entries (one key per customer or agent): it loads, its last key works, and
// oversized or degenerate files get a clear, bounded refusal.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/apikey.js';
import { MAX_LISTED_PROBLEMS } from '../../src/config/errors.js';
import { configProblems } from '../helpers/config.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { send } from '../helpers/http.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { agent: ['api:read'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const N = 100_000;
const keyOf = (i: number) => `wdn_customer_${i}_${'k'.repeat(24)}`;

/** A keys file as a generator would write it: block YAML, one entry per key. */
function keysYaml(count: number, id: (i: number) => string = (i) => `customer-${i}`): string {
  const lines = ['keys:'];
  for (let i = 0; i < count; i++)
    lines.push(
      `  - id: ${id(i)}`,
      `    name: Customer ${i}`,
      `    sha256: ${hashKey(keyOf(i))}`,
      '    roles: [agent]',
      '    expires: 2099-12-31T00:00:00Z',
    );
  return lines.join('\n') + '\n';
}

function ask(w: TestWarden, key: string) {
  return send(`${w.url}/verify/traefik`, { headers: traefikHeaders('/api/nodes', '203.0.113.7', key) });
}

describe('a keys file of 100 000 keys', () => {
  it('loads (over the 4 MiB of a policy), and its first and last keys work', async () => {
    const dir = testDir('warden-many-keys-');
    const file = join(dir, 'keys.yaml');
    const text = keysYaml(N);
    expect(text.length).toBeGreaterThan(4 * 1024 * 1024);
    writeFileSync(file, text);
    const w = await startWarden({ policy, env: { WARDEN_API_KEYS: file } });
    try {
      const last = await ask(w, keyOf(N - 1));
      expect(last.status).toBe(200);
      expect(last.headers['x-user-id']).toBe(`customer-${N - 1}`);
      expect((await ask(w, keyOf(0))).status).toBe(200);
      expect((await ask(w, keyOf(N))).status).toBe(401);
    } finally {
      await w.close();
    }
  }, 60_000);

  it('is refused above WARDEN_MAX_KEYS_BYTES, naming the limit', async () => {
    const dir = testDir('warden-many-keys-');
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, keysYaml(2000));
    const problems = await configProblems({ WARDEN_API_KEYS: file, WARDEN_MAX_KEYS_BYTES: '64KiB' });
    expect(problems).toEqual([
      `${file} (WARDEN_API_KEYS): document larger than 64 KiB (WARDEN_MAX_KEYS_BYTES)`,
    ]);
  });

  it('a file whose every id is the same is refused with a bounded list of problems', async () => {
    const dir = testDir('warden-many-keys-');
    const file = join(dir, 'keys.yaml');
    writeFileSync(
      file,
      keysYaml(20_000, () => 'same'),
    );
    const started = performance.now();
    const problems = await configProblems({ WARDEN_API_KEYS: file });
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(problems).toHaveLength(MAX_LISTED_PROBLEMS + 1);
    expect(problems[0]).toContain('keys[1].id');
    expect(problems.at(-1)).toContain(`… and ${19_999 - MAX_LISTED_PROBLEMS} more problems`);
  });

  it('a document whose aliases would expand to billions of values is refused, not walked', async () => {
    const dir = testDir('warden-many-keys-');
    const file = join(dir, 'keys.yaml');
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `l${i}: &l${i} [${Array(10)
          .fill(i === 1 ? '*a' : `*l${i - 1}`)
          .join(',')}]`,
      );
    writeFileSync(file, `${levels.join('\n')}\nkeys: []\n`);
    const problems = await configProblems({ WARDEN_API_KEYS: file });
    expect(problems.join('\n')).toContain('aliases (*name) expand to more than 5000000 values');
  });
});
