// Run real nginx with deploy/nginx/ (only addresses changed) in a temp prefix.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onFreePort, waitForPort } from './net.js';
import { findBinary, startChild, type Child } from './process.js';
import { renderRecipe } from './render.js';
import type { Proxy } from './proxy.js';

/** The nginx binary, or null when not installed. */
export const NGINX_BIN = findBinary('nginx', ['/usr/sbin/nginx']);

/**
 * Start nginx: the recipe files go to <tmp>/warden/ exactly as a user installs them in /etc/nginx/warden/,
 * with warden at `wardenPort`, the app at `upstreamPort` and `listen 80` moved to a free loopback port.
 * `serverName` replaces the site's `app.example.com` (e.g. `127.0.0.1`, for clients that are given a
 * loopback URL); `port` is the port to listen on when the test had to know it beforehand.
 */
export function startNginx(opts: {
  wardenPort: number;
  upstreamPort: number;
  decisionCache?: boolean;
  protect?: string;
  serverName?: string;
  port?: number;
}): Promise<Proxy> {
  const launch = (port: number) =>
    launchNginx({
      kind: 'nginx',
      port,
      include: 'warden/warden.conf',
      prepare(dir) {
        mkdirSync(join(dir, 'warden'));
        const listen = { from: /listen 80\b/, to: `listen 127.0.0.1:${port}` };
        const site = opts.serverName
          ? [{ from: 'server_name app.example.com;', to: `server_name ${opts.serverName};` }]
          : [];
        renderRecipe('nginx/warden.conf', join(dir, 'warden/warden.conf'), [
          listen,
          { from: 'server 127.0.0.1:3000;', to: `server 127.0.0.1:${opts.upstreamPort};` },
          ...site,
        ]);
        renderRecipe('nginx/warden-upstream.conf', join(dir, 'warden/warden-upstream.conf'), [
          { from: 'server 127.0.0.1:8080', to: `server 127.0.0.1:${opts.wardenPort}` },
        ]);
        renderRecipe('nginx/warden-auth.conf', join(dir, 'warden/warden-auth.conf'), []);
        if (opts.decisionCache) {
          // Opted in as the recipe says: warden-decisions-cached.conf as warden-decisions.conf, and the zone.
          renderRecipe('nginx/warden-decisions-cached.conf', join(dir, 'warden/warden-decisions.conf'), []);
          renderRecipe('nginx/warden-cache-zone.conf', join(dir, 'warden/warden-cache-zone.conf'), [
            { from: '/var/cache/nginx/warden', to: join(dir, 'decision-cache') },
          ]);
          renderRecipe('nginx/warden.conf', join(dir, 'warden/warden.conf'), [
            listen,
            { from: 'server 127.0.0.1:3000;', to: `server 127.0.0.1:${opts.upstreamPort};` },
            ...site,
            {
              from: 'include warden/warden-upstream.conf;',
              to: 'include warden/warden-upstream.conf;\ninclude warden/warden-cache-zone.conf;',
            },
          ]);
        } else renderRecipe('nginx/warden-decisions.conf', join(dir, 'warden/warden-decisions.conf'), []);
        // `protect`: a warden-protect.conf made by `warden recipe nginx` for another headers preset.
        if (opts.protect !== undefined) writeFileSync(join(dir, 'warden/warden-protect.conf'), opts.protect);
        else renderRecipe('nginx/warden-protect.conf', join(dir, 'warden/warden-protect.conf'), []);
      },
    });
  return opts.port === undefined ? onFreePort(launch) : launch(opts.port);
}

/**
 * Start nginx in a fresh temp prefix: `prepare` writes the configuration there, which the
 * generated nginx.conf includes inside `http { }` as `include`; `modules` are loaded first.
 */
export async function launchNginx(opts: {
  kind: Proxy['kind'];
  port: number;
  include: string;
  modules?: string[];
  prepare(dir: string): void;
}): Promise<Proxy> {
  if (!NGINX_BIN) throw new Error('nginx is not installed');
  const dir = mkdtempSync(join(tmpdir(), `warden-${opts.kind}-`));
  const tmp = (name: string) => join(dir, name);
  try {
    chmodSync(dir, 0o755);
    opts.prepare(dir);
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        ...(opts.modules ?? []).map((m) => `load_module ${m};`),
        // As root, workers would switch to `nobody`; keep them as the test's user.
        process.getuid?.() === 0 ? 'user root;' : '',
        'daemon off;',
        'master_process on;',
        'worker_processes 1;',
        `pid ${tmp('nginx.pid')};`,
        `error_log ${tmp('error.log')} warn;`,
        'events { worker_connections 256; }',
        'http {',
        '  access_log off;',
        `  client_body_temp_path ${tmp('client_body')};`,
        `  proxy_temp_path ${tmp('proxy')};`,
        `  fastcgi_temp_path ${tmp('fastcgi')};`,
        `  uwsgi_temp_path ${tmp('uwsgi')};`,
        `  scgi_temp_path ${tmp('scgi')};`,
        `  include ${opts.include};`,
        '}',
        '',
      ].join('\n'),
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const child: Child = startChild(NGINX_BIN, [
    '-p',
    dir,
    '-c',
    join(dir, 'nginx.conf'),
    '-e',
    tmp('error.log'),
  ]);
  try {
    await waitForPort(opts.port, { timeoutMs: 10_000, failed: child.exited });
  } catch (e) {
    await child.stop();
    const log = readLog(tmp('error.log'));
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`nginx did not start: ${(e as Error).message}\n${child.output()}\n${log}`, { cause: e });
  }
  return {
    kind: opts.kind,
    port: opts.port,
    dir,
    log: () => readLog(tmp('error.log')),
    async stop() {
      await child.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
