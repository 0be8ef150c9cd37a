// A warden with the console on, dev users and keys for each permission, an audit file; sign-in and forms as a browser does.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/oauth2/dev-users.js';
import { onFreePort } from '../e2e/harness/net.js';
import { send, type RawResponse } from '../helpers/http.js';
import { makeDir, removeDir } from '../helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { setCookies } from '../oauth2/helpers.js';
import type { Clock } from '../../src/util/clock.js';

export const SECRET = 'console-test-session-secret-0123456789-abcdef';
/** Dev users: one per permission (their password is their name + "-pass"). */
export const USERS = { admin: 'ops', watcher: 'watcher', dev: 'developer' } as const;
export const KEYS = {
  ops: testKey('ops-1', ['ops']),
  watcher: testKey('watch-1', ['watcher']),
  dev: testKey('dev-1', ['developer']),
};

/** The console's policy: every path public, so a policy that could open the console would. */
export function consolePolicy(): Record<string, unknown> {
  return {
    roles: { ops: ['warden:admin'], watcher: ['warden:console'], developer: ['api:read'] },
    rules: [
      { match: { path: '/api/**' }, require: ['api:read'] },
      { match: { path: '/**' }, public: true },
    ],
    default: 'deny',
  };
}

/** A warden with WARDEN_CONSOLE=true on its own public URL. */
export interface ConsoleSetup {
  w: TestWarden;
  url: string;
  auditFile: string;
  close(): Promise<void>;
}

/**
 * Options: `policy` instead of {@link consolePolicy}; `signIn: false` for a console reached with API keys
 * only (no session secret, public URL or dev users).
 */
export async function startConsole(
  opts: {
    env?: Record<string, string>;
    clock?: Clock;
    policy?: Record<string, unknown>;
    signIn?: boolean;
  } = {},
): Promise<ConsoleSetup> {
  const dir = makeDir('warden-console-');
  const auditFile = join(dir, 'audit.jsonl');
  const usersFile = join(dir, 'dev-users.yaml');
  const users = await Promise.all(
    Object.entries(USERS).map(async ([username, role]) => ({
      username,
      name: `${username} user`,
      roles: [role],
      scrypt: await hashPassword(`${username}-pass`, 1024),
    })),
  );
  writeFileSync(usersFile, stringify({ users }));
  try {
    const w = await onFreePort((port) =>
      startWarden({
        dir,
        policy: opts.policy ?? consolePolicy(),
        keys: Object.values(KEYS).map((k) => k.entry),
        clock: opts.clock,
        env: {
          PORT: String(port),
          WARDEN_CONSOLE: 'true',
          WARDEN_TRUSTED_PROXIES: '127.0.0.1/32',
          ...(opts.signIn === false
            ? {}
            : {
                WARDEN_PUBLIC_URL: `http://127.0.0.1:${port}`,
                WARDEN_SESSION_SECRET: SECRET,
                WARDEN_DEV_USERS: usersFile,
              }),
          WARDEN_AUDIT_SINKS: 'stdout,file',
          WARDEN_AUDIT_FILE: auditFile,
          ...opts.env,
        },
      }),
    );
    return {
      w,
      url: w.url,
      auditFile,
      close: async () => {
        try {
          await w.close();
        } finally {
          removeDir(dir);
        }
      },
    };
  } catch (e) {
    removeDir(dir);
    throw e;
  }
}

/** Sign in a dev user through warden's login form, starting from `rd`; the session cookie and the redirect. */
export async function signIn(s: ConsoleSetup, username: string, rd = '/console/') {
  const page = await send(`${s.url}/oauth2/login?rd=${encodeURIComponent(rd)}`);
  const csrfCookie = `warden_csrf=${setCookies(page).get('warden_csrf')}`;
  const token = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  const formRd = /name="rd" value="([^"]+)"/.exec(page.body)![1]!.replaceAll('&amp;', '&');
  const res = await send(`${s.url}/oauth2/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.url, cookie: csrfCookie },
    body: new URLSearchParams({ csrf: token, rd: formRd, username, password: `${username}-pass` }).toString(),
  });
  const session = setCookies(res).get('warden');
  if (!session) throw new Error(`sign-in failed: ${res.status} ${res.body}`);
  return { cookie: `warden=${session}`, location: String(res.headers.location), session };
}

/** A console page as a browser asks for it. */
export function page(s: ConsoleSetup, path: string, cookie?: string, headers: Record<string, string> = {}) {
  return send(`${s.url}${path}`, {
    headers: { accept: 'text/html', ...(cookie ? { cookie } : {}), ...headers },
  });
}

/** The console cookie and CSRF token a page gave (to send back with a form). */
export function formTokens(res: RawResponse, had?: string): { cookie: string; csrf: string } {
  const set = setCookies(res).get('warden_console');
  const cookie = set ? `warden_console=${set}` : had!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(res.body)![1]!;
  return { cookie, csrf };
}

/** POST a console form. */
export function post(s: ConsoleSetup, path: string, cookie: string, form: Record<string, string>) {
  return send(`${s.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, origin: s.url },
    body: new URLSearchParams(form).toString(),
  });
}

/** A request through /verify (Traefik's headers), as the proxy sends it for a client. */
export function through(s: ConsoleSetup, path: string, headers: Record<string, string> = {}) {
  return send(`${s.url}/verify/traefik`, {
    headers: {
      'x-forwarded-method': 'GET',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example.com',
      'x-forwarded-uri': path,
      'x-forwarded-for': '203.0.113.7',
      ...headers,
    },
  });
}
