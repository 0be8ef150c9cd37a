// Per-tool mcp sub-rules through a real warden, with bodies exactly as Traefik (forwardBody) and Envoy (with_request_body) send them.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, type RawResponse } from '../helpers/http.js';
import { makeKey, startIssuer, type TestIssuer } from '../helpers/issuer.js';
import { parseMetrics, value } from '../helpers/prometheus.js';
import { traefikAuthRequest } from '../helpers/traefik-forward-auth.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';

const MEMORY = 'https://mcp.example.com/mcp';
const METADATA = 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp';
const agent = testKey('agent-7', ['agent']);
const keeper = testKey('keeper', ['keeper']);

let idp: TestIssuer;
let w: TestWarden;

beforeAll(async () => {
  idp = await startIssuer([await makeKey('ES256')]);
  w = await startWarden({
    policy: {
      roles: { agent: ['mcp:use'], keeper: ['mcp:use', 'memory:admin'] },
      resources: [
        {
          id: 'memory',
          url: MEMORY,
          authorizationServers: [idp.issuer],
          scopes: ['mcp:tools', 'memory:write'],
        },
      ],
      rules: [
        {
          match: { host: 'mcp.example.com', path: '/mcp/**' },
          resource: 'memory',
          require: ['mcp:use'],
          scopes: ['mcp:tools'],
          mcp: [
            { match: { tools: ['delete_*', 'admin_*'] }, require: ['memory:admin'] },
            { match: { tools: ['write_*'] }, scopes: ['memory:write'] },
            { match: { methods: ['resources/read'] }, deny: true },
          ],
        },
        { match: { path: '/api/**' }, require: ['mcp:use'] },
      ],
    },
    keys: [agent.entry, keeper.entry],
    env: {
      WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: 'https://api.example.com' }]),
      WARDEN_MCP_MAX_BODY: '64KiB',
    },
  });
});
afterAll(async () => {
  await w.close();
  await idp.close();
});

const call = (id: number | string, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
});

let client = 0;
/**
 * A client POST /mcp through Traefik with `forwardBody: true`: the auth request is a GET (no
 * preserveRequestMethod) carrying the body, the original method in X-Forwarded-Method.
 */
function viaTraefik(body: unknown, headers: [string, string][] = [], method = 'POST'): Promise<RawResponse> {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const auth = traefikAuthRequest(
    `${w.url}/verify/traefik`,
    {
      method,
      host: 'mcp.example.com',
      requestUri: '/mcp',
      tls: true,
      remoteIp: `198.18.0.${(client++ % 250) + 1}`,
      headers: [
        ['Content-Type', 'application/json'],
        ['Accept', 'application/json, text/event-stream'],
        ['Mcp-Session-Id', 'session-1'],
        ...headers,
      ],
    },
    { trustForwardHeader: false, trustedIPs: [] },
  );
  const framed: [string, string][] = text === '' ? [] : [['Content-Length', String(Buffer.byteLength(text))]];
  return send(`${w.url}/verify/traefik`, {
    method: auth.method,
    headers: [...auth.headers.filter(([k]) => k !== 'Host'), ['Host', new URL(w.url).host], ...framed],
    body: text === '' ? undefined : text,
  });
}

/** The same through Envoy's ext_authz HTTP service with `with_request_body`: the original method, prefix + path. */
function viaEnvoy(body: string, headers: Record<string, string> = {}, method = 'POST'): Promise<RawResponse> {
  return send(`${w.url}/verify/envoy/mcp`, {
    method,
    headers: {
      Host: 'mcp.example.com',
      'X-Forwarded-For': '198.18.1.1',
      'X-Forwarded-Proto': 'https',
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      ...headers,
    },
    body,
  });
}

const key = (k: { key: string }): [string, string] => ['X-API-Key', k.key];
/** The audit line of the last answer: written at the end of the event-loop turn that answered it. */
const settle = () => new Promise((r) => setImmediate(r));
const lastAudit = () => w.audit.filter((l) => l.event === 'decision').at(-1)!;

describe('per-tool rules on Traefik forwardBody requests (GET with a body)', () => {
  it('passes a tool no sub-rule names on the rule alone, and audits the call', async () => {
    const res = await viaTraefik(call(1, 'search_notes'), [key(agent)]);
    expect(res.status, res.body).toBe(200);
    expect(res.headers['x-user-id']).toBe('agent-7');
    await settle();
    expect(lastAudit()).toMatchObject({
      decision: 'allow',
      method: 'POST',
      sub: 'agent-7',
      mcp: { method: 'tools/call', tools: ['search_notes'], ids: [1] },
    });
  });

  it('refuses delete_* without memory:admin with a JSON-RPC error keeping the id, and passes it with', async () => {
    const res = await viaTraefik(call(41, 'delete_node'), [key(agent)]);
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-warden-reason']).toBe('insufficient_permissions');
    expect(res.headers['x-user-id']).toBeUndefined();
    expect(JSON.parse(res.body)).toEqual({
      jsonrpc: '2.0',
      id: 41,
      error: {
        code: -32003,
        message: 'tool "delete_node" needs the permission memory:admin',
        data: { reason: 'insufficient_permissions', required: ['memory:admin'] },
      },
    });
    await settle();
    expect(lastAudit()).toMatchObject({
      decision: 'forbidden',
      reason: 'insufficient_permissions',
      rule: 0,
      mcp: { method: 'tools/call', tools: ['delete_node'], ids: [41], rule: 0 },
    });
    expect((await viaTraefik(call(42, 'delete_node'), [key(keeper)])).status).toBe(200);
  });

  it('keeps a string id exactly, and matches tool names without case', async () => {
    const res = await viaTraefik(call('req-é-1', 'Admin_Reset'), [key(agent)]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ id: 'req-é-1', error: { code: -32003 } });
  });

  it('denies a method by a methods sub-rule, whoever calls', async () => {
    const body = { jsonrpc: '2.0', id: 5, method: 'resources/read', params: { uri: 'memory://all' } };
    const res = await viaTraefik(body, [key(keeper)]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({
      id: 5,
      error: { message: 'method "resources/read" is denied by policy', data: { reason: 'rule_deny' } },
    });
  });

  it('passes a batch only if every call passes, naming the refused call and the ones not run', async () => {
    const ok = [
      call(1, 'search'),
      call(2, 'list_nodes'),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
    ];
    expect((await viaTraefik(ok, [key(agent)])).status).toBe(200);
    const mixed = [call(1, 'search'), call(2, 'delete_all'), call('three', 'list')];
    const res = await viaTraefik(mixed, [key(agent)]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual([
      {
        jsonrpc: '2.0',
        id: 1,
        error: {
          code: -32003,
          message: 'not run: the batch holds a refused call (id 2)',
          data: { reason: 'insufficient_permissions', required: ['memory:admin'] },
        },
      },
      {
        jsonrpc: '2.0',
        id: 2,
        error: {
          code: -32003,
          message: 'tool "delete_all" needs the permission memory:admin',
          data: { reason: 'insufficient_permissions', required: ['memory:admin'] },
        },
      },
      {
        jsonrpc: '2.0',
        id: 'three',
        error: {
          code: -32003,
          message: 'not run: the batch holds a refused call (id 2)',
          data: { reason: 'insufficient_permissions', required: ['memory:admin'] },
        },
      },
    ]);
    await settle();
    expect(lastAudit()).toMatchObject({
      mcp: { method: 'tools/call', tools: ['search', 'delete_all', 'list'], ids: [1, 2, 'three'], rule: 0 },
    });
  });

  it('passes the SSE stream (GET), the end of a session (DELETE) and notifications on the rule alone', async () => {
    expect((await viaTraefik(undefined, [key(agent)], 'GET')).status).toBe(200);
    expect((await viaTraefik(undefined, [key(agent)], 'DELETE')).status).toBe(200);
    const note = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } };
    expect((await viaTraefik(note, [key(agent)])).status).toBe(200);
    // A response to the server's own request (elicitation, sampling) has no method to judge.
    expect((await viaTraefik({ jsonrpc: '2.0', id: 9, result: {} }, [key(agent)])).status).toBe(200);
  });

  it('still judges the rule first: no credential is the resource challenge, not a JSON-RPC error', async () => {
    const res = await viaTraefik(call(1, 'delete_node'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain(`resource_metadata="${METADATA}"`);
  });

  it('refuses a POST whose body the proxy did not forward: mcp_body_required', async () => {
    const res = await viaTraefik(undefined, [key(agent)]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', reason: 'mcp_body_required' });
  });
});

describe('scopes on a sub-rule (bearer tokens bound to the resource)', () => {
  const token = (scope: string) =>
    idp.mint({ sub: 'u1', aud: MEMORY, groups: ['agent'], roles: ['agent'], scope });

  it('asks for the missing scopes with the 403 insufficient_scope challenge, and passes with them', async () => {
    const res = await viaTraefik(call(3, 'write_note'), [
      ['Authorization', `Bearer ${await token('mcp:tools')}`],
    ]);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer error="insufficient_scope", scope="mcp:tools memory:write", resource_metadata="${METADATA}"`,
    );
    expect(JSON.parse(res.body)).toMatchObject({
      id: 3,
      error: { message: 'tool "write_note" needs a token with the scopes mcp:tools memory:write' },
    });
    const full = await token('mcp:tools memory:write');
    expect((await viaTraefik(call(4, 'write_note'), [['Authorization', `Bearer ${full}`]])).status).toBe(200);
  });

  it('does not apply scopes to API keys, judged by their roles', async () => {
    expect((await viaTraefik(call(5, 'write_note'), [key(agent)])).status).toBe(200);
  });
});

describe('per-tool rules on Envoy with_request_body requests', () => {
  it('judges the original POST and its body', async () => {
    expect((await viaEnvoy(JSON.stringify(call(1, 'search')), { 'X-API-Key': agent.key })).status).toBe(200);
    const res = await viaEnvoy(JSON.stringify(call(2, 'delete_node')), { 'X-API-Key': agent.key });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ id: 2, error: { code: -32003 } });
  });

  it('refuses a partial body (allow_partial_message) rather than judging part of it', async () => {
    const res = await viaEnvoy(JSON.stringify(call(1, 'search')).slice(0, 20), {
      'X-API-Key': agent.key,
      'x-envoy-auth-partial-body': 'true',
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', reason: 'bad_mcp_request' });
    await settle();
    expect(lastAudit()).toMatchObject({
      reason: 'bad_mcp_request',
      cause: 'partial body: Envoy allow_partial_message',
    });
  });
});

describe('bad input: 403 bad_mcp_request with a stable reason, warden healthy, memory flat', () => {
  const bad: [string, string][] = [
    ['not JSON', '{"jsonrpc":"2.0","id":1,'],
    ['too deep', '['.repeat(50_000) + ']'.repeat(50_000)],
    ['a batch of 10 000 calls', JSON.stringify(Array.from({ length: 10_000 }, (_, i) => call(i, 'x')))],
    ['a tool name with control characters', JSON.stringify(call(1, 'delete\u0000_node'))],
    ['a 10 KB tool name', JSON.stringify(call(1, 'x'.repeat(10_240)))],
    ['duplicate ids', JSON.stringify([call(1, 'search'), call(1, 'delete_node')])],
    ['method not a string', JSON.stringify({ jsonrpc: '2.0', id: 1, method: ['tools/call'] })],
  ];

  it.each(bad)('refuses %s', async (_what, body) => {
    const res = await viaTraefik(body, [key(keeper)]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', reason: 'bad_mcp_request' });
  });

  it('refuses a body over WARDEN_MCP_MAX_BODY, sent with a length or chunked', async () => {
    const big = JSON.stringify({
      ...call(1, 'search'),
      params: { name: 'search', arguments: { q: 'x'.repeat(70_000) } },
    });
    const res = await viaEnvoy(big, { 'X-API-Key': keeper.key });
    expect(res.status).toBe(403);
    expect(res.headers['x-warden-reason']).toBe('bad_mcp_request');
    const chunked = await send(`${w.url}/verify/envoy/mcp`, {
      method: 'POST',
      headers: {
        Host: 'mcp.example.com',
        'X-Forwarded-For': '198.18.1.2',
        'Transfer-Encoding': 'chunked',
        'X-API-Key': keeper.key,
      },
      body: big,
    });
    expect(chunked.status).toBe(403);
    await settle();
    expect(lastAudit()).toMatchObject({ cause: 'body over WARDEN_MCP_MAX_BODY (65536 bytes)' });
  });

  it('stays healthy with flat memory after hundreds of bad bodies', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const body = bad[2]![1];
    const round = () => Promise.all(Array.from({ length: 20 }, () => viaTraefik(body, [key(keeper)])));
    await round();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10; i++) await round();
    gc();
    // 200 batches of 10 000 calls read and refused: a leak of what each parse builds would be hundreds of MB.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(16 * 1024 * 1024);
    expect((await send(`${w.url}/healthz`)).status).toBe(200);
    expect((await viaTraefik(call(1, 'search'), [key(agent)])).status).toBe(200);
  });
});

describe('warden_mcp_calls_total', () => {
  it('counts tool calls by tool and decision', async () => {
    const m = parseMetrics((await send(`${w.url}/metrics`)).body);
    const count = (tool: string, decision: string) => value(m, 'warden_mcp_calls_total', { tool, decision });
    expect(count('search_notes', 'allow')).toBeGreaterThanOrEqual(1);
    expect(count('delete_node', 'deny')).toBeGreaterThanOrEqual(1);
    expect(count('delete_node', 'allow')).toBeGreaterThanOrEqual(1);
  });
});
