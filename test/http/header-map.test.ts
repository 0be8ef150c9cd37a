// HeaderMap over a real node:http request: Node's parsed headers when no name repeats, rawHeaders otherwise.
import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeaderMap } from '../../src/http/header-map.js';
import { send } from '../helpers/http.js';

/** Names whose repeats Node drops (authorization, host), joins (x-*), or keeps as an array (set-cookie). */
const NAMES = [
  'Authorization',
  'authorization',
  'X-API-Key',
  'x-api-key',
  'X-Forwarded-For',
  'X-Original-URL',
  'Cookie',
  'Set-Cookie',
  'User-Agent',
  'X-Real-IP',
];
const PROBE = [
  'authorization',
  'x-api-key',
  'x-forwarded-for',
  'x-original-url',
  'cookie',
  'set-cookie',
  'user-agent',
  'x-real-ip',
  'host',
  'constructor',
  '__proto__',
  'tostring',
];

let server: Server;
let url: string;
let seen: { fast: HeaderMap; full: HeaderMap }[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({
      fast: HeaderMap.fromIncoming(req.rawHeaders, req.headers),
      full: HeaderMap.fromRaw(req.rawHeaders),
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function both(headers: [string, string][]): Promise<{ fast: HeaderMap; full: HeaderMap }> {
  seen = [];
  await send(url, { headers });
  expect(seen).toHaveLength(1);
  return seen[0]!;
}

function expectSame(m: { fast: HeaderMap; full: HeaderMap }, names: readonly string[]): void {
  for (const n of names) {
    expect(m.fast.get(n), n).toBe(m.full.get(n));
    expect(m.fast.has(n), n).toBe(m.full.has(n));
    expect(m.fast.duplicated(n), n).toBe(m.full.duplicated(n));
  }
}

describe('HeaderMap.fromIncoming', () => {
  it('reads the values Node parsed when no name repeats', async () => {
    const m = await both([
      ['X-API-Key', 'k1'],
      ['X-Original-URL', 'https://a/x'],
      ['Authorization', 'Bearer a.b.c'],
    ]);
    expect(m.fast.get('x-api-key')).toBe('k1');
    expect(m.fast.get('authorization')).toBe('Bearer a.b.c');
    expect(m.fast.get('host')).toBe(new URL(url).host);
    expect(m.fast.duplicated('x-api-key')).toBe(false);
    expectSame(m, PROBE);
  });

  it('sees repeats Node drops or joins, in any letter case', async () => {
    for (const [a, b] of [
      ['Authorization', 'authorization'],
      ['X-API-Key', 'X-API-Key'],
      ['X-Forwarded-For', 'x-forwarded-for'],
      ['Host', 'host'],
    ]) {
      const m = await both([
        [a!, 'one'],
        [b!, 'two'],
      ]);
      expect(m.fast.duplicated(b!.toLowerCase()), `${a} + ${b}`).toBe(true);
      expect(m.fast.get(b!.toLowerCase())).toBe('one');
      expectSame(m, PROBE);
    }
  });

  it('never answers inherited names as headers', async () => {
    const m = await both([['X-API-Key', 'k1']]);
    for (const n of ['constructor', '__proto__', 'tostring', 'hasOwnProperty'])
      expect(m.fast.get(n)).toBeUndefined();
  });

  it('answers exactly as the full scan of rawHeaders for any header list', async () => {
    const header = fc.tuple(fc.constantFrom(...NAMES), fc.stringMatching(/^[\x21-\x7e]{1,12}$/));
    await fc.assert(
      fc.asyncProperty(fc.array(header, { maxLength: 8 }), async (headers) => {
        expectSame(await both(headers), PROBE);
      }),
      { numRuns: 150 },
    );
  });
});
