// deploy/nginx/ installed into a stock Debian nginx layout, beside its sites-enabled/default: `nginx -t` passes
// for warden.conf (included in http or copied to conf.d) and for warden-tls.conf.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { NGINX_BIN } from './harness/nginx.js';
import { selfSignedCert } from './harness/tls.js';
import { describeNeeding, findBinary } from './harness/process.js';
import { DEPLOY_DIR, renderRecipe } from './harness/render.js';
import { testDir } from '../helpers/tmp.js';

const OPENSSL = findBinary('openssl');

// Debian 12's /etc/nginx/nginx.conf and sites-available/default (nginx 1.22.1-9), comments left out.
const DEBIAN_NGINX_CONF = `user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {
\tworker_connections 768;
}

http {
\tsendfile on;
\ttcp_nopush on;
\ttypes_hash_max_size 2048;
\tinclude /etc/nginx/mime.types;
\tdefault_type application/octet-stream;
\tssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3; # Dropping SSLv3, ref: POODLE
\tssl_prefer_server_ciphers on;
\taccess_log /var/log/nginx/access.log;
\tgzip on;
\tinclude /etc/nginx/conf.d/*.conf;
\tinclude /etc/nginx/sites-enabled/*;
}
`;
const DEBIAN_DEFAULT_SITE = `server {
\tlisten 80 default_server;
\tlisten [::]:80 default_server;
\troot /var/www/html;
\tindex index.html index.htm index.nginx-debian.html;
\tserver_name _;
\tlocation / {
\t\ttry_files $uri $uri/ =404;
\t}
}
`;

type Install = 'http-include' | 'conf.d' | 'tls';

/**
 * A Debian /etc/nginx in a temp dir (absolute paths moved into it), the recipe installed as
 * deploy/nginx/README.md says: files in warden/, then `include warden/warden.conf;` in the http
 * block, or warden.conf copied to conf.d/. `nginx -t` on it; returns exit status and output.
 */
function nginxTest(opts: { install: Install; defaultSite: boolean; edit?: (conf: string) => string }) {
  const etc = testDir('warden-debian-nginx-');
  const moved = (text: string) =>
    text
      .replaceAll('/etc/nginx/', `${etc}/`)
      .replaceAll('/var/log/nginx/', `${etc}/log/`)
      .replace('/run/nginx.pid', `${etc}/nginx.pid`);
  for (const d of ['conf.d', 'modules-enabled', 'sites-available', 'sites-enabled', 'log', 'warden'])
    mkdirSync(join(etc, d));
  if (existsSync('/etc/nginx/mime.types')) copyFileSync('/etc/nginx/mime.types', join(etc, 'mime.types'));
  else writeFileSync(join(etc, 'mime.types'), 'types { text/html html; }\n');
  writeFileSync(join(etc, 'sites-available/default'), DEBIAN_DEFAULT_SITE);
  if (opts.defaultSite) symlinkSync(join(etc, 'sites-available/default'), join(etc, 'sites-enabled/default'));
  let conf = moved(DEBIAN_NGINX_CONF);
  if (opts.install !== 'conf.d') {
    const example = opts.install === 'tls' ? 'warden-tls.conf' : 'warden.conf';
    conf = conf.replace(/\n}\n$/, `\n\tinclude warden/${example};\n}\n`);
  }
  writeFileSync(join(etc, 'nginx.conf'), conf);
  for (const f of readdirSync(join(DEPLOY_DIR, 'nginx')).filter((n) => n.endsWith('.conf')))
    renderRecipe(
      `nginx/${f}`,
      join(etc, 'warden', f),
      f === 'warden-tls.conf' ? [{ from: '/etc/nginx/', to: `${etc}/` }] : [],
    );
  if (opts.install === 'tls') makeCertificate(join(etc, 'warden/tls'));
  if (opts.edit) writeFileSync(join(etc, 'warden/warden.conf'), opts.edit(readWarden(etc)));
  if (opts.install === 'conf.d')
    copyFileSync(join(etc, 'warden/warden.conf'), join(etc, 'conf.d/warden.conf'));
  const args = ['-t', '-p', etc, '-c', join(etc, 'nginx.conf'), '-e', join(etc, 'log/error.log')];
  const r = spawnSync(NGINX_BIN!, args, { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

/** The certificate warden-tls.conf names, made with openssl where the README says to put it. */
function makeCertificate(dir: string): void {
  mkdirSync(dir);
  const host = 'app.example.com';
  selfSignedCert(OPENSSL!, dir, host, host);
}

function readWarden(etc: string): string {
  return readFileSync(join(etc, 'warden/warden.conf'), 'utf8');
}

/** nginx -t output lines that are neither its success lines nor the user-directive notice of a non-root run. */
function complaints(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !/syntax is ok|test is successful/.test(l))
    .filter((l) => !/"user" directive makes sense only if the master process runs with super-user/.test(l));
}

describeNeeding(
  'nginx recipe on a stock Debian nginx (e2e)',
  !NGINX_BIN
    ? 'nginx is not installed (apt-get install nginx)'
    : !OPENSSL
      ? 'openssl is not installed'
      : null,
  () => {
    for (const install of ['http-include', 'conf.d', 'tls'] as const) {
      for (const defaultSite of [true, false]) {
        it(`passes nginx -t: ${install}, ${defaultSite ? 'beside' : 'without'} sites-enabled/default`, () => {
          const r = nginxTest({ install, defaultSite });
          expect(r.status, r.output).toBe(0);
          expect(r.output).toContain('test is successful');
          expect(complaints(r.output), r.output).toEqual([]);
        });
      }
    }

    it('reproduces the failure the recipe avoids: a default_server of its own beside the stock site', () => {
      const r = nginxTest({
        install: 'http-include',
        defaultSite: true,
        edit: (conf) => conf.replace(/listen 80;(\s+return 444;)/, 'listen 80 default_server;$1'),
      });
      expect(r.status).not.toBe(0);
      expect(r.output).toMatch(/duplicate default server for 0\.0\.0\.0:80/);
    });
  },
);
