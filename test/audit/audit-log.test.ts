import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIT_SCHEMA, createAuditLog, type DecisionEvent } from '../../src/audit/audit-log.js';
import { lineWriterSink } from '../../src/audit/sink.js';
import { LineWriter } from '../../src/audit/line-writer.js';
import { systemClock } from '../../src/util/clock.js';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALLOWED, captureLog } from '../helpers/audit-capture.js';
import { testDir } from '../helpers/tmp.js';

/** A parsed audit line without the fields the log adds to every event (level, time, schema, event, and the chain's). */
const ENVELOPE = new Set(['level', 'time', 'schema', 'event', 'seq', 'replica', 'hash']);
const withoutEnvelope = (parsed: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(parsed).filter(([k]) => !ENVELOPE.has(k)));

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
  {
    requiredKeys: [
      'reqId',
      'decision',
      'reason',
      'status',
      'dialect',
      'method',
      'host',
      'path',
      'clientIp',
      'peer',
      'sub',
      'authMethod',
      'keyId',
      'rule',
      'durationMs',
    ],
  },
);

describe('audit lines', () => {
  it('is one valid JSON line per decision carrying exactly the event, whatever the strings hold', async () => {
    const { lines, log } = captureLog();
    await fc.assert(
      fc.asyncProperty(event, async (e) => {
        log.decision(e);
        // Decisions are serialised together at the end of the event-loop turn that took them.
        await new Promise((r) => setImmediate(r));
        const line = lines.at(-1)!;
        expect(line.endsWith('}\n')).toBe(true);
        expect(line.slice(0, -1)).not.toContain('\n');
        const parsed = JSON.parse(line);
        expect(parsed).toMatchObject({ level: 'info', schema: AUDIT_SCHEMA, event: 'decision' });
        expect(typeof parsed.time).toBe('string');
        const rest = withoutEnvelope(parsed);
        expect(rest).toEqual(JSON.parse(JSON.stringify(e)));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every string intact through a file sink, which copies plain ASCII lines byte for byte and encodes the rest as UTF-8', async () => {
    const dir = testDir('warden-audit-');
    const file = join(dir, 'audit.jsonl');
    const writer = new LineWriter(openSync(file, 'w'));
    const log = createAuditLog([lineWriterSink('file', writer, systemClock)], systemClock);
    const events = fc.sample(event, 400);
    events.push(
      { ...events[0]!, sub: 'José', path: '/ü/€/😀', reqId: 'plain-after-unicode' },
      { ...events[0]!, sub: 'plain', path: '/a', reqId: 'r', headerProblems: ['x-team: ü'] },
    );
    for (const e of events) log.decision(e);
    await log.flush();
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(events.length);
    lines.forEach((line, i) => {
      const rest = withoutEnvelope(JSON.parse(line));
      expect(rest).toEqual(JSON.parse(JSON.stringify(events[i])));
    });
  });

  it('writes the decisions of a turn at its end, in order, before any admin event and before a flush completes', async () => {
    const { lines, log } = captureLog();

    log.decision({ ...ALLOWED, reqId: 'd1' });
    log.decision({ ...ALLOWED, reqId: 'd2' });
    log.admin({ event: 'revocation_added', id: 'k1' });
    log.decision({ ...ALLOWED, reqId: 'd3' });
    await new Promise((r) => setImmediate(r));
    log.decision({ ...ALLOWED, reqId: 'd4' });
    await log.flush();
    expect(lines.map((l) => JSON.parse(l)).map((l) => l.reqId ?? l.event)).toEqual([
      'd1',
      'd2',
      'revocation_added',
      'd3',
      'd4',
    ]);
  });

  it('writes admin events with their own event name', () => {
    const { lines, log } = captureLog();
    log.admin({ event: 'revocation_added', id: 'k"1', by: 'ops' });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      schema: AUDIT_SCHEMA,
      event: 'revocation_added',
      id: 'k"1',
      by: 'ops',
    });
  });

  it('samples allow decisions only: denies, would-denies and admin events are always written', () => {
    let n = 0;
    // A fixed sequence in place of Math.random: every other allow falls under a 0.5 sample.
    const { lines, log } = captureLog({ allowSample: 0.5, random: () => (n++ % 2 === 0 ? 0.1 : 0.9) });

    for (let i = 0; i < 10; i++) log.decision({ ...ALLOWED, reqId: `allow-${i}` });
    for (const decision of ['forbidden', 'unauthenticated', 'limited', 'would-deny', 'error'] as const)
      for (let i = 0; i < 4; i++) log.decision({ ...ALLOWED, decision, reqId: `${decision}-${i}` });
    log.admin({ event: 'ban_started', ip: '203.0.113.9' });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed.filter((l) => l.decision === 'allow')).toHaveLength(5);
    expect(parsed.filter((l) => l.event === 'decision' && l.decision !== 'allow')).toHaveLength(20);
    expect(parsed.filter((l) => l.event === 'ban_started')).toHaveLength(1);
  });

  it('writes nothing, and builds nothing, with no sink', () => {
    const log = createAuditLog([], systemClock);
    expect(() => log.decision(null as never)).not.toThrow();
  });
});
