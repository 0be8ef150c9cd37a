// nginx: the deploy/nginx recipe's include files per front server, nginx.conf, and starting it.
//
// Preferred: the deploy/nginx recipe itself, addresses changed only (as test/e2e does). Every auth
// configuration includes the same warden-auth.conf / warden-protect.conf; for nginx's static answer
// only the upstream the subrequest goes to differs. Fallback when the recipe is absent: the same
// subrequest shape written out here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ports, Target } from './configs.js';
import { fail, run, spawnOn, waitFor } from './proc.js';

const RECIPE_FILES = [
  'warden-upstream.conf',
  'warden-auth.conf',
  'warden-protect.conf',
  'warden-decisions.conf',
  'warden-decisions-cached.conf',
  'warden-cache-zone.conf',
] as const;
type RecipeFile = (typeof RECIPE_FILES)[number];

function render(text: string, from: string, to: string, file: RecipeFile): string {
  if (!text.includes(from)) throw new Error(`deploy/nginx/${file}: expected "${from}" to replace`);
  return text.split(from).join(to);
}

/** The recipe's files for one target, addresses (and the upstream name) changed only. */
function writeRecipeIncludes(recipe: Record<RecipeFile, string>, prefix: string, t: Target, port: number) {
  const dir = join(prefix, t.id);
  let up = render(
    recipe['warden-upstream.conf'],
    'server 127.0.0.1:8080',
    `server 127.0.0.1:${port}`,
    'warden-upstream.conf',
  );
  let auth = render(
    recipe['warden-auth.conf'],
    'include warden/warden-decisions.conf;',
    `include ${join(dir, 'warden-decisions.conf')};`,
    'warden-auth.conf',
  );
  // The cached configuration opts in as the recipe says: warden-decisions-cached.conf as warden-decisions.conf, plus the zone.
  writeFileSync(
    join(dir, 'warden-decisions.conf'),
    recipe[t.cached ? 'warden-decisions-cached.conf' : 'warden-decisions.conf'],
  );
  if (t.cached) {
    const zone = recipe['warden-cache-zone.conf'];
    const cacheDir = join(prefix, 'tmp', 'decisions');
    writeFileSync(
      join(dir, 'warden-cache-zone.conf'),
      render(zone, '/var/cache/nginx/warden', cacheDir, 'warden-cache-zone.conf'),
    );
  }
  if (t.upstream !== 'warden') {
    up = render(up, 'upstream warden ', `upstream ${t.upstream} `, 'warden-upstream.conf');
    auth = render(auth, 'http://warden/', `http://${t.upstream}/`, 'warden-auth.conf');
  }
  writeFileSync(join(dir, 'warden-upstream.conf'), up);
  writeFileSync(join(dir, 'warden-auth.conf'), auth);
  writeFileSync(join(dir, 'warden-protect.conf'), recipe['warden-protect.conf']);
}

const FALLBACK_PROTECT = `auth_request /_warden;
auth_request_set $warden_user_id $upstream_http_x_user_id;
auth_request_set $warden_user_roles $upstream_http_x_user_roles;
proxy_set_header X-User-ID $warden_user_id;
proxy_set_header X-User-Roles $warden_user_roles;
proxy_http_version 1.1;
proxy_set_header Connection "";
`;

const fallbackAuth = (name: string): string => `location = /_warden {
    internal;
    proxy_pass http://${name}/verify/nginx;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
}
`;

function writeFallbackIncludes(prefix: string, t: Target, port: number): void {
  const dir = join(prefix, t.id);
  writeFileSync(
    join(dir, 'warden-upstream.conf'),
    `upstream ${t.upstream} { server 127.0.0.1:${port}; keepalive 64; }\n`,
  );
  writeFileSync(join(dir, 'warden-auth.conf'), fallbackAuth(t.upstream));
  writeFileSync(join(dir, 'warden-protect.conf'), FALLBACK_PROTECT);
}

/** Write the include files to <prefix>/<target id>/ for each target; returns a description of what was used. */
function writeAuthIncludes(root: string, prefix: string, targets: readonly Target[], ports: Ports): string {
  for (const t of targets) mkdirSync(join(prefix, t.id), { recursive: true });
  const recipeDir = join(root, 'deploy', 'nginx');
  if (RECIPE_FILES.every((f) => existsSync(join(recipeDir, f)))) {
    const recipe = Object.fromEntries(
      RECIPE_FILES.map((f) => [f, readFileSync(join(recipeDir, f), 'utf8')]),
    ) as Record<RecipeFile, string>;
    for (const t of targets) writeRecipeIncludes(recipe, prefix, t, ports.auth[t.id]);
    return 'the deploy/nginx recipe (warden-upstream.conf, warden-auth.conf, warden-decisions.conf, warden-protect.conf; addresses changed only; the cached configuration with warden-decisions-cached.conf and warden-cache-zone.conf)';
  }
  for (const t of targets) writeFallbackIncludes(prefix, t, ports.auth[t.id]);
  return 'a built-in auth_request location (deploy/nginx recipe not found)';
}

const frontServer = (prefix: string, t: Target, port: number): string => `
    # ${t.comment}
    server {
        listen 127.0.0.1:${port};
        include ${prefix}/${t.id}/warden-auth.conf;
        location / {
            include ${prefix}/${t.id}/warden-protect.conf;
            proxy_pass http://app;
        }
    }
`;

const includes = (prefix: string, t: Target): string =>
  `    include ${prefix}/${t.id}/warden-upstream.conf;\n${t.cached ? `    include ${prefix}/${t.id}/warden-cache-zone.conf;\n` : ''}`;

function nginxConf(prefix: string, targets: readonly Target[], ports: Ports): string {
  return `# generated by bench/nginx.ts
${process.getuid?.() === 0 ? 'user root;  # as root, workers would switch to nobody' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${prefix}/tmp/body;
    proxy_temp_path ${prefix}/tmp/proxy;
    fastcgi_temp_path ${prefix}/tmp/fastcgi;
    uwsgi_temp_path ${prefix}/tmp/uwsgi;
    scgi_temp_path ${prefix}/tmp/scgi;
    default_type text/plain;

${targets.map((t) => includes(prefix, t)).join('')}    upstream app { server 127.0.0.1:${ports.app}; keepalive 32; }

    # the application: a small static answer (and an identity echo for the pre-flight check)
    server {
        listen 127.0.0.1:${ports.app};
        location = /api/_whoami { return 200 "$http_x_user_id|$http_x_user_roles\\n"; }
        location / { return 200 "ok\\n"; }
    }

    # nginx's own static auth answer
    server {
        listen 127.0.0.1:${ports.auth.static};
        location / { return 200; }
    }

    # (a) no auth
    server {
        listen 127.0.0.1:${ports.noauth};
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://app;
        }
    }

${targets.map((t) => frontServer(prefix, t, ports.front[t.id])).join('')}}
`;
}

/**
 * Write nginx's configuration under <tmp>/nginx, check it with `nginx -t`, start nginx (1 worker,
 * CPU 0) and wait for it; returns the description of the auth subrequest configuration.
 */
export async function startNginx(
  o: { root: string; tmp: string; nginx: string },
  targets: readonly Target[],
  ports: Ports,
): Promise<string> {
  const prefix = join(o.tmp, 'nginx');
  for (const d of ['tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi'])
    mkdirSync(join(prefix, d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const recipe = writeAuthIncludes(o.root, prefix, targets, ports);
  writeFileSync(conf, nginxConf(prefix, targets, ports));
  process.stdout.write(`nginx auth config: ${recipe}\n`);
  const args = ['-p', prefix, '-e', join(prefix, 'error.log'), '-c', conf];
  const test = run(o.nginx, ['-t', ...args]);
  if (!/test is successful/.test(test)) fail(`nginx -t failed:\n${test}`);
  spawnOn(0, o.nginx, args, { stdio: ['ignore', 'ignore', 'inherit'] }, 'nginx');
  await waitFor(`http://127.0.0.1:${ports.noauth}/`, 'nginx');
  return recipe;
}
