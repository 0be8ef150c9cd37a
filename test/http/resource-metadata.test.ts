// GET /.well-known/oauth-protected-resource[/<path>] through a real warden: chosen by Host and path, following reloads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send } from '../helpers/http.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { startWarden, type TestWarden } from '../helpers/warden.js';

let idp: TestIssuer;
let other: TestIssuer;
let w: TestWarden;

const policy = (extra: Record<string, unknown>[] = []) => ({
  roles: { dev: ['mcp:use'] },
  resources: [
    {
      id: 'memory',
      url: 'https://mcp.example.com/mcp',
      authorizationServers: [idp.issuer],
      scopes: ['mcp:tools', 'mcp:read'],
      name: 'Acme memory',
    },
    { id: 'root', url: 'https://Tools.Example.com/', authorizationServers: [idp.issuer, other.issuer] },
    { id: 'local', url: 'http://127.0.0.1:8931/mcp/', authorizationServers: [other.issuer] },
    ...extra,
  ],
  rules: [{ match: { path: '/mcp/**' }, resource: 'memory', require: ['mcp:use'] }],
});

beforeAll(async () => {
  idp = await startIssuer([await makeKey('ES256')]);
  other = await startIssuer([await makeKey('ES256')]);
  const issuers = [
    { issuer: idp.issuer, audience: 'https://api.example.com', subjectPrefix: 'a:' },
    { issuer: other.issuer, audience: 'https://api.example.com', subjectPrefix: 'b:' },
  ];
  w = await startWarden({ policy: policy(), env: { WARDEN_JWT_ISSUERS: JSON.stringify(issuers) } });
});
afterAll(async () => {
  await w.close();
  await idp.close();
  await other.close();
});

const WELL_KNOWN = '/.well-known/oauth-protected-resource';
const get = (path: string, host: string, method = 'GET', headers: Record<string, string> = {}) =>
  send(`${w.url}${path}`, { method, headers: { host, ...headers } });

describe('protected resource metadata', () => {
  it("serves a resource's document at the well-known path followed by its url's path", async () => {
    const r = await get(`${WELL_KNOWN}/mcp`, 'mcp.example.com');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['access-control-allow-origin']).toBe('*');
    expect(r.headers['cache-control']).toBe('public, max-age=300');
    expect(JSON.parse(r.body)).toEqual({
      resource: 'https://mcp.example.com/mcp',
      authorization_servers: [idp.issuer],
      scopes_supported: ['mcp:tools', 'mcp:read'],
      bearer_methods_supported: ['header'],
      resource_name: 'Acme memory',
    });
  });

  it('answers a url without a path at the bare well-known path; host without case, any port', async () => {
    for (const host of ['tools.example.com', 'TOOLS.example.com:443', 'tools.example.com:8443']) {
      const r = await get(WELL_KNOWN, host);
      expect(r.status, host).toBe(200);
      expect(JSON.parse(r.body)).toEqual({
        resource: 'https://Tools.Example.com/',
        authorization_servers: [idp.issuer, other.issuer],
        scopes_supported: [],
        bearer_methods_supported: ['header'],
      });
    }
  });

  it('needs the port of a url that names one, and ignores a trailing slash', async () => {
    for (const path of [`${WELL_KNOWN}/mcp`, `${WELL_KNOWN}/mcp/`]) {
      const r = await get(path, '127.0.0.1:8931');
      expect(r.status, path).toBe(200);
      expect(JSON.parse(r.body).resource).toBe('http://127.0.0.1:8931/mcp/');
    }
    expect((await get(`${WELL_KNOWN}/mcp`, '127.0.0.1:8932')).status).toBe(404);
    expect((await get(`${WELL_KNOWN}/mcp`, '127.0.0.1')).status).toBe(404);
  });

  it('answers HEAD and a CORS preflight', async () => {
    const head = await get(`${WELL_KNOWN}/mcp`, 'mcp.example.com', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const pre = await get(`${WELL_KNOWN}/mcp`, 'mcp.example.com', 'OPTIONS', {
      origin: 'https://inspector.example',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'mcp-protocol-version',
    });
    expect(pre.status).toBe(204);
    expect(pre.headers).toMatchObject({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    });
  });

  it('answers 404 for any other host or path, exactly as for an unknown path', async () => {
    const unknown = await get('/nothing/here', 'mcp.example.com');
    for (const [path, host] of [
      [`${WELL_KNOWN}/mcp`, 'tools.example.com'],
      [`${WELL_KNOWN}/other`, 'mcp.example.com'],
      [`${WELL_KNOWN}/MCP`, 'mcp.example.com'],
      [WELL_KNOWN, 'mcp.example.com'],
      [`${WELL_KNOWN}/mcp/x`, 'mcp.example.com'],
      [`${WELL_KNOWN}x/mcp`, 'mcp.example.com'],
      [`${WELL_KNOWN}/mcp`, 'evil.example.com'],
      [`${WELL_KNOWN}/mcp`, 'mcp.example.com.evil'],
      [`${WELL_KNOWN}/mcp`, '[::1]:8931'],
    ] as const) {
      const r = await get(path, host);
      expect(r.status, `${host}${path}`).toBe(404);
      expect(r.body).toBe(unknown.body);
      expect(r.headers['cache-control']).toBe('no-store');
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
    }
    expect((await get(`${WELL_KNOWN}/mcp`, 'mcp.example.com', 'POST')).status).toBe(404);
  });

  it('follows policy reloads, and refuses a reload naming an authorization server that is no issuer', async () => {
    const added = { id: 'new', url: 'https://new.example.com/mcp', authorizationServers: [idp.issuer] };
    expect((await get(`${WELL_KNOWN}/mcp`, 'new.example.com')).status).toBe(404);
    w.writePolicy(policy([added]));
    const reloaded = await w.reload();
    expect(reloaded).toMatchObject({ ok: true, changed: true });
    expect(JSON.parse((await get(`${WELL_KNOWN}/mcp`, 'new.example.com')).body).resource).toBe(
      'https://new.example.com/mcp',
    );

    w.writePolicy(policy([{ ...added, authorizationServers: ['https://stranger.example.com'] }]));
    const refused = await w.reload();
    expect(refused.ok).toBe(false);
    expect(refused).toMatchObject({
      problems: [
        expect.stringMatching(
          /resources\[3\]\.authorizationServers\[0\]: https:\/\/stranger\.example\.com is not the issuer/,
        ),
      ],
    });
    // The version in force stays.
    expect((await get(`${WELL_KNOWN}/mcp`, 'new.example.com')).status).toBe(200);

    w.writePolicy(policy());
    await w.reload();
    expect((await get(`${WELL_KNOWN}/mcp`, 'new.example.com')).status).toBe(404);
  });
});
