// An audit log kept in memory as the audit line tests read it, and a plain decision for them to write.
import { Writable } from 'node:stream';
import { createAuditLog, type DecisionEvent } from '../../src/audit/audit-log.js';
import { destinationSink } from '../../src/audit/sink.js';
import { systemClock } from '../../src/util/clock.js';

/** A plain allow decision; tests spread it and change what they look at. */
export const ALLOWED: DecisionEvent = {
  reqId: 'r',
  decision: 'allow',
  reason: 'permitted',
  status: 200,
  dialect: 'nginx',
  method: 'GET',
  host: 'h',
  path: '/',
  clientIp: null,
  peer: null,
  sub: null,
  authMethod: null,
  keyId: null,
  rule: 0,
  durationMs: 0,
};

/** An audit log on the system clock (`opts` as createAuditLog takes them) and every chunk it wrote, newline included. */
export function captureLog(opts: Parameters<typeof createAuditLog>[2] = {}) {
  const lines: string[] = [];
  const sink = new Writable({
    write: (c, _e, cb) => {
      lines.push(String(c));
      cb();
    },
  });
  return { lines, log: createAuditLog([destinationSink('test', sink, systemClock)], systemClock, opts) };
}
