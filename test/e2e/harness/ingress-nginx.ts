// Run deploy/kubernetes/ingress-nginx/ingress.yaml through real nginx: the annotations become the
// nginx configuration the controller's template (rootfs/etc/nginx/template/nginx.tmpl, controller
// v1.x: the external-auth location, the sign-in location and the protected location) generates
// for them, with warden and the app at loopback addresses. What ingress-nginx does in Lua is done
// here by nginx itself: the balancer is a plain proxy_pass, and the auth cache key is hashed by
// set-misc's set_sha1 instead of Lua's sha1_bin + base64 (the key's content is the same). The
// controller's ConfigMap settings of the recipe (controller-config.yaml) go where the template
// puts them: http-snippet in the http block, the proxy-set-headers ConfigMap into every location.
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { find, K8S_DIR, parseManifests, type Manifest } from '../../deploy/manifests.js';
import { launchNginx } from './nginx.js';
import { onFreePort } from './net.js';
import type { Proxy } from './proxy.js';

/** The annotations this harness renders; an Ingress in the recipe using any other fails its test. */
export const INGRESS_NGINX_ANNOTATIONS = [
  'auth-url',
  'auth-signin',
  'auth-response-headers',
  'auth-cache-key',
  'auth-cache-duration',
  'proxy-buffering',
] as const;

/** The controller ConfigMap keys this harness renders; the recipe setting any other fails its test. */
export const CONTROLLER_SETTINGS = ['proxy-set-headers', 'http-snippet', 'proxy-buffering'] as const;

/** nginx modules for set_escape_uri and set_sha1 (Debian: libnginx-mod-http-set-misc), which ingress-nginx's nginx has built in. */
export const SET_MISC_MODULES = [
  '/usr/lib/nginx/modules/ndk_http_module.so',
  '/usr/lib/nginx/modules/ngx_http_set_misc_module.so',
];
export const SET_MISC_INSTALLED = SET_MISC_MODULES.every((m) => existsSync(m));
/** headers-more (Debian: libnginx-mod-http-headers-more-filter), built into ingress-nginx's nginx: the recipe's http-snippet uses it. */
export const HEADERS_MORE_MODULE = '/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so';
export const HEADERS_MORE_INSTALLED = existsSync(HEADERS_MORE_MODULE);

const RECIPE_FILES = ['ingress.yaml', 'clear-headers.yaml', 'controller-config.yaml'].map((f) =>
  join(K8S_DIR, 'ingress-nginx', f),
);

/** The recipe's settings for the controller's own ConfigMap (controller-config.yaml): key → value. */
export function controllerSettings(): Record<string, string> {
  const cm = find(parseManifests(RECIPE_FILES[2]!), 'ConfigMap', 'ingress-nginx-controller');
  return (cm as unknown as { data: Record<string, string> }).data;
}

/** The ConfigMap the controller's `proxy-set-headers` names (namespace/name), as header → value. */
export function proxySetHeaders(settings = controllerSettings()): Record<string, string> {
  const ref = settings['proxy-set-headers'];
  if (ref === undefined) return {};
  const [namespace, name] = ref.split('/');
  const cm = find(parseManifests(RECIPE_FILES[1]!), 'ConfigMap', name!);
  if (cm.metadata.namespace !== namespace)
    throw new Error(`proxy-set-headers names ${ref}, not in the recipe`);
  return (cm as unknown as { data: Record<string, string> }).data;
}

/** The recipe's Ingresses. */
export function recipeIngresses(): Manifest[] {
  return parseManifests(RECIPE_FILES[0]!).filter((m) => m.kind === 'Ingress');
}

const PREFIX = 'nginx.ingress.kubernetes.io/';

interface IngressPath {
  path: string;
  pathType: string;
  backend: { service: { name: string } };
}
const b64url = (s: string) => Buffer.from(s).toString('base64url');

/** What a location gets from the controller's settings and the Ingress's annotations. */
interface LocationSettings {
  /** proxy-set-headers: header → value, added to every proxied location. */
  proxyHeaders: Record<string, string>;
  /** proxy-buffering: the annotation, else the controller's setting (default off). */
  buffering: string;
}

/** One `location` ingress-nginx writes for an Ingress path, and its auth subrequest location. */
function locationBlocks(
  path: string,
  pathType: string,
  ann: Record<string, string>,
  wardenPort: number,
  upstreamPort: number,
  hostname: string,
  settings: LocationSettings,
): string[] {
  if (ann['auth-url'] === undefined) return [...plainLocation(path, pathType, upstreamPort, settings), '}'];
  const authUrl = new URL(ann['auth-url']);
  const authPath = `/_external-auth-${b64url(path)}-${pathType}`;
  const cacheKey = ann['auth-cache-key'];
  const signin = ann['auth-signin'];
  const signinLocation = signin
    ? `@${createHash('sha1')
        .update(path + signin)
        .digest('hex')}`
    : null;
  const lines: string[] = [];
  lines.push(
    `location = ${authPath} {`,
    '    internal;',
    '    access_log off;',
    ...(cacheKey
      ? [
          `    set $tmp_cache_key '${hostname}${authPath}${cacheKey}';`,
          '    set_sha1 $cache_key $tmp_cache_key;',
          '    proxy_cache auth_cache;',
          ...(ann['auth-cache-duration'] ?? '200 202 401 5m')
            .split(',')
            .map((d) => `    proxy_cache_valid ${d.trim()};`),
          '    proxy_cache_key "$cache_key";',
        ]
      : []),
    '    proxy_pass_request_body     off;',
    '    proxy_set_header            Content-Length          "";',
    '    proxy_set_header            X-Forwarded-Proto       "";',
    '    proxy_set_header            X-Request-ID            $req_id;',
    `    proxy_set_header            Host                    ${authUrl.hostname};`,
    '    proxy_set_header            X-Original-URL          $scheme://$http_host$request_uri;',
    '    proxy_set_header            X-Original-Method       $request_method;',
    '    proxy_set_header            X-Sent-From             "nginx-ingress-controller";',
    '    proxy_set_header            X-Real-IP               $remote_addr;',
    '    proxy_set_header            X-Forwarded-For         $remote_addr;',
    '    proxy_set_header            X-Auth-Request-Redirect $request_uri;',
    `    proxy_buffering             ${cacheKey ? 'on' : 'off'};`,
    '    proxy_buffer_size           4k;',
    '    proxy_buffers               4 4k;',
    '    proxy_request_buffering     on;',
    '    proxy_ssl_server_name       on;',
    '    proxy_pass_request_headers  on;',
    '    client_max_body_size        1m;',
    '    proxy_http_version          1.1;',
    // Only the address changes: the Service's DNS name becomes warden's loopback port.
    `    set $target http://127.0.0.1:${wardenPort}${authUrl.pathname}${authUrl.search};`,
    '    proxy_pass $target;',
    '}',
  );
  if (signinLocation) {
    const u = new URL(signin!);
    const sep = u.search === '' ? '?' : '&';
    lines.push(
      `location ${signinLocation} {`,
      '    internal;',
      '    add_header Set-Cookie $auth_cookie;',
      `    return 302 ${signin}${sep}rd=$pass_access_scheme://$http_host$escaped_request_uri;`,
      '}',
    );
  }
  const responseHeaders = (ann['auth-response-headers'] ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const [open, ...proxying] = plainLocation(path, pathType, upstreamPort, settings);
  lines.push(
    open!,
    `    auth_request ${authPath};`,
    '    auth_request_set $auth_cookie $upstream_http_set_cookie;',
    '    add_header Set-Cookie $auth_cookie;',
    ...responseHeaders.flatMap((h, i) => [
      `    auth_request_set $authHeader${i} $upstream_http_${h.toLowerCase().replace(/-/g, '_')};`,
      `    proxy_set_header '${h}' $authHeader${i};`,
    ]),
    ...(signinLocation
      ? ['    set_escape_uri $escaped_request_uri $request_uri;', `    error_page 401 = ${signinLocation};`]
      : []),
    ...proxying,
    '}',
  );
  return lines;
}

/** The opening and proxying part of the `location` for an Ingress path (without its closing brace). */
function plainLocation(
  path: string,
  pathType: string,
  upstreamPort: number,
  settings: LocationSettings,
): string[] {
  const match = pathType === 'Exact' ? `= ${path}` : path;
  return [
    `location ${match} {`,
    '    client_max_body_size 1m;',
    '    proxy_set_header Host $best_http_host;',
    '    proxy_set_header X-Request-ID $req_id;',
    '    proxy_set_header X-Real-IP $remote_addr;',
    '    proxy_set_header X-Forwarded-For $remote_addr;',
    '    proxy_set_header X-Forwarded-Host $best_http_host;',
    '    proxy_set_header X-Forwarded-Port $server_port;',
    '    proxy_set_header X-Forwarded-Proto $pass_access_scheme;',
    '    proxy_set_header X-Forwarded-Scheme $pass_access_scheme;',
    '    proxy_set_header X-Scheme $pass_access_scheme;',
    // The client's own headers, as the template passes them on (buildForwardedFor/-Host of the defaults).
    '    proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;',
    '    proxy_set_header X-Original-Forwarded-Host $http_x_forwarded_host;',
    '    proxy_set_header Proxy "";',
    // The controller ConfigMap's proxy-set-headers (the recipe's clear-headers.yaml), as its template adds them.
    ...Object.entries(settings.proxyHeaders).map(
      ([k, v]) => `    proxy_set_header ${k} ${JSON.stringify(v)};`,
    ),
    `    proxy_buffering ${settings.buffering};`,
    '    proxy_http_version 1.1;',
    `    proxy_pass http://127.0.0.1:${upstreamPort};`,
  ];
}

/** The nginx configuration (http context) ingress-nginx generates for these Ingresses, one server per host. */
export function renderIngressNginx(
  ingresses: Manifest[],
  opts: {
    port: number;
    wardenPort: number;
    upstreamPort: number;
    cacheDir: string;
    settings: Record<string, string>;
    /** The content of the ConfigMap proxy-set-headers names, instead of the recipe's. */
    proxyHeaders?: Record<string, string>;
  },
): string {
  for (const key of Object.keys(opts.settings))
    if (!(CONTROLLER_SETTINGS as readonly string[]).includes(key))
      throw new Error(`controller setting ${key} is not rendered by the e2e harness`);
  const proxyHeaders = opts.proxyHeaders ?? proxySetHeaders(opts.settings);
  const servers = new Map<string, string[]>();
  for (const ing of ingresses) {
    const ann: Record<string, string> = {};
    for (const [k, v] of Object.entries(ing.metadata.annotations ?? {})) {
      const name = k.slice(PREFIX.length);
      if (!k.startsWith(PREFIX) || !(INGRESS_NGINX_ANNOTATIONS as readonly string[]).includes(name))
        throw new Error(`${ing.metadata.name}: annotation ${k} is not rendered by the e2e harness`);
      ann[name] = v;
    }
    for (const rule of ing.spec.rules) {
      const blocks = servers.get(rule.host) ?? [];
      for (const p of rule.http.paths as IngressPath[]) {
        // Only the addresses change: the warden Service is warden's loopback port, any other the app's.
        const backend = p.backend.service.name === 'warden' ? opts.wardenPort : opts.upstreamPort;
        const buffering = ann['proxy-buffering'] ?? opts.settings['proxy-buffering'] ?? 'off';
        const settings = { proxyHeaders, buffering };
        const at = (path: string, type: string) =>
          blocks.push(...locationBlocks(path, type, ann, opts.wardenPort, backend, rule.host, settings));
        // As ingress-nginx does: Prefix /api becomes `location /api/` and `location = /api`.
        if (p.pathType === 'Prefix' && !p.path.endsWith('/')) {
          at(p.path + '/', 'Prefix');
          at(p.path, 'Exact');
        } else at(p.path, p.pathType);
      }
      servers.set(rule.host, blocks);
    }
  }
  const out = [
    // ingress-nginx's defaults without use-forwarded-headers.
    'map $http_x_request_id $req_id { default $http_x_request_id; "" $request_id; }',
    "map '' $pass_access_scheme { default $scheme; }",
    'map $http_host $best_http_host { default $http_host; "" $host; }',
    `proxy_cache_path ${opts.cacheDir} levels=1:2 keys_zone=auth_cache:10m max_size=128m inactive=30m use_temp_path=off;`,
    'underscores_in_headers off;',
    'ignore_invalid_headers on;',
    // The controller's http-snippet, where the template writes it: in the http block, before the servers.
    ...(opts.settings['http-snippet'] ?? '').split('\n').filter((l) => l.trim() !== ''),
    // The controller's catch-all: an unknown host gets its default backend (404).
    `server { listen 127.0.0.1:${opts.port} default_server; return 404; }`,
  ];
  for (const [host, blocks] of servers)
    out.push(
      'server {',
      `    server_name ${host};`,
      `    listen 127.0.0.1:${opts.port};`,
      ...blocks.map((l) => '    ' + l),
      '}',
    );
  return out.join('\n') + '\n';
}

/**
 * Start nginx with the ingress-nginx configuration of the recipe (or of `ingresses`), the
 * controller's ConfigMap holding the recipe's settings (or `opts.settings`).
 */
export function startIngressNginx(
  opts: {
    wardenPort: number;
    upstreamPort: number;
    settings?: Record<string, string>;
    proxyHeaders?: Record<string, string>;
  },
  ingresses: Manifest[] = recipeIngresses(),
): Promise<Proxy> {
  const settings = opts.settings ?? controllerSettings();
  return onFreePort((port) =>
    launchNginx({
      kind: 'ingress-nginx',
      port,
      include: 'ingress.conf',
      modules: [...SET_MISC_MODULES, HEADERS_MORE_MODULE],
      prepare(dir) {
        writeFileSync(
          join(dir, 'ingress.conf'),
          renderIngressNginx(ingresses, {
            port,
            wardenPort: opts.wardenPort,
            upstreamPort: opts.upstreamPort,
            settings,
            ...(opts.proxyHeaders ? { proxyHeaders: opts.proxyHeaders } : {}),
            cacheDir: join(dir, 'auth-cache'),
          }),
        );
      },
    }),
  );
}

/** The recipe's Ingress named `name`. */
export const recipeIngress = (name: string): Manifest => find(recipeIngresses(), 'Ingress', name);
