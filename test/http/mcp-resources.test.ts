// Rules with a `resource` through a real warden and real token issuers: audience binding, scopes and their challenges.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const API = 'https://api.example.com';
const MEMORY = 'https://mcp.example.com/mcp';
const NOTES = 'https://notes.example.com/mcp';
const agentKey = testKey('agent-key', ['agent']);
const LOGIN = 'https://login.example.com/signin';
const MEMORY_METADATA = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';
const NOTES_METADATA = 'https://notes.example.com/.well-known/oauth-protected-resource/mcp';

let a: TestIssuer;
let b: TestIssuer;
let c: TestIssuer;
let w: TestWarden;
const minted: string[] = [];

beforeAll(async () => {
  [a, b, c] = await Promise.all([
    makeKey('ES256').then((k) => startIssuer([k])),
    makeKey('ES256').then((k) => startIssuer([k])),
    makeKey('ES256').then((k) => startIssuer([k])),
  ]);
  const policy = {
    roles: { agent: ['mcp:use', 'api:read'], reader: ['api:read'], ops: ['warden:admin'] },
    resources: [
      { id: 'memory', url: MEMORY, authorizationServers: [a.issuer], scopes: ['mcp:tools', 'mcp:read'] },
      { id: 'notes', url: NOTES, authorizationServers: [a.issuer, b.issuer] },
    ],
    rules: [
      {
        match: { host: 'mcp.example.com', path: '/mcp/**' },
        resource: 'memory',
        require: ['mcp:use'],
        scopes: ['mcp:tools'],
      },
      { match: { host: 'notes.example.com', path: '/mcp/**' }, resource: 'notes' },
      { match: { path: '/api/**' }, require: ['api:read'] },
      { match: { path: '/pub/**' }, public: true },
    ],
    default: 'deny',
  };
  const issuers = [a, b, c].map((i, n) => ({ issuer: i.issuer, audience: API, subjectPrefix: `${n}:` }));
  w = await startWarden({
    policy,
    keys: [agentKey.entry],
    env: { WARDEN_JWT_ISSUERS: JSON.stringify(issuers), WARDEN_LOGIN_URL: LOGIN },
  });
});
afterAll(async () => {
  await w.close();
  await Promise.all([a.close(), b.close(), c.close()]);
  const lines = [...w.audit, ...w.ops].map((l) => JSON.stringify(l));
  for (const t of minted) for (const l of lines) expect(l.includes(t.split('.')[2]!)).toBe(false);
});

const mint = async (iss: TestIssuer, aud: string | string[], claims: Record<string, unknown> = {}) => {
  const t = await iss.mint({ sub: 'u1', groups: ['agent'], aud, ...claims });
  minted.push(t);
  return t;
};
let client = 0;
/** One request as Traefik forwards it, each from its own client IP. */
const verify = (url: string, headers: Record<string, string> = {}, method = 'POST') => {
  const u = new URL(url);
  return send(`${w.url}/verify/traefik`, {
    headers: {
      'X-Forwarded-Method': method,
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': u.host,
      'X-Forwarded-Uri': u.pathname,
      'X-Forwarded-For': `198.18.${client >> 8}.${client++ & 255}`,
      ...headers,
    },
  });
};
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
const lastAudit = () => w.audit[w.audit.length - 1]!;

describe('audience binding', () => {
  it("passes a token whose aud is the resource url, from one of the resource's authorization servers", async () => {
    const scoped = { scope: 'mcp:tools' };
    for (const aud of [MEMORY, 'HTTPS://MCP.Example.com/mcp/', [API, MEMORY], ['other', MEMORY]]) {
      const r = await verify(MEMORY, bearer(await mint(a, aud, scoped)));
      expect(r.status, JSON.stringify(aud)).toBe(200);
      expect(r.headers).toMatchObject({ 'x-user-id': '0:u1', 'x-auth-method': 'jwt' });
    }
    // Any of a resource's authorization servers.
    for (const iss of [a, b]) expect((await verify(NOTES, bearer(await mint(iss, NOTES)))).status).toBe(200);
  });

  it('refuses, as wrong_audience, a token for the APIs, for another resource, or from another issuer', async () => {
    const cases: [string, TestIssuer, string | string[]][] = [
      ['issuer audience only', a, API],
      ['another resource', a, NOTES],
      ['the path differs', a, 'https://mcp.example.com/mcp/x'],
      ['not an authorization server of this resource', b, MEMORY],
    ];
    for (const [label, iss, aud] of cases) {
      const r = await verify(MEMORY, bearer(await mint(iss, aud, { scope: 'mcp:tools' })));
      expect(r.status, label).toBe(401);
      expect(JSON.parse(r.body), label).toMatchObject({
        error: 'unauthorized',
        reason: 'invalid_credentials',
      });
      expect(r.headers['x-user-id'], label).toBeUndefined();
      expect(lastAudit(), label).toMatchObject({
        decision: 'unauthenticated',
        reason: 'invalid_credentials',
        cause: 'wrong_audience',
        status: 401,
        sub: null,
        rule: 0,
      });
    }
  });

  it('refuses at verification a resource token from an issuer that serves no resource', async () => {
    const r = await verify(NOTES, bearer(await mint(c, NOTES)));
    expect(r.status).toBe(401);
    expect(lastAudit()).toMatchObject({ cause: 'wrong_audience', rule: 1 });
  });

  it('never lets a token issued only for an MCP server open the APIs (confused deputy)', async () => {
    const forMcp = await mint(a, MEMORY, { scope: 'mcp:tools' });
    const api = await verify('https://app.example.com/api/nodes', bearer(forMcp), 'GET');
    expect(api.status).toBe(401);
    expect(api.headers['www-authenticate']).toContain(
      'error_description="the token is not meant for this audience"',
    );
    expect(lastAudit()).toMatchObject({ decision: 'unauthenticated', cause: 'wrong_audience', rule: 2 });
    // No rule: the default still denies first.
    expect((await verify('https://app.example.com/elsewhere', bearer(forMcp), 'GET')).status).toBe(403);
    // A public route passes it as no credential: no identity is passed on.
    const pub = await verify('https://app.example.com/pub/x', bearer(forMcp), 'GET');
    expect(pub.status).toBe(200);
    expect(pub.headers).toMatchObject({ 'x-user-id': '', 'x-auth-method': 'public' });
    // The same user's token for the APIs opens them, and one for both opens both.
    expect(
      (await verify('https://app.example.com/api/nodes', bearer(await mint(a, API)), 'GET')).status,
    ).toBe(200);
    const both = await mint(a, [API, MEMORY], { scope: 'mcp:tools' });
    expect((await verify('https://app.example.com/api/nodes', bearer(both), 'GET')).status).toBe(200);
    expect((await verify(MEMORY, bearer(both))).status).toBe(200);
  });

  it('never lets a token issued only for an MCP server into the admin API', async () => {
    const admin = (t: string) => send(`${w.url}/admin/revocations`, { headers: bearer(t) });
    const forMcp = await admin(await mint(a, MEMORY, { groups: ['ops'] }));
    expect(forMcp.status).toBe(401);
    expect(w.audit.filter((l) => l.event === 'admin_denied').at(-1)).toMatchObject({
      reason: 'invalid_credentials',
      cause: 'wrong_audience',
    });
    expect((await admin(await mint(a, [API, MEMORY], { groups: ['ops'] }))).status).toBe(200);
  });

  it('judges API keys on a resource rule by their roles alone', async () => {
    const r = await verify(MEMORY, { 'X-API-Key': agentKey.key });
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'x-user-id': 'agent-key', 'x-auth-method': 'api_key' });
  });
});

describe('scopes', () => {
  it('passes a token holding every scope of the rule, in scope or in scp', async () => {
    const forms = [
      { scope: 'openid mcp:tools' },
      { scp: ['mcp:tools'] },
      { scp: 'mcp:read mcp:tools' },
      { scope: ['mcp:tools'] },
    ];
    for (const claims of forms) {
      const r = await verify(MEMORY, bearer(await mint(a, MEMORY, claims)));
      expect(r.status, JSON.stringify(claims)).toBe(200);
    }
  });

  it('answers 403 insufficient_scope, naming the scopes the rule needs, to a token without them', async () => {
    for (const claims of [{}, { scope: 'mcp:read' }, { scope: 'MCP:TOOLS' }, { scope: 42 }]) {
      const label = JSON.stringify(claims);
      const r = await verify(MEMORY, bearer(await mint(a, MEMORY, claims)));
      expect(r.status, label).toBe(403);
      expect(JSON.parse(r.body), label).toEqual({
        error: 'forbidden',
        reason: 'insufficient_scope',
        required: ['mcp:tools'],
      });
      expect(r.headers['x-warden-required']).toBe('["mcp:tools"]');
      expect(lastAudit(), label).toMatchObject({
        decision: 'forbidden',
        reason: 'insufficient_scope',
        status: 403,
        sub: '0:u1',
        authMethod: 'jwt',
        rule: 0,
      });
    }
  });
});

describe('challenges', () => {
  const memory401 = `Bearer resource_metadata="${MEMORY_METADATA}", scope="mcp:tools mcp:read"`;

  it('answers a 401 on a resource rule with resource_metadata and the resource scopes', async () => {
    const r = await verify(MEMORY, { Accept: 'application/json' });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe(memory401);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'unauthorized', reason: 'missing_credentials' });
    expect(r.headers['cache-control']).toBe('no-store');
    // A resource without scopes: no scope parameter.
    const notes = await verify(NOTES);
    expect(notes.headers['www-authenticate']).toBe(`Bearer resource_metadata="${NOTES_METADATA}"`);
  });

  it('adds error="invalid_token" and the description when a token was presented and refused', async () => {
    const cases: [string, string, string][] = [
      [
        'wrong audience',
        await mint(a, API, { scope: 'mcp:tools' }),
        'the token is not meant for this audience',
      ],
      [
        'expired',
        await a.mint({ sub: 'u1', aud: MEMORY, exp: Math.floor(Date.now() / 1000) - 3600 }),
        'the token has expired',
      ],
      [
        'unknown issuer',
        await mint(a, MEMORY, { iss: 'https://unknown.example.com' }),
        'the token issuer is not trusted',
      ],
    ];
    for (const [label, token, description] of cases) {
      minted.push(token);
      const r = await verify(MEMORY, bearer(token));
      expect(r.status, label).toBe(401);
      expect(r.headers['www-authenticate'], label).toBe(
        `${memory401}, error="invalid_token", error_description="${description}"`,
      );
    }
    const key = await verify(MEMORY, { 'X-API-Key': 'wdn_not_a_key_0123456789' });
    expect(key.headers['www-authenticate']).toBe(`${memory401}, error="invalid_token"`);
  });

  it('answers 403 insufficient_scope with the scopes the rule needs and the metadata', async () => {
    const r = await verify(MEMORY, bearer(await mint(a, MEMORY, { scope: 'mcp:read' })));
    expect(r.status).toBe(403);
    expect(r.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:tools", resource_metadata="${MEMORY_METADATA}"`,
    );
    expect(r.headers['cache-control']).toBe('no-store');
    // Another 403 on the same rule has no challenge: more scopes would not help.
    const roles = await verify(MEMORY, bearer(await mint(a, MEMORY, { scope: 'mcp:tools', groups: [] })));
    expect(roles.status).toBe(403);
    expect(JSON.parse(roles.body)).toMatchObject({ reason: 'insufficient_permissions' });
    expect(roles.headers['www-authenticate']).toBeUndefined();
  });

  it('keeps the sign-in redirect for browser navigations, with the challenge on the nginx 401', async () => {
    const page = { Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate' };
    const r = await verify(MEMORY, page, 'GET');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe(`${LOGIN}?rd=${encodeURIComponent(MEMORY)}`);
    const nginx = await send(`${w.url}/verify/nginx`, {
      headers: {
        'X-Original-URL': MEMORY,
        'X-Original-Method': 'GET',
        'X-Forwarded-For': '198.18.9.9',
        ...page,
      },
    });
    expect(nginx.status).toBe(401);
    expect(nginx.headers.location).toBe(`${LOGIN}?rd=${encodeURIComponent(MEMORY)}`);
    expect(nginx.headers['www-authenticate']).toBe(memory401);
  });

  it("leaves the other rules' challenges as they were", async () => {
    const r = await verify('https://app.example.com/api/x', {}, 'GET');
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer realm="warden"');
  });
});
