// Audit search filters as a query string gives them: parsed, or refused with the field at fault.
import { describe, expect, it } from 'vitest';
import { compileQuery, parseAuditQuery } from '../../src/audit/search-query.js';

const parse = (qs: string) => {
  const p = new URLSearchParams(qs);
  return parseAuditQuery((n) => p.get(n) ?? undefined);
};

describe('parseAuditQuery', () => {
  it('reads every filter', () => {
    expect(
      parse(
        'from=2026-12-03T02:00:00Z&to=1796274000000&identity=agent-7&ip=10.0.0.0/8&decision=forbidden,limited&status=403&path=/api&rule=2',
      ),
    ).toEqual({
      query: {
        from: Date.parse('2026-12-03T02:00:00Z'),
        to: 1796274000000,
        identity: 'agent-7',
        ip: '10.0.0.0/8',
        decision: ['forbidden', 'limited'],
        status: 403,
        path: '/api',
        rule: 2,
      },
    });
  });

  it('treats empty fields as absent, `refused` as every refusal, `default` as the default rule', () => {
    expect(parse('identity=&decision=refused&rule=default')).toEqual({
      query: { decision: ['unauthenticated', 'forbidden', 'limited', 'malformed', 'error'], rule: null },
    });
  });

  it.each([
    ['from=02:00', 'from'],
    ['from=2026-12-03T02:00:00', 'from'],
    ['from=2026-12-03T03:00:00Z&to=2026-12-03T02:00:00Z', 'from'],
    ['identity=a%0Ab', 'identity'],
    [`path=/${'p'.repeat(2000)}&x=a-2000-character-path`, 'path'],
    ['decision=allow,deny', 'decision'],
    ['status=99', 'status'],
    ['rule=-1', 'rule'],
    ['ip=10.0.0.0/33', 'ip'],
  ])('%.60s → 400 naming %s', (qs, field) => {
    expect(parse(qs)).toMatchObject({ problem: { field } });
  });
});

describe('compileQuery', () => {
  const line = (r: Record<string, unknown>) => ({ text: JSON.stringify(r), r });
  it('never rules out by substring a line the exact test accepts', () => {
    const { text, r } = line({
      event: 'decision',
      sub: 'a"b\\c',
      status: 403,
      path: '/é/x',
      decision: 'limited',
      rule: 3,
    });
    const m = compileQuery({ identity: 'a"b\\c', status: 403, path: '/é', decision: ['limited'], rule: 3 });
    expect(m.maybe(Buffer.from(text))).toBe(true);
    expect(m.matches(r)).toBe(true);
  });

  it('matches IPv4-mapped and CIDR addresses, a decision’s client IP only', () => {
    const m = compileQuery({ ip: '203.0.113.0/24' });
    expect(m.matches({ event: 'decision', clientIp: '203.0.113.9' })).toBe(true);
    expect(m.matches({ event: 'decision', clientIp: null, peer: '203.0.113.9' })).toBe(false);
    expect(m.matches({ event: 'admin_denied', peer: '203.0.113.9' })).toBe(true);
    expect(
      compileQuery({ ip: '::ffff:203.0.113.9' }).matches({ event: 'decision', clientIp: '203.0.113.9' }),
    ).toBe(true);
  });
});
