// Reading an MCP request body: what per-tool rules judge, and every malformed body refused with a stable detail.
import { describe, expect, it } from 'vitest';
import { MCP_LIMITS, readMcpBody } from '../../src/mcp/jsonrpc.js';
import { compileNameGlobs, methodsMatching } from '../../src/mcp/names.js';

const read = (doc: unknown) => readMcpBody(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
const call = (id: number | string, name: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
});

describe('readMcpBody', () => {
  it('reads a tools/call: its method, id and tool name', () => {
    expect(read(call(7, 'delete_node'))).toEqual({
      ok: true,
      batch: false,
      calls: [{ method: 'tools/call', id: 7, tool: 'delete_node' }],
    });
  });

  it('reads a batch in order, with notifications (no id) and responses (no method)', () => {
    const body = [
      call('a', 'search'),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 3, result: { roots: [] } },
      { jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 'file:///x' } },
    ];
    expect(read(body)).toEqual({
      ok: true,
      batch: true,
      calls: [
        { method: 'tools/call', id: 'a', tool: 'search' },
        { method: 'notifications/initialized', id: null, tool: null },
        { method: null, id: 3, tool: null },
        { method: 'resources/read', id: 4, tool: null },
      ],
    });
  });

  it.each([
    ['not JSON', '{"jsonrpc":"2.0",', 'not JSON (or not UTF-8)'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'not JSON (or not UTF-8)'],
    ['a JSON string', '"tools/call"', 'a message is not a JSON object'],
    ['no jsonrpc member', { id: 1, method: 'ping' }, 'jsonrpc is not "2.0"'],
    ['method not a string', { jsonrpc: '2.0', id: 1, method: 42 }, 'method is not a string'],
    ['an empty method', { jsonrpc: '2.0', id: 1, method: '' }, 'method is empty or over 128 characters'],
    ['an id object', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }, 'id is neither a string nor a number'],
    ['a null id', { jsonrpc: '2.0', id: null, method: 'ping' }, 'id is neither a string nor a number'],
    ['a 10 KB id', { jsonrpc: '2.0', id: 'i'.repeat(10_000), method: 'ping' }, 'id is over 256 characters'],
    [
      'tools/call without params',
      { jsonrpc: '2.0', id: 1, method: 'tools/call' },
      'tools/call has no params object',
    ],
    ['a tool name not a string', { ...call(1, 'x'), params: { name: ['x'] } }, 'tool name is not a string'],
    ['a 10 KB tool name', call(1, 'x'.repeat(10_000)), 'tool name is empty or over 128 characters'],
    ['a tool name with a newline', call(1, 'read\nfake log line'), 'tool name has control characters'],
    ['a tool name with a zero-width space', call(1, 'delete\u200b_node'), 'tool name has control characters'],
    ['an empty batch', [], 'empty batch'],
    [
      'a batch of 10 000 calls',
      Array.from({ length: 10_000 }, (_, i) => call(i, 'x')),
      'batch over 100 messages',
    ],
    ['repeated ids', [call(1, 'search'), call(1, 'delete_node')], 'repeated id in a batch'],
    ['a batch holding a non-object', [call(1, 'x'), 5], 'a message is not a JSON object'],
    [
      'neither method nor result',
      { jsonrpc: '2.0', id: 1 },
      'a message has neither a method nor a result or error',
    ],
  ])('refuses %s', (_what, body, detail) => {
    const bytes = Buffer.isBuffer(body)
      ? body
      : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    expect(readMcpBody(bytes)).toEqual({ ok: false, detail });
  });

  it('refuses nesting beyond the bound before parsing, and counts no bracket inside strings', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(readMcpBody(Buffer.from(deep))).toEqual({
      ok: false,
      detail: `nested deeper than ${MCP_LIMITS.depth}`,
    });
    const args = { s: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["\\' };
    expect(read({ ...call(1, 'x'), params: { name: 'x', arguments: args } }).ok).toBe(true);
  });
});

describe('name globs', () => {
  it('matches * over any run of characters, without case, with no regular expression', () => {
    const m = compileNameGlobs(['delete_*', 'admin_*_all', 'exact']);
    expect(['delete_node', 'DELETE_x', 'delete_', 'admin_a_b_all', 'Exact'].every(m)).toBe(true);
    expect(['undelete_node', 'admin_all', 'exactly', 'delete'].some(m)).toBe(false);
    // Backtracking stays linear in practice: a pathological name is answered at once.
    const slow = compileNameGlobs(['*a*a*a*a*a*a*a*b']);
    expect(slow('a'.repeat(128))).toBe(false);
  });

  it('knows the MCP methods a method glob names', () => {
    expect(methodsMatching('resources/*')).toEqual([
      'resources/list',
      'resources/templates/list',
      'resources/read',
      'resources/subscribe',
      'resources/unsubscribe',
    ]);
    expect(methodsMatching('tools/cal')).toEqual([]);
  });
});
