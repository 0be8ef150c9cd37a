// The admin API's credential check: the same refusals as /verify, duplicated credential headers included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const ops = testKey('ops-1', ['ops']);
const dev = testKey('dev-1', ['developer']);

let w: TestWarden;
beforeAll(async () => {
  w = await startWarden({
    policy: { roles: { ops: ['warden:admin'], developer: ['api:read'] } },
    keys: [ops.entry, dev.entry],
  });
});
afterAll(() => w.close());

const revocations = (headers: [string, string][]) => send(`${w.url}/admin/revocations`, { headers });
const lastAdminEvent = () => w.audit.filter((l) => typeof l.event === 'string').at(-1);

describe('admin API credentials', () => {
  it('accepts one admin key, as X-API-Key or Authorization: Bearer', async () => {
    expect((await revocations([['X-API-Key', ops.key]])).status).toBe(200);
    expect((await revocations([['Authorization', `Bearer ${ops.key}`]])).status).toBe(200);
  });

  it.each([
    [
      'X-API-Key twice, both the admin key',
      [
        ['X-API-Key', ops.key],
        ['X-API-Key', ops.key],
      ],
    ],
    [
      'X-API-Key twice, the admin key second',
      [
        ['X-API-Key', dev.key],
        ['X-API-Key', ops.key],
      ],
    ],
    [
      'Authorization twice',
      [
        ['Authorization', `Bearer ${ops.key}`],
        ['Authorization', `Bearer ${ops.key}`],
      ],
    ],
    [
      'X-API-Key and a Bearer token',
      [
        ['X-API-Key', ops.key],
        ['Authorization', `Bearer ${ops.key}`],
      ],
    ],
  ] as [string, [string, string][]][])('refuses %s unread (401, cause malformed)', async (_, headers) => {
    const r = await revocations(headers);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized', reason: 'invalid_credentials' });
    expect(r.headers['www-authenticate']).toBe('Bearer realm="warden", error="invalid_token"');
    expect(lastAdminEvent()).toMatchObject({
      event: 'admin_denied',
      reason: 'invalid_credentials',
      cause: 'malformed',
    });
  });

  it('refuses no credential (401) and a key without warden:admin (403)', async () => {
    expect((await revocations([])).status).toBe(401);
    expect(lastAdminEvent()).toMatchObject({ event: 'admin_denied', reason: 'missing_credentials' });
    expect((await revocations([['X-API-Key', dev.key]])).status).toBe(403);
    expect(lastAdminEvent()).toMatchObject({ event: 'admin_denied', reason: 'insufficient_permissions' });
  });
});
