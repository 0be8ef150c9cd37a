// `warden explain --tool/--body` and `warden test` cases with bodies and tokens: the sub-rule that decides, as /verify decides it.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { testDir } from '../helpers/tmp.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const IDP = 'https://idp.example.com/realms/acme';

const policy = {
  roles: { agent: ['mcp:use'], keeper: ['mcp:use', 'memory:admin'] },
  resources: [
    { id: 'memory', url: 'https://mcp.example.com/mcp', authorizationServers: [IDP], scopes: ['mcp:tools'] },
  ],
  rules: [
    {
      match: { host: 'mcp.example.com', path: '/mcp/**' },
      resource: 'memory',
      require: ['mcp:use'],
      scopes: ['mcp:tools'],
      mcp: [
        { match: { tools: ['delete_*'] }, require: ['memory:admin'] },
        { match: { tools: ['write_*'] }, scopes: ['memory:write'] },
        { match: { methods: ['resources/read'] }, deny: true },
      ],
    },
  ],
};

/** Run the built CLI against this policy (its own files, nothing of rbac/). */
async function warden(args: string[], files: Record<string, string> = {}) {
  const dir = testDir('warden-mcp-tooling-');
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  writeFileSync(join(dir, 'keys.yaml'), 'keys: []\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const env = {
    PATH: process.env.PATH,
    WARDEN_POLICY: join(dir, 'policy.yaml'),
    WARDEN_API_KEYS: join(dir, 'keys.yaml'),
    WARDEN_JWT_ISSUERS: JSON.stringify([{ issuer: IDP, audience: 'https://api.example.com' }]),
  };
  const resolved = args.map((a) => (a.startsWith('@') ? join(dir, a.slice(1)) : a));
  return run(process.execPath, [CLI, ...resolved], { cwd: ROOT, env, timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
}

const URL = 'https://mcp.example.com/mcp';

describe('warden explain with a body', () => {
  it('--tool shows the sub-rule that refuses the call, as a POST', async () => {
    const r = await warden(['explain', '--url', URL, '--roles', 'agent', '--tool', 'delete_node']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'decision: 403 forbidden (insufficient_permissions), rule [0], required [memory:admin]',
    );
    expect(r.stdout).toContain('request:  POST https://mcp.example.com/mcp');
    expect(r.stdout).toContain('mcp sub-rules of rule [0] on the body (first match wins):');
    expect(r.stdout).toContain(
      '  tools/call delete_node (id 1): mcp[0] tools [delete_*] → require any [memory:admin]; refused: tool "delete_node" needs the permission memory:admin',
    );
    const keeper = await warden(['explain', '--url', URL, '--roles', 'keeper', '--tool', 'delete_node']);
    expect(keeper.stdout).toContain('decision: 200 allow (permitted), rule [0]');
    expect(keeper.stdout).toContain('mcp[0] tools [delete_*] → require any [memory:admin]; passes');
  });

  it('--body FILE judges a batch; a call no sub-rule names passes on the rule alone', async () => {
    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search' } },
      { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'x' } },
    ];
    const r = await warden(
      ['explain', '--method', 'POST', '--url', URL, '--roles', 'keeper', '--body', '@b.json'],
      {
        'b.json': JSON.stringify(batch),
      },
    );
    expect(r.stdout).toContain('decision: 403 forbidden (rule_deny), rule [0]');
    expect(r.stdout).toContain(
      '  tools/call search (id 1): no sub-rule matches: the rule alone decides; refused: not run: the batch holds a refused call (id 2)',
    );
    expect(r.stdout).toContain(
      '  resources/read (id 2): mcp[2] methods [resources/read] → deny; refused: method "resources/read" is denied by policy',
    );
  });

  it('--resource and --scopes describe a bound token: the scopes a sub-rule needs', async () => {
    const args = [
      'explain',
      '--url',
      URL,
      '--roles',
      'agent',
      '--resource',
      'memory',
      '--tool',
      'write_note',
    ];
    const short = await warden([...args, '--scopes', 'mcp:tools']);
    expect(short.stdout).toContain(
      'decision: 403 forbidden (insufficient_scope), rule [0], required [mcp:tools, memory:write]',
    );
    expect(short.stdout).toContain(
      'identity: synthetic token for resource memory, scopes [mcp:tools], roles [agent]',
    );
    const full = await warden([...args, '--scopes', 'mcp:tools,memory:write']);
    expect(full.stdout).toContain('decision: 200 allow (permitted), rule [0]');
  });

  it('names a body that is not JSON-RPC, and refuses --body with --tool', async () => {
    const r = await warden(
      ['explain', '--method', 'POST', '--url', URL, '--roles', 'agent', '--body', '@b.json'],
      {
        'b.json': '{"jsonrpc":"2.0",',
      },
    );
    expect(r.stdout).toContain(
      'decision: 403 forbidden (bad_mcp_request: not JSON (or not UTF-8)), rule [0]',
    );
    const none = await warden(['explain', '--method', 'POST', '--url', URL, '--roles', 'agent']);
    expect(none.stdout).toContain(
      'decision: 403 forbidden (mcp_body_required: no body: the proxy did not forward it)',
    );
    const both = await warden(['explain', '--url', URL, '--tool', 'x', '--body', 'y']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --body or --tool, not both');
  });
});

describe('warden check with sub-rules', () => {
  it("lists each rule's sub-rules under it", async () => {
    const r = await warden(['check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      [
        '  [0] mcp.example.com/mcp/** → require any [mcp:use] resource memory scopes mcp:tools',
        '      mcp[0] tools [delete_*] → require any [memory:admin]',
        '      mcp[1] tools [write_*] → allow, scopes [memory:write]',
        '      mcp[2] methods [resources/read] → deny',
      ].join('\n'),
    );
  });
});

describe('warden test with bodies and tokens', () => {
  it('runs cases with tool, body and a token identity, and fails one that is wrong', async () => {
    const cases = [
      {
        name: 'agents may not delete',
        request: { method: 'POST', url: URL, tool: 'delete_node' },
        identity: { roles: ['agent'] },
        expect: 'deny-403',
        reason: 'insufficient_permissions',
      },
      {
        name: 'keepers may',
        request: { method: 'POST', url: URL, tool: 'delete_node' },
        identity: { roles: ['keeper'] },
        expect: 'allow',
      },
      {
        name: 'resources/read is off for all',
        request: {
          method: 'POST',
          url: URL,
          body: { jsonrpc: '2.0', id: 'r', method: 'resources/read', params: { uri: 'x' } },
        },
        identity: { roles: ['keeper'] },
        expect: 'deny-403',
        reason: 'rule_deny',
      },
      {
        name: 'writing needs the scope',
        request: { method: 'POST', url: URL, tool: 'write_note' },
        identity: { roles: ['agent'], token: { resource: 'memory', scopes: ['mcp:tools'] } },
        expect: 'deny-403',
        reason: 'insufficient_scope',
      },
      {
        name: 'wrong on purpose',
        request: { method: 'POST', url: URL, tool: 'write_note' },
        identity: { roles: ['agent'], token: { resource: 'memory', scopes: ['mcp:tools', 'memory:write'] } },
        expect: 'deny-403',
      },
    ];
    const r = await warden(['test', '@cases.yaml'], { 'cases.yaml': stringify(cases) });
    expect(r.code).toBe(1);
    for (const name of cases.slice(0, 4).map((c) => c.name)) expect(r.stdout).toContain(`✓ ${name}`);
    expect(r.stdout).toContain('✗ wrong on purpose');
    expect(r.stdout).toContain('--resource memory --scopes mcp:tools,memory:write --tool write_note');
  });
});
