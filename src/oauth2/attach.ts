// Wire browser sign-in into a starting process: the session authenticator into the chain, the /oauth2 routes.
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config/load.js';
import { compileCidrs } from '../request/client-ip.js';
import type { Runtime, RuntimeState } from '../runtime.js';
import type { Services } from '../services.js';
import type { OAuthEnv } from './request.js';
import { oauth2Routes } from './routes.js';
import { createSignIn, sessionAuthenticator } from './sign-in.js';

/** What main.ts needs from sign-in: the login URL, the routes, and where the runtime will be. */
export interface AttachedSignIn {
  loginUrl: string | undefined;
  routes: Hono<OAuthEnv> | null;
  /** Set-Cookie that removes the session cookie, for /verify's refusals. */
  clearSessionCookie: string | null;
  /**
   * The `oidc` readiness check, when providers are configured. Always ready: an IdP that is down
   * stops sign-ins (a "try again" page), not the sessions, keys and tokens warden serves meanwhile.
   */
  readiness: (() => { ready: boolean; detail: string }) | null;
  setState(state: RuntimeState): void;
}

/**
 * Set up sign-in when providers or dev users are configured: `services.sessionAuth` puts the
 * session authenticator in every runtime's chain (so it must run before the first buildRuntime).
 */
export function attachSignIn(
  config: Config,
  services: Services,
  audit: AuditLog,
  log?: Pick<Logger, 'warn'>,
): AttachedSignIn {
  let state: RuntimeState | null = null;
  const holder = {
    get current(): Runtime {
      if (!state) throw new Error('sign-in used before the runtime was built');
      return state.current;
    },
  };
  const signIn = createSignIn(config, {
    store: services.store,
    revocations: services.revocations,
    audit,
    state: holder,
    trustedProxies: compileCidrs(config.env.WARDEN_TRUSTED_PROXIES),
    now: Date.now,
    log,
  });
  if (signIn)
    services.sessionAuth = {
      cookie: signIn.sessions.cookies.sessionName,
      authenticator: (mapping) => sessionAuthenticator(signIn, mapping),
    };
  return {
    loginUrl: signIn?.loginUrl,
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
    setState: (s) => void (state = s),
  };
}
