// The audit stream: one JSON line per decision (CONTRACT.md "Audit line"). Never a secret.
import pino, { type DestinationStream, type Logger } from 'pino';

/** The fields of one decision event. */
export interface DecisionEvent {
  reqId: string;
  decision: 'allow' | 'unauthenticated' | 'forbidden' | 'limited' | 'malformed' | 'error';
  reason: string;
  /** Audit-only detail of a refused credential (`unknown`, `expired`, …) or a malformed context. */
  cause?: string;
  status: number;
  dialect: string;
  method: string | null;
  host: string | null;
  path: string | null;
  clientIp: string | null;
  peer: string | null;
  sub: string | null;
  authMethod: string | null;
  keyId: string | null;
  rule: number | null;
  rateLimit?: string;
  durationMs: number;
}

/** An administrative event: revocations, bans, reloads. Never sampled. */
export interface AdminEvent {
  event: 'revocation_added' | 'revocation_removed' | 'ban_started' | 'admin_denied';
  [field: string]: unknown;
}

/** Where audit events go. */
export interface AuditLog {
  decision(e: DecisionEvent): void;
  admin(e: AdminEvent): void;
  flush(): Promise<void>;
}

/** Audit log writing JSON lines to a pino destination (stdout by default). */
export function createAuditLog(destination: DestinationStream = pino.destination({ dest: 1, sync: false })): AuditLog {
  const logger: Logger = pino(
    { base: null, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg', formatters: { level: (label) => ({ level: label }) } },
    destination,
  );
  return {
    decision: (e) => logger.info({ event: 'decision', ...e }),
    admin: (e) => logger.info(e),
    flush: () =>
      new Promise((resolve) => {
        logger.flush(() => resolve());
      }),
  };
}

/** The operational log (startup, reloads, errors): stderr, separate from the audit stream. */
export function createOpsLog(level: string, destination: DestinationStream = pino.destination({ dest: 2, sync: true })): Logger {
  return pino({ level, base: { service: 'warden' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
