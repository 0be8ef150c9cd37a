// Run real Caddy with deploy/caddy/Caddyfile, unchanged: its addresses come from environment variables.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort, waitForPort } from './net.js';
import { findBinary, startChild } from './process.js';
import { DEPLOY_DIR } from './render.js';
import type { Proxy } from './proxy.js';

/** The caddy binary, or null when not installed. */
export const CADDY_BIN = findBinary('caddy', ['/usr/bin/caddy']);

/** The Host the Caddy site answers in the tests (the recipe's site, on a free port). */
export const CADDY_SITE_HOST = 'app.example.com';

/** Where Caddy's recipe sends requests; `env` overrides the recipe's variables for the chosen port. */
export interface CaddyOptions {
  wardenPort: number;
  upstreamPort: number;
  env?: (port: number) => Record<string, string>;
  /** A Caddyfile's text to run instead of deploy/caddy/Caddyfile (e.g. with `warden recipe caddy`'s lines). */
  caddyfile?: string;
}

/** Start Caddy on a free port with warden at `wardenPort` and the app at `upstreamPort`; no admin API. */
export function startCaddy(opts: CaddyOptions): Promise<Proxy> {
  return onFreePort((port) => startCaddyOn(port, opts));
}

async function startCaddyOn(port: number, opts: CaddyOptions): Promise<Proxy> {
  if (!CADDY_BIN) throw new Error('caddy is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'warden-caddy-'));
  for (const sub of ['home', 'data', 'config']) mkdirSync(join(dir, sub));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(dir, 'home'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    // Plain HTTP on a free port for the recipe's host; the admin API off so parallel runs never collide on :2019.
    WARDEN_SITE: `http://${CADDY_SITE_HOST}:${port}`,
    WARDEN_ADDR: `127.0.0.1:${opts.wardenPort}`,
    APP_ADDR: `127.0.0.1:${opts.upstreamPort}`,
    CADDY_ADMIN: 'off',
    ...opts.env?.(port),
  };
  let config = join(DEPLOY_DIR, 'caddy/Caddyfile');
  if (opts.caddyfile !== undefined) {
    config = join(dir, 'Caddyfile');
    writeFileSync(config, opts.caddyfile);
  }
  const child = startChild(CADDY_BIN, ['run', '--config', config, '--adapter', 'caddyfile'], {
    env,
    cwd: dir,
  });
  try {
    await waitForPort(port, { timeoutMs: 15_000, failed: child.exited });
  } catch (e) {
    await child.stop();
    const log = child.output();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`caddy did not start: ${(e as Error).message}\n${log}`, { cause: e });
  }
  return {
    kind: 'caddy',
    port,
    dir,
    log: () => child.output(),
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
