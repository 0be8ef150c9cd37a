// Wire the console into a starting process (WARDEN_CONSOLE=true): the decision feed, the data sources, access.
import type { AuditLog } from '../audit/audit-log.js';
import type { Env } from '../config/env-schema.js';
import type { RuntimeState } from '../runtime.js';
import type { Services } from '../services.js';
import type { Clock } from '../util/clock.js';
import { rowOf } from './audit-query.js';
import { localData } from './data.js';
import { DecisionFeed } from './decisions.js';
import type { ConsoleDeps } from './routes.js';

/** The console's dependencies but the admin app (createApp adds it); null when WARDEN_CONSOLE is off. */
export function attachConsole(o: {
  env: Env;
  state: Pick<RuntimeState, 'current'>;
  services: Pick<Services, 'revocations' | 'storedKeys'>;
  audit: AuditLog;
  clock: Clock;
  loginUrl: string | undefined;
  sessionCookie: string | null;
}): Omit<ConsoleDeps, 'admin'> | null {
  const { env, clock } = o;
  if (!env.WARDEN_CONSOLE) return null;
  const now = () => clock.now();
  const feed = new DecisionFeed(now);
  o.audit.onDecision((e, t) => feed.record(e, t));
  const auditFile =
    env.WARDEN_AUDIT_SINKS.includes('file') && env.WARDEN_AUDIT_FILE !== undefined
      ? { path: env.WARDEN_AUDIT_FILE, keep: env.WARDEN_AUDIT_FILE_KEEP }
      : null;
  const data = localData(
    {
      state: o.state,
      revocations: o.services.revocations,
      storedKeys: o.services.storedKeys ?? null,
      feed,
      now,
      auditFile,
    },
    rowOf,
  );
  return {
    state: o.state,
    audit: o.audit,
    now,
    loginUrl: o.loginUrl,
    sessionCookie: o.sessionCookie,
    secret: env.WARDEN_SESSION_SECRET?.[0],
    secure: env.WARDEN_PUBLIC_URL?.startsWith('https:') ?? false,
    data,
    feed,
  };
}
