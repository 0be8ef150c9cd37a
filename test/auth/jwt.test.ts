// Bearer JWTs through a real warden: allow, roles from claims, and every forgery of issue 4 refused with its cause.
import { CompactEncrypt, exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import {
  makeKey,
  signRaw,
  startIssuer,
  unsignedToken,
  type TestIssuer,
  type TestKey,
} from '../helpers/issuer.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const policy = {
  roles: { admin: ['*'], developer: ['api:*'], viewer: ['nodes:read'], ops: ['warden:admin'] },
  claims: { roles: 'groups', map: { 'idp-admins': 'admin', 'idp-devs': 'developer' } },
  rateLimits: { per_user: { limit: 2, window: '60s', by: 'identity' } },
  rules: [
    { match: { path: '/api/**' }, require: ['api:read'] },
    { match: { path: '/nodes/**' }, require: ['nodes:read'] },
    { match: { path: '/limited/**' }, require: ['api:read'], rateLimit: 'per_user' },
  ],
};
const AUD = 'https://api.example.com';
const ops = testKey('ops-1', ['ops']);

let a: TestIssuer;
let b: TestIssuer;
let es: TestKey;
let rs: TestKey;
let bKey: TestKey;
let w: TestWarden;
/** Every token the tests minted: none may appear in any audit or log line. */
const minted: string[] = [];

beforeAll(async () => {
  es = await makeKey('ES256');
  rs = await makeKey('RS256');
  bKey = await makeKey('RS256');
  a = await startIssuer([es, rs]);
  b = await startIssuer([bKey]);
  const issuers = [
    { issuer: a.issuer, audience: AUD, subjectPrefix: 'a:' },
    {
      issuer: b.issuer,
      audience: [AUD, 'other'],
      jwksUri: b.jwksUri,
      rolesClaim: 'realm_access.roles',
      subjectPrefix: 'b:',
      algorithms: ['RS256'],
    },
  ];
  w = await startWarden({ policy, keys: [ops.entry], env: { WARDEN_JWT_ISSUERS: JSON.stringify(issuers) } });
});
afterAll(async () => {
  await w.close();
  await a.close();
  await b.close();
  const lines = [...w.audit, ...w.ops].map((l) => JSON.stringify(l));
  // A token's signature (or, unsigned, the whole token) is what must never be written anywhere.
  const secrets = minted.map((t) => t.split('.')[2] ?? '').map((s, i) => (s.length >= 16 ? s : minted[i]!));
  for (const s of secrets) for (const l of lines) expect(l.includes(s)).toBe(false);
});

let client = 0;
/** Each request from its own client IP, so the refusals below never add up to a ban. */
const verify = (token: string, uri = '/api/x') =>
  send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': 'GET',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'app.example.com',
      'X-Forwarded-Uri': uri,
      'X-Forwarded-For': `198.18.${client >> 8}.${client++ & 255}`,
      Authorization: `Bearer ${token}`,
    },
  });
const mint = async (
  iss: TestIssuer,
  claims: Record<string, unknown>,
  opts?: Parameters<TestIssuer['mint']>[1],
) => {
  const t = await iss.mint({ aud: AUD, sub: 'user-1', ...claims }, opts);
  minted.push(t);
  return t;
};
const lastAudit = () => w.audit[w.audit.length - 1]!;
const now = () => Math.floor(Date.now() / 1000);

describe('accepted tokens', () => {
  it('allows an ES256 and an RS256 token with identity headers and X-Auth-Method: jwt', async () => {
    for (const key of [es, rs]) {
      const r = await verify(
        await mint(a, { groups: ['idp-devs'], name: 'Ada Lovelace', email: 'ada@example.com' }, { key }),
      );
      expect(r.status, key.alg).toBe(200);
      expect(r.headers).toMatchObject({
        'x-user-id': 'a:user-1',
        'x-user-roles': 'developer',
        'x-user-name': 'Ada Lovelace',
        'x-user-email': 'ada@example.com',
        'x-auth-method': 'jwt',
      });
      expect(lastAudit()).toMatchObject({ decision: 'allow', authMethod: 'jwt', sub: 'a:user-1' });
    }
  });

  it('maps IdP groups through claims.map, drops groups that are no role, and denies by role', async () => {
    const t = await mint(a, { groups: ['idp-admins', 'Domain Users', 'viewer'] });
    const r = await verify(t, '/admin/x');
    expect(r.status).toBe(403); // no rule: default deny still applies to authenticated callers
    const ok = await verify(t, '/api/x');
    expect(ok.headers['x-user-roles']).toBe('admin,viewer');
    const viewerOnly = await verify(await mint(a, { groups: ['viewer'] }), '/api/x');
    expect(viewerOnly.status).toBe(403);
    expect(JSON.parse(viewerOnly.body)).toMatchObject({ error: 'forbidden', required: ['api:read'] });
    expect((await verify(await mint(a, { groups: ['viewer'] }), '/nodes/1')).status).toBe(200);
  });

  it("takes roles from an issuer's own dotted claim and prefixes its subjects", async () => {
    const r = await verify(await mint(b, { realm_access: { roles: ['developer'] }, groups: ['idp-admins'] }));
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'x-user-id': 'b:user-1', 'x-user-roles': 'developer' });
  });

  it('keeps the same sub from two issuers apart: two users, each with its own rate limit', async () => {
    const fromA = await mint(a, { sub: 'shared', groups: ['idp-devs'] });
    const fromB = await mint(b, { sub: 'shared', realm_access: { roles: ['developer'] } });
    expect((await verify(fromA)).headers['x-user-id']).toBe('a:shared');
    expect((await verify(fromB)).headers['x-user-id']).toBe('b:shared');
    expect((await verify(fromA, '/limited/1')).status).toBe(200);
    expect((await verify(fromA, '/limited/1')).status).toBe(200);
    expect((await verify(fromA, '/limited/1')).status).toBe(429);
    expect((await verify(fromB, '/limited/1')).status).toBe(200);
  });

  it('accepts a token expired by 10 s (within the clock tolerance) and one without typ', async () => {
    expect((await verify(await mint(a, { groups: ['idp-devs'], exp: now() - 10 }))).status).toBe(200);
    const t = signRaw(
      { alg: 'ES256', kid: es.kid },
      { iss: a.issuer, aud: AUD, sub: 'u', exp: now() + 60, groups: ['idp-devs'] },
      es,
    );
    minted.push(t);
    expect((await verify(t)).status).toBe(200);
  });
});

describe('refused tokens: 401, invalid_token, the cause only in the audit line', () => {
  const refused = async (token: string, cause: string) => {
    minted.push(token);
    const r = await verify(token);
    expect(r.status, cause).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(
      /^Bearer realm="warden", error="invalid_token", error_description="[a-z ]+"$/,
    );
    expect(r.headers['x-user-id']).toBeUndefined();
    expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized', reason: 'invalid_credentials' });
    expect(lastAudit(), cause).toMatchObject({
      decision: 'unauthenticated',
      reason: 'invalid_credentials',
      cause,
    });
    return lastAudit();
  };
  const claims = () => ({
    iss: a.issuer,
    aud: AUD,
    sub: 'user-1',
    iat: now(),
    exp: now() + 300,
    groups: ['idp-devs'],
  });

  it('alg none in any spelling', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE'])
      await refused(unsignedToken(alg, claims()), 'alg_none');
  });

  it('an RS256 token re-signed as HS256 with the public key', async () => {
    // The issuer's own RSA public key, as published in its key set, in the PEM form the classic attack uses.
    const pem = await exportSPKI(
      (await importJWK(rs.publicJwk, 'RS256', { extractable: true })) as Parameters<typeof exportSPKI>[0],
    );
    const secret = new TextEncoder().encode(pem);
    const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rs.kid }).sign(secret);
    const jwkSecret = new TextEncoder().encode(JSON.stringify(rs.publicJwk));
    await refused(forged, 'alg_not_allowed');
    await refused(
      await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: rs.kid }).sign(jwkSecret),
      'alg_not_allowed',
    );
  });

  it('an algorithm the issuer does not allow', async () => {
    const ecOnB = await makeKey('ES256', bKey.kid);
    await refused(
      signRaw({ alg: 'ES256', kid: bKey.kid }, { ...claims(), iss: b.issuer }, ecOnB),
      'alg_not_allowed',
    );
  });

  it('without algorithms configured, only what the key set offers: a PS256 token signed by a key published for RS256', async () => {
    const pss = await importJWK(await exportJWK(rs.privateKey), 'PS256');
    const audit = await refused(
      await new SignJWT(claims()).setProtectedHeader({ alg: 'PS256', kid: rs.kid }).sign(pss),
      'unknown_kid',
    );
    expect(audit.kid).toBe(rs.kid);
  });

  it('embedded key material (jwk, x5c) is never used', async () => {
    const attacker = await makeKey('ES256');
    const jwk = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
    const header = await refused(
      signRaw({ alg: 'ES256', kid: attacker.kid, jwk: attacker.publicJwk }, claims(), attacker),
      'embedded_key',
    );
    expect(header.kid).toBe(attacker.kid);
    await refused(signRaw({ alg: 'ES256', x5c: ['MIIB'], jwk }, claims(), attacker), 'embedded_key');
  });

  it('jku and x5u pointing at a server that must receive no request', async () => {
    let hits = 0;
    const trap = createServer((_q, s) => {
      hits++;
      s.end('{"keys":[]}');
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/keys`;
    const attacker = await makeKey('ES256');
    await refused(signRaw({ alg: 'ES256', kid: attacker.kid, jku: url }, claims(), attacker), 'embedded_key');
    await refused(signRaw({ alg: 'ES256', kid: attacker.kid, x5u: url }, claims(), attacker), 'embedded_key');
    await new Promise((r) => setTimeout(r, 100));
    expect(hits).toBe(0);
    trap.close();
  });

  it('a 10 KB or path-like kid', async () => {
    const before = a.hits.jwks;
    await refused(signRaw({ alg: 'ES256', kid: 'k'.repeat(10_000) }, claims(), es), 'bad_kid');
    await refused(signRaw({ alg: 'ES256', kid: '../../../etc/passwd' }, claims(), es), 'bad_kid');
    await refused(signRaw({ alg: 'ES256', kid: 'a\r\nb' }, claims(), es), 'bad_kid');
    expect(a.hits.jwks).toBe(before);
  });

  it('crit with an unknown name', async () => {
    await refused(
      signRaw({ alg: 'ES256', kid: es.kid, crit: ['exp-new'], 'exp-new': 1 }, claims(), es),
      'unknown_crit',
    );
  });

  it('expired by 61 s; exp 0, a string or missing; nbf and iat in the future', async () => {
    const audit = await refused(await mint(a, { exp: now() - 61 }), 'expired');
    expect(audit.joseCode).toBe('ERR_JWT_EXPIRED');
    expect(audit.kid).toBe(es.kid);
    await refused(signRaw({ alg: 'ES256', kid: es.kid }, { ...claims(), exp: 0 }, es), 'expired');
    await refused(
      signRaw({ alg: 'ES256', kid: es.kid }, { ...claims(), exp: String(now() + 300) }, es),
      'bad_claim',
    );
    const noExp: Partial<ReturnType<typeof claims>> = claims();
    delete noExp.exp;
    await refused(signRaw({ alg: 'ES256', kid: es.kid }, noExp, es), 'bad_claim');
    await refused(await mint(a, { nbf: now() + 120 }), 'not_yet_valid');
    await refused(await mint(a, { iat: now() + 120 }), 'issued_in_future');
  });

  it('a wrong or missing aud, a foreign iss', async () => {
    await refused(await mint(a, { aud: 'https://other.example.com' }), 'wrong_audience');
    const noAud: Partial<ReturnType<typeof claims>> = claims();
    delete noAud.aud;
    await refused(signRaw({ alg: 'ES256', kid: es.kid }, noAud, es), 'wrong_audience');
    await refused(await mint(a, { iss: 'https://evil.example.com' }), 'unknown_issuer');
    // Signed by issuer A's key but claiming issuer B: routed to B, whose keys do not match; A's keys are never consulted.
    const aFetches = a.hits.jwks + a.hits.discovery;
    await refused(signRaw({ alg: 'RS256', kid: rs.kid }, { ...claims(), iss: b.issuer }, rs), 'unknown_kid');
    // A kid neither issuer holds, claiming B: only B's key set may be asked again, never A's.
    const stranger = await makeKey('RS256');
    await refused(
      signRaw({ alg: 'RS256', kid: stranger.kid }, { ...claims(), iss: b.issuer }, stranger),
      'unknown_kid',
    );
    expect(a.hits.jwks + a.hits.discovery).toBe(aFetches);
  });

  it('an ID token presented as an access token, where typ says so', async () => {
    await refused(await mint(a, {}, { header: { typ: 'id_token+jwt' } }), 'wrong_type');
    await refused(await mint(a, { typ: 'ID' }, { header: { typ: 'JWT' } }), 'wrong_type');
    await refused(await mint(a, {}, { header: { typ: 'logout+jwt' } }), 'wrong_type');
  });

  it('a sender-constrained token (cnf: DPoP jkt, mTLS x5t#S256) presented as a bearer token', async () => {
    const audit = await refused(
      await mint(a, { cnf: { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' } }),
      'sender_constrained',
    );
    expect(audit.kid).toBe(es.kid);
    const r = await verify(
      await mint(a, { cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' } }),
    );
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toContain(
      'error_description="the token is bound to a key and cannot be used as a bearer token"',
    );
    expect(lastAudit()).toMatchObject({ cause: 'sender_constrained' });
    // The same token without cnf is accepted.
    expect((await verify(await mint(a, { groups: ['viewer'] }), '/nodes/1')).status).toBe(200);
  });

  it('a JWE, a 4- or 5-part token, a nested token, garbage', async () => {
    const { publicKey } = await generateKeyPair('RSA-OAEP-256');
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(claims())))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' })
      .encrypt(publicKey);
    expect(jwe.split('.')).toHaveLength(5);
    await refused(jwe, 'jwe');
    await refused('eyJhbGciOiJFUzI1NiJ9.e30.e30.e30', 'not_jws');
    await refused('eyJ.not-base64!.x', 'not_jws');
    const inner = await mint(a, {});
    await refused(signRaw({ alg: 'ES256', kid: es.kid, cty: 'JWT' }, inner, es), 'nested_token');
  });

  it('a 60 KB token, refused before any parsing', async () => {
    const big = `eyJ${'a'.repeat(60 * 1024)}.b.c`;
    await refused(big, 'too_large');
  });

  it('roles as a string, an object, a nested array or with a comma; a sub with CR/LF', async () => {
    const audit = await refused(await mint(a, { groups: 'idp-admins' }), 'bad_roles');
    expect(audit.kid).toEqual(expect.any(String)); // refused for its claims, still named by its kid
    await refused(await mint(a, { groups: { admin: true } }), 'bad_roles');
    await refused(await mint(a, { groups: [['idp-admins']] }), 'bad_roles');
    await refused(await mint(a, { groups: ['viewer,admin'] }), 'bad_roles');
    await refused(await mint(a, { sub: 'user\r\nX-User-Roles: admin' }), 'bad_subject');
    await refused(await mint(a, { email: 'a@b\nc' }), 'bad_claim');
  });

  it('a bad signature', async () => {
    const t = await mint(a, {});
    const other = await mint(a, { sub: 'someone-else' });
    await refused(`${t.split('.').slice(0, 2).join('.')}.${other.split('.')[2]}`, 'bad_signature');
  });

  it('says why in error_description without quoting the token', async () => {
    const t = await mint(a, { exp: now() - 120 });
    const r = await verify(t);
    expect(r.headers['www-authenticate']).toBe(
      'Bearer realm="warden", error="invalid_token", error_description="the token has expired"',
    );
  });
});

describe('revocation', () => {
  const revoke = (body: unknown) =>
    send(`${w.url}/admin/revocations`, {
      method: 'POST',
      headers: { 'X-API-Key': ops.key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it("refuses a revoked token's jti at once, even once it has been cached", async () => {
    const t = await mint(a, { jti: 'tok-123', groups: ['idp-devs'] });
    expect((await verify(t)).status).toBe(200);
    expect((await verify(t)).status).toBe(200);
    expect((await revoke({ type: 'token', id: 'tok-123', reason: 'leaked' })).status).toBe(201);
    expect((await verify(t)).status).toBe(401);
    expect(lastAudit()).toMatchObject({ cause: 'revoked', sub: null, kid: expect.any(String) });
    expect((await verify(await mint(a, { jti: 'tok-124', groups: ['idp-devs'] }))).status).toBe(200);
  });

  it('refuses every token of a subject issued before the revocation, and accepts later ones', async () => {
    const old = await mint(a, { sub: 'mallory', groups: ['idp-devs'], iat: now() - 5 });
    expect((await verify(old)).status).toBe(200);
    const sameSubOfB = await mint(b, {
      sub: 'mallory',
      realm_access: { roles: ['developer'] },
      iat: now() - 5,
    });
    expect((await revoke({ type: 'subject', id: 'a:mallory', expires: '1h' })).status).toBe(201);
    expect((await verify(old)).status).toBe(401);
    expect(lastAudit().cause).toBe('revoked');
    // The other issuer's mallory is another user.
    expect((await verify(sameSubOfB)).status).toBe(200);
    // Issued a second after the revocation (iat has whole seconds): within the 30 s clock tolerance.
    expect(
      (await verify(await mint(a, { sub: 'mallory', groups: ['idp-devs'], iat: now() + 1 }))).status,
    ).toBe(200);
  });
});
