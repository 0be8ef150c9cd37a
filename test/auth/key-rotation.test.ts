import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/apikey.js';
import { FakeClock } from '../helpers/clock.js';
import { configProblems } from '../helpers/config.js';
import { traefikHeaders } from '../helpers/replicas.js';
import { send } from '../helpers/http.js';
import { testDir } from '../helpers/tmp.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { dev: ['api:read'] },
  rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
};
const OLD = 'wdn_old_key_of_agent_1_xxxxxxxxxxxxxxxxxxx';
const NEW = 'wdn_new_key_of_agent_1_xxxxxxxxxxxxxxxxxxx';
const HOUR = 3_600_000;

function ask(w: TestWarden, key: string, reqId: string) {
  return send(`${w.url}/verify/traefik`, {
    headers: { ...traefikHeaders('/api/nodes', '203.0.113.7', key), 'X-Request-ID': reqId },
  });
}

describe('a rotated key', () => {
  it('keeps one identity: both keys pass until the grace ends, the audit line says which was used', async () => {
    const clock = new FakeClock(Date.parse('2026-12-01T00:00:00Z'));
    const graceEnd = new Date(clock.now() + 24 * HOUR).toISOString();
    const entry = {
      id: 'agent-1',
      sha256: hashKey(NEW),
      previous: [{ sha256: hashKey(OLD), expires: graceEnd }],
      roles: ['dev'],
    };
    const w = await startWarden({ policy, keys: [entry], clock });
    try {
      const line = (reqId: string) => w.audit.find((l) => l.reqId === reqId);
      const fresh = await ask(w, NEW, 'new-1');
      expect(fresh.status).toBe(200);
      expect(fresh.headers['x-user-id']).toBe('agent-1');
      const old = await ask(w, OLD, 'old-1');
      expect(old.status).toBe(200);
      expect(old.headers['x-user-id']).toBe('agent-1');
      expect(line('new-1')).toMatchObject({ keyId: 'agent-1', keyVersion: 'current' });
      expect(line('old-1')).toMatchObject({ keyId: 'agent-1', keyVersion: 'previous' });
      clock.advance(24 * HOUR);
      expect((await ask(w, OLD, 'old-2')).status).toBe(401);
      expect(line('old-2')).toMatchObject({ keyId: 'agent-1', cause: 'expired' });
      expect((await ask(w, NEW, 'new-2')).status).toBe(200);
    } finally {
      await w.close();
    }
  });

  it('is refused in the keys file when an old hash is another key’s, or on a certificate entry', async () => {
    const keys = [
      'keys:',
      `  - { id: a, sha256: ${hashKey(NEW)}, roles: [dev], previous: [{ sha256: ${hashKey(OLD)}, expires: 2027-01-01T00:00:00Z }] }`,
      `  - { id: b, sha256: ${hashKey(OLD)}, roles: [dev] }`,
      `  - { id: c, certSubject: "CN=c", previous: [{ sha256: ${'c'.repeat(64)}, expires: 2027-01-01T00:00:00Z }] }`,
      `  - { id: d, sha256: ${'d'.repeat(64)}, previous: [{ sha256: ${'e'.repeat(64)} }] }`,
    ].join('\n');
    const dir = testDir('warden-rotate-');
    writeFileSync(join(dir, 'keys.yaml'), keys + '\n');
    const text = (
      await configProblems({ WARDEN_POLICY: JSON.stringify(policy), WARDEN_API_KEYS: join(dir, 'keys.yaml') })
    ).join('\n');
    expect(text).toMatch(/keys\[0\]\.previous\[0\]\.sha256: same key hash as keys\[1\]|keys\[1\]\.sha256: /);
    expect(text).toMatch(/keys\[2\]\.previous: previous keys belong to an entry with sha256/);
    expect(text).toMatch(/keys\[3\]\.previous\[0\]\.expires: /);
  });
});
