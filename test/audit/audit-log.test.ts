import fc from 'fast-check';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAuditLog, type DecisionEvent } from '../../src/audit/audit-log.js';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
  return { lines, log: createAuditLog(sink as never) };
}

const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const event: fc.Arbitrary<DecisionEvent> = fc.record(
  {
    reqId: fc.string(),
    decision: fc.constantFrom('allow', 'unauthenticated', 'forbidden', 'limited', 'malformed', 'error'),
    reason: fc.string(),
    cause: fc.string(),
    status: fc.integer({ min: 100, max: 599 }),
    dialect: fc.string(),
    method: nullable(fc.string()),
    host: nullable(fc.string()),
    path: nullable(fc.string({ unit: 'grapheme' })),
    clientIp: nullable(fc.string()),
    peer: nullable(fc.string()),
    sub: nullable(fc.string({ unit: 'grapheme' })),
    authMethod: nullable(fc.string()),
    keyId: nullable(fc.string()),
    rule: nullable(fc.nat()),
    rateLimit: fc.string(),
    durationMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
  },
  { requiredKeys: ['reqId', 'decision', 'reason', 'status', 'dialect', 'method', 'host', 'path', 'clientIp', 'peer', 'sub', 'authMethod', 'keyId', 'rule', 'durationMs'] },
);

describe('audit lines', () => {
  it('is one valid JSON line per decision carrying exactly the event, whatever the strings hold', () => {
    const { lines, log } = capture();
    fc.assert(
      fc.property(event, (e) => {
        log.decision(e);
        const line = lines.at(-1)!;
        expect(line.endsWith('}\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        const parsed = JSON.parse(line);
        expect(parsed).toMatchObject({ level: 'info', event: 'decision' });
        expect(typeof parsed.time).toBe('string');
        const { level: _l, time: _t, event: _e, ...rest } = parsed;
        expect(rest).toEqual(JSON.parse(JSON.stringify(e)));
      }),
      { numRuns: 500 },
    );
  });

  it('writes admin events with their own event name', () => {
    const { lines, log } = capture();
    log.admin({ event: 'revocation_added', id: 'k"1', by: 'ops' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'revocation_added', id: 'k"1', by: 'ops' });
  });
});
