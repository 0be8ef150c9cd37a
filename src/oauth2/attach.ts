// Wire browser sign-in into a starting process: the session authenticator into the chain, the /oauth2 routes.
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/load.js';
import { compileCidrs } from '../request/client-ip.js';
import type { RuntimeState, Shared } from '../runtime.js';
import type { Services } from '../services.js';
import type { Clock } from '../util/clock.js';
import type { OAuthEnv } from './request.js';
import { oauth2Routes } from './routes.js';
import { createSignIn, sessionAuthenticator } from './sign-in.js';

/** What main.ts needs from sign-in: the chain's session authenticator, the login URL, the routes. */
export interface AttachedSignIn {
  /** The session cookie's name and the authenticator of a policy version's claims mapping (`Shared.sessionAuth`); null without sign-in. */
  sessionAuth: Shared['sessionAuth'];
  loginUrl: string | undefined;
  /** `<public url>/oauth2/start` when providers are configured: where step-up sends browsers. */
  startUrl: string | undefined;
  routes: Hono<OAuthEnv> | null;
  /** Set-Cookie that removes the session cookie, for /verify's refusals. */
  clearSessionCookie: string | null;
  /**
   * The `oidc` readiness check, when providers are configured. Always ready: an IdP that is down
   * stops sign-ins (a "try again" page), not the sessions, keys and tokens warden serves meanwhile.
   */
  readiness: (() => { ready: boolean; detail: string }) | null;
}

/**
 * Set up sign-in when providers or dev users are configured. Built before the first runtime, whose
 * chain takes `sessionAuth`; `state` is read only when a request comes, by then holding that runtime.
 */
export function attachSignIn(
  config: Config,
  deps: {
    services: Pick<Services, 'store' | 'revocations'>;
    /** The runtime in force at each request (its bans and claims mapping). */
    state: Pick<RuntimeState, 'current'>;
    audit: AuditLog;
    /** Sessions, flows and CSRF tokens are dated by it. */
    clock: Clock;
    /** Requests to the providers. */
    fetch: typeof fetch;
    log?: Pick<Logger, 'warn'>;
  },
): AttachedSignIn {
  const { services, state, audit, clock, fetch, log } = deps;
  const signIn = createSignIn(config, {
    store: services.store,
    revocations: services.revocations,
    audit,
    state,
    trustedProxies: compileCidrs(config.env.WARDEN_TRUSTED_PROXIES),
    clock,
    fetch,
    log,
  });
  return {
    sessionAuth: signIn
      ? {
          cookie: signIn.sessions.cookies.sessionName,
          authenticator: (mapping) => sessionAuthenticator(signIn, mapping),
        }
      : null,
    loginUrl: signIn?.loginUrl,
    startUrl: signIn && signIn.providers.size > 0 ? `${signIn.publicUrl}/oauth2/start` : undefined,
    routes: signIn ? oauth2Routes(signIn) : null,
    clearSessionCookie: signIn ? signIn.sessions.clearCookie() : null,
    readiness:
      signIn && signIn.providers.size > 0
        ? () => {
            const waiting = [...signIn.providers.values()]
              .filter((p) => !p.discovered)
              .map((p) => p.settings.id);
            return {
              ready: true,
              detail:
                waiting.length === 0
                  ? `${signIn.providers.size} providers discovered`
                  : `sign-in unavailable until discovered: ${waiting.join(', ')}`,
            };
          }
        : null,
  };
}
