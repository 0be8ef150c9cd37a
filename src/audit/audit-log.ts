// The audit stream: one JSON line per decision (CONTRACT.md "Audit line"). Never a secret.
import pino, { type DestinationStream, type Logger } from 'pino';
import { LineWriter } from './line-writer.js';

/** The fields of one decision event. */
export interface DecisionEvent {
  reqId: string;
  decision: 'allow' | 'unauthenticated' | 'forbidden' | 'limited' | 'malformed' | 'error' | 'would-deny';
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
  /** A refused bearer token: the `kid` of its header and jose's error code. Never the token. */
  kid?: string;
  joseCode?: string;
  /** Extra claim headers sent empty on this allow, and why. */
  headerProblems?: string[];
  /** Set on `would-deny`: allowed because of `WARDEN_MODE=shadow` (`mode`) or a `shadow: true` rule (`rule`). */
  shadow?: 'mode' | 'rule';
  durationMs: number;
}

/** An administrative event: revocations, bans, reloads. Never sampled. */
export interface AdminEvent {
  event: 'revocation_added' | 'revocation_removed' | 'ban_started' | 'admin_denied' | 'policy_reloaded' | 'config_rejected' | SignInEvent;
  [field: string]: unknown;
}

/** Browser sign-in events (src/oauth2/): never carry a cookie, token, code, state or password. */
export type SignInEvent = 'sign_in' | 'sign_in_failed' | 'sign_out' | 'redirect_refused' | 'backchannel_logout' | 'cross_site_refused';

/** Where audit events go. */
export interface AuditLog {
  decision(e: DecisionEvent): void;
  admin(e: AdminEvent): void;
  flush(): Promise<void>;
}

// Printable ASCII but `"` and `\`: written between quotes as is; anything else goes through JSON.stringify.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(v: string | null | undefined): string {
  if (v === null || v === undefined) return 'null';
  return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
}

/** The decision fields as JSON members, built directly (this runs on every /verify). */
export function decisionFields(e: DecisionEvent): string {
  return (
    `,"reqId":${str(e.reqId)},"decision":${str(e.decision)},"reason":${str(e.reason)}` +
    (e.cause !== undefined ? `,"cause":${str(e.cause)}` : '') +
    `,"status":${e.status},"dialect":${str(e.dialect)},"method":${str(e.method)},"host":${str(e.host)},"path":${str(e.path)}` +
    `,"clientIp":${str(e.clientIp)},"peer":${str(e.peer)},"sub":${str(e.sub)},"authMethod":${str(e.authMethod)},"keyId":${str(e.keyId)}` +
    `,"rule":${e.rule === null ? 'null' : e.rule}` +
    (e.rateLimit !== undefined ? `,"rateLimit":${str(e.rateLimit)}` : '') +
    (e.kid !== undefined ? `,"kid":${str(e.kid)}` : '') +
    (e.joseCode !== undefined ? `,"joseCode":${str(e.joseCode)}` : '') +
    (e.headerProblems !== undefined ? `,"headerProblems":${JSON.stringify(e.headerProblems)}` : '') +
    (e.shadow !== undefined ? `,"shadow":${str(e.shadow)}` : '') +
    `,"durationMs":${e.durationMs}`
  );
}

/** stdout through a {@link LineWriter}: one write per event-loop turn, bounded at 64 MiB waiting. */
export function auditStdout(): DestinationStream {
  return new LineWriter(1);
}

/**
 * Audit log writing one JSON line per event to a destination (stdout by default, through
 * sonic-boom's buffered writer). Lines are built directly rather than through a pino logger:
 * the decision line is on every /verify, and this costs a third of pino's serialisation.
 */
export function createAuditLog(destination: DestinationStream = auditStdout()): AuditLog {
  let lastMs = 0;
  let lastIso = '';
  const head = (event: string) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    return `{"level":"info","time":"${lastIso}","event":${JSON.stringify(event)}`;
  };
  const line = (event: string, fields: object) => {
    const body = JSON.stringify(fields);
    destination.write(head(event) + (body === '{}' ? '' : ',' + body.slice(1, -1)) + '}\n');
  };
  return {
    decision: (e) => destination.write(head('decision') + decisionFields(e) + '}\n'),
    admin: ({ event, ...rest }) => line(event, rest),
    flush: () =>
      new Promise((resolve) => {
        const d = destination as DestinationStream & { flush?: (cb: () => void) => void };
        if (typeof d.flush === 'function') d.flush(() => resolve());
        else resolve();
      }),
  };
}

/** The operational log (startup, reloads, errors): stderr, separate from the audit stream. */
export function createOpsLog(level: string, destination: DestinationStream = pino.destination({ dest: 2, sync: true })): Logger {
  return pino({ level, base: { service: 'warden' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
