// Wire the console into a starting process (WARDEN_CONSOLE=true): the decision feed, the data sources, access.
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditView } from '../audit/view.js';
import type { Env } from '../config/env-schema.js';
import type { RuntimeState } from '../runtime.js';
import type { Services } from '../services.js';
import type { Clock } from '../util/clock.js';
import { fixedCsrfKey, SharedCsrfKey, type CsrfKeySource } from './csrf-key.js';
import { localData } from './data.js';
import { DecisionFeed } from './decisions.js';
import type { ConsoleDeps } from './deps.js';

/** The console's dependencies but the admin app (createApp adds it); null when WARDEN_CONSOLE is off. */
export function attachConsole(o: {
  env: Env;
  state: RuntimeState;
  services: Pick<Services, 'store' | 'revocations' | 'storedKeys' | 'adminBans' | 'alertLog'>;
  audit: AuditLog;
  auditView: AuditView;
  clock: Clock;
  loginUrl: string | undefined;
  sessionCookie: string | null;
}): Omit<ConsoleDeps, 'admin'> | null {
  const { env, clock } = o;
  if (!env.WARDEN_CONSOLE) return null;
  const now = () => clock.now();
  const feed = new DecisionFeed();
  o.audit.onDecision((e, t) => feed.record(e, t));
  // The same dependencies as the admin API's bans and alerts routes: the same checks, the same audit.
  const incident = {
    state: o.state,
    now,
    audit: o.audit,
    services: { adminBans: o.services.adminBans, alertLog: o.services.alertLog },
    trustedProxyCidrs: env.WARDEN_TRUSTED_PROXIES,
    alertWebhook: env.WARDEN_ALERT_WEBHOOK_URL !== undefined,
  };
  const data = localData({
    state: o.state,
    revocations: o.services.revocations,
    storedKeys: o.services.storedKeys ?? null,
    feed,
    now,
    auditView: o.auditView,
    auditFile:
      env.WARDEN_AUDIT_SINKS.includes('file') && env.WARDEN_AUDIT_FILE !== undefined
        ? env.WARDEN_AUDIT_FILE
        : null,
    incident,
  });
  return {
    state: o.state,
    audit: o.audit,
    now,
    loginUrl: o.loginUrl,
    sessionCookie: o.sessionCookie,
    csrfKey: csrfKey(env.WARDEN_SESSION_SECRET?.[0], o.services.store, now),
    secure: env.WARDEN_PUBLIC_URL?.startsWith('https:') ?? false,
    data,
    feed,
    incident,
    auditView: o.auditView,
  };
}

/**
 * The CSRF key: derived from the session secret when there is one; without it (API-key access) one
 * random key shared through Redis, so a form loaded from one replica posts to another; else this process's.
 */
function csrfKey(secret: string | undefined, store: Services['store'], now: () => number): CsrfKeySource {
  if (secret !== undefined || store.kind !== 'redis') return fixedCsrfKey(secret);
  const key = new SharedCsrfKey(store.records('console'), now);
  // Read (or written) at start, so the first page does not wait for it; a failure is retried on use.
  void key.signing();
  return key;
}
