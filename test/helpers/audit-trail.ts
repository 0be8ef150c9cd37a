// An audit trail for search tests: varied decisions (and a few admin events) written through a real AuditLog.
import { Writable } from 'node:stream';
import type { AuditLog, DecisionEvent } from '../../src/audit/audit-log.js';
import { destinationSink, type AuditSink } from '../../src/audit/sink.js';
import type { FakeClock } from './clock.js';

const IDENTITIES = ['agent-7', 'agent-8', 'ops-1', null] as const;
const IPS = ['203.0.113.7', '203.0.113.200', '198.51.100.1', '2001:db8::1', null] as const;
const OUTCOMES = [
  ['allow', 200],
  ['unauthenticated', 401],
  ['forbidden', 403],
  ['limited', 429],
  ['malformed', 403],
  ['error', 500],
  ['would-deny', 200],
] as const;
/** Paths a search must keep as data: HTML, quotes, a spreadsheet formula. */
export const ODD_PATH = '/x/<script>alert("1")</script>';
export const FORMULA_IDENTITY = '=HYPERLINK("http://evil.example","x")';
const PATHS = ['/api/nodes', '/api/users/1', '/health', '/admin/x', ODD_PATH] as const;
const RULES = [0, 1, 2, null] as const;

/** The i-th decision of the trail: each field cycles with a different period, so filters cut differently. */
export function trailEvent(i: number): DecisionEvent {
  const [decision, status] = OUTCOMES[i % OUTCOMES.length]!;
  const sub = i % 97 === 13 ? FORMULA_IDENTITY : IDENTITIES[i % IDENTITIES.length]!;
  return {
    reqId: `req-${i}`,
    decision,
    reason: decision === 'allow' ? 'permitted' : 'insufficient_permissions',
    status,
    dialect: 'traefik',
    method: 'GET',
    host: 'app.example.com',
    path: PATHS[i % PATHS.length]!,
    clientIp: IPS[(i >> 1) % IPS.length]!,
    peer: '127.0.0.1',
    sub,
    authMethod: i % IDENTITIES.length === 3 ? null : 'api_key',
    keyId: sub,
    rule: RULES[(i >> 2) % RULES.length]!,
    durationMs: 0.05 * ((i % 40) + 1),
  };
}

/** A sink keeping every line written, in order (without newlines). */
export function memorySink(clock: FakeClock): { sink: AuditSink; lines: string[] } {
  const lines: string[] = [];
  const w = new Writable({
    write: (chunk: Buffer, _e, cb) => {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  return { sink: destinationSink('memory', w, clock), lines };
}

/**
 * Write decisions `from` … `to - 1` (and an admin event every 50th) one second apart on `clock`,
 * then flush every sink.
 */
export async function writeTrail(audit: AuditLog, clock: FakeClock, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    audit.decision(trailEvent(i));
    if (i % 50 === 25)
      audit.admin({ event: 'revocation_added', type: 'key', id: 'agent-8', reason: 'leaked', by: 'ops-1' });
    clock.advance(1000);
  }
  await audit.flush();
}
