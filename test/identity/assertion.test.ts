// X-Warden-Assertion: signed on every allow, verifiable with jose against /.well-known/jwks.json,
// rotated with the old key kept until its tokens expire; an unusable key file is exit 2.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { FakeClock } from '../helpers/clock.js';
import { send } from '../helpers/http.js';
import { makeDir, removeDir, testDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { developer: ['api:*'] },
  rules: [
    { match: { path: '/public/**' }, public: true },
    { match: { path: '/api/**' }, require: ['api:read'] },
  ],
};
const dev = testKey('dev-1', ['developer']);
const pem = (curve = 'prime256v1') =>
  generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;

const verify = (w: TestWarden, uri: string, headers: Record<string, string> = { 'X-API-Key': dev.key }) =>
  send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'app.example.com',
      'X-Forwarded-Uri': uri,
      'X-Forwarded-For': '203.0.113.5',
      ...headers,
    },
  });
const jwks = async (w: TestWarden) => JSON.parse((await send(`${w.url}/.well-known/jwks.json`)).body);
/** What an app does: verify against warden's published keys, for its own host, at `now` (warden's clock). */
const appVerifies = async (w: TestWarden, token: string, now = Date.now()) =>
  jwtVerify(token, createLocalJWKSet(await jwks(w)), {
    issuer: 'warden',
    audience: 'app.example.com',
    currentDate: new Date(now),
  });

describe('with a key file', () => {
  let w: TestWarden;
  let keyDir: string;
  let keyFile: string;
  // warden's time: tokens' iat/exp and key retirement; the app below verifies at the same time.
  const clock = new FakeClock();
  beforeAll(async () => {
    keyDir = makeDir('warden-assert-');
    keyFile = join(keyDir, 'assertion.pem');
    writeFileSync(keyFile, pem());
    w = await startWarden({
      policy,
      keys: [dev.entry],
      env: { WARDEN_ASSERTION_KEY: keyFile, WARDEN_ASSERTION_TTL: '5s' },
      clock,
    });
  });
  afterAll(async () => {
    try {
      await w.close();
    } finally {
      removeDir(keyDir);
    }
  });

  it('signs every allow: sub, roles, aud = the request host, short exp, jti; verifiable with jose', async () => {
    const r = await verify(w, '/api/x');
    expect(r.status).toBe(200);
    const token = r.headers['x-warden-assertion'] as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const { payload } = await appVerifies(w, token, clock.now());
    expect(payload).toMatchObject({
      iss: 'warden',
      sub: 'dev-1',
      roles: ['developer'],
      aud: 'app.example.com',
      auth_method: 'api_key',
    });
    expect(payload.exp! - payload.iat!).toBe(5);
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    // Another host's app refuses it: the audience is the host the request was for.
    await expect(
      jwtVerify(token, createLocalJWKSet(await jwks(w)), {
        issuer: 'warden',
        audience: 'other.example.com',
        currentDate: new Date(clock.now()),
      }),
    ).rejects.toThrow(/aud/);
  });

  it('reuses a token while it has half its life left, and sends the header empty on public routes', async () => {
    const a = (await verify(w, '/api/a')).headers['x-warden-assertion'];
    const b = (await verify(w, '/api/b')).headers['x-warden-assertion'];
    expect(b).toBe(a);
    const pub = await verify(w, '/public/x', {});
    expect(pub.status).toBe(200);
    expect(pub.headers['x-warden-assertion']).toBe('');
  });

  it('rotates on SIGHUP: the old key stays published until its tokens expire, then they fail', async () => {
    const old = (await verify(w, '/api/rot')).headers['x-warden-assertion'] as string;
    const oldKid = decodeProtectedHeader(old).kid;
    writeFileSync(keyFile, pem('secp384r1'));
    await w.hangup();
    const fresh = (await verify(w, '/api/rot')).headers['x-warden-assertion'] as string;
    expect(decodeProtectedHeader(fresh)).toMatchObject({ alg: 'ES384' });
    expect(decodeProtectedHeader(fresh).kid).not.toBe(oldKid);
    expect((await jwks(w)).keys.map((k: { kid: string }) => k.kid)).toContain(oldKid);
    await appVerifies(w, old, clock.now()); // still valid: its key is still published
    await appVerifies(w, fresh, clock.now());
    clock.advance(10_500); // ttl 5 s + 5 s grace
    expect((await jwks(w)).keys.map((k: { kid: string }) => k.kid)).not.toContain(oldKid);
    await expect(appVerifies(w, old, clock.now())).rejects.toThrow();
  });
});

describe('generated key', () => {
  it('is created in the state dir (mode 0600) and kept across restarts', async () => {
    // The second warden restarts from the first one's state dir: the test owns the dir, not the first warden.
    const w = await startWarden({
      policy,
      keys: [dev.entry],
      env: { WARDEN_ASSERTION_KEY: 'generate' },
      dir: testDir('warden-assert-'),
    });
    const stateDir = join(w.dir, 'state');
    let kid: string | undefined;
    try {
      const token = (await verify(w, '/api/x')).headers['x-warden-assertion'] as string;
      kid = decodeProtectedHeader(token).kid;
      await appVerifies(w, token);
      expect(statSync(join(stateDir, 'assertion-key.pem')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(stateDir, 'assertion-key.pem'), 'utf8')).toMatch(
        /^-----BEGIN PRIVATE KEY-----/,
      );
    } finally {
      await w.close();
    }
    const again = await startWarden({
      policy,
      keys: [dev.entry],
      env: { WARDEN_ASSERTION_KEY: 'generate', WARDEN_STATE_DIR: stateDir },
    });
    try {
      expect(
        decodeProtectedHeader((await verify(again, '/api/x')).headers['x-warden-assertion'] as string).kid,
      ).toBe(kid);
    } finally {
      await again.close();
    }
  });
});

describe('bad key configuration', () => {
  it('names an unreadable or unusable key file (exit 2 via ConfigError)', async () => {
    const dir = testDir('warden-assert-');
    const missing = await startWarden({ policy, env: { WARDEN_ASSERTION_KEY: join(dir, 'nope.pem') } }).catch(
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(ConfigError);
    expect(String(missing)).toContain(`${join(dir, 'nope.pem')} (WARDEN_ASSERTION_KEY): cannot read: ENOENT`);
    writeFileSync(join(dir, 'bad.pem'), 'not a key');
    const bad = await startWarden({ policy, env: { WARDEN_ASSERTION_KEY: join(dir, 'bad.pem') } }).catch(
      (e: unknown) => e,
    );
    expect(String(bad)).toContain('not a usable PEM private key');
    const ttl = await startWarden({
      policy,
      env: { WARDEN_ASSERTION_KEY: 'generate', WARDEN_ASSERTION_TTL: '5m' },
    }).catch((e: unknown) => e);
    expect(String(ttl)).toContain('WARDEN_ASSERTION_TTL');
  });

  it('/.well-known/jwks.json is 404 without an assertion key', async () => {
    const w = await startWarden({ policy });
    try {
      expect((await send(`${w.url}/.well-known/jwks.json`)).status).toBe(404);
      expect((await verify(w, '/public/x', {})).headers['x-warden-assertion']).toBeUndefined();
    } finally {
      await w.close();
    }
  });
});
