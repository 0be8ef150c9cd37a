// Static checks of deploy/ recipes that no binary here can run (Traefik) and that must track warden's header names.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  FROM_WARDEN_HEADERS,
  IDENTITY_HEADERS,
  METHOD_OVERRIDE_HEADERS,
  OTHER_PRESET_HEADERS,
  ROUTING_HEADERS,
  spellings,
} from './harness/fixture.js';
import { proxySetHeaders } from './harness/ingress-nginx.js';
import { removesHeader, type HeaderRemovals } from '../deploy/recipe-checks.js';
import { DEPLOY_DIR } from './harness/render.js';

const IDENTITY = IDENTITY_HEADERS;
const read = (rel: string) => readFileSync(join(DEPLOY_DIR, rel), 'utf8');
/**
 * The fields of Traefik's ForwardAuth middleware (v3.7): the json tags of `ForwardAuth` in
 * pkg/config/dynamic/middlewares.go. The CRD schema in @kubernetes-models/traefik cannot stand in:
 * the release still installable on Node 20 predates forwardBody, and its schema admits unknown fields.
 */
const FORWARD_AUTH_FIELDS = [
  'address',
  'tls',
  'trustForwardHeader',
  'authResponseHeaders',
  'authResponseHeadersRegex',
  'authRequestHeaders',
  'maxResponseBodySize',
  'addAuthCookiesToResponse',
  'headerField',
  'forwardBody',
  'maxBodySize',
  'preserveLocationHeader',
  'preserveRequestMethod',
  'authSigninURL',
];
/** WARDEN_MCP_MAX_BODY's default, 1MiB: the most warden reads of a body. */
const MCP_MAX_BODY = 1024 * 1024;

describe('deploy/traefik', () => {
  const dyn = parse(read('traefik/dynamic.yaml'));
  const stat = parse(read('traefik/traefik.yaml'));

  it('asks warden /verify/traefik without trusting client X-Forwarded-* and copies every identity header', () => {
    const fa = dyn.http.middlewares.warden.forwardAuth;
    expect(new URL(fa.address).pathname).toBe('/verify/traefik');
    expect(fa.trustForwardHeader).toBe(false);
    expect(fa.authResponseHeaders).toEqual(FROM_WARDEN_HEADERS);
    // Limiting authRequestHeaders would hide Accept, X-API-Key and Authorization from warden.
    expect(fa.authRequestHeaders).toBeUndefined();
  });

  it('strips the _ spellings of every identity header and the nginx-family headers before warden', () => {
    const strip: Record<string, string> = dyn.http.middlewares['warden-strip'].headers.customRequestHeaders;
    for (const name of IDENTITY) {
      const [a, b, c] = name.split('-');
      for (const variant of [`${a}_${b}_${c}`, `${a}-${b}_${c}`, `${a}_${b}-${c}`])
        expect(strip[variant], variant).toBe('');
    }
    for (const name of ['X-Original-URL', 'X-Original-URI', 'X-Original-Method'])
      expect(strip[name], name).toBe('');
    const router = dyn.http.routers.app;
    expect(router.middlewares.indexOf('warden-strip')).toBeLessThan(router.middlewares.indexOf('warden'));
    expect(dyn.http.services[router.service]).toBeDefined();
  });

  it('routes the protected resource metadata to warden itself, never behind the warden middleware', () => {
    const router = dyn.http.routers['warden-resource-metadata'];
    expect(router.rule).toBe(
      'Host(`app.example.com`) && PathPrefix(`/.well-known/oauth-protected-resource`)',
    );
    expect(router.service).toBe('warden');
    expect(router.middlewares).toEqual(['warden-strip']);
    expect(router.entryPoints).toEqual(dyn.http.routers.app.entryPoints);
  });

  it('routes the console to warden itself with the strip middlewares, never behind forwardAuth', () => {
    const router = dyn.http.routers['warden-console'];
    expect(router.rule).toBe('Host(`app.example.com`) && PathPrefix(`/console/`)');
    expect(dyn.http.services[router.service].loadBalancer.servers).toEqual([{ url: 'http://warden:8080' }]);
    // warden checks access itself: no forwardAuth middleware, and the client's credentials pass.
    expect(router.middlewares).toEqual(['warden-strip', 'warden-clear-identity']);
    for (const name of router.middlewares)
      expect(dyn.http.middlewares[name].forwardAuth, name).toBeUndefined();
    const cleared: Record<string, string> =
      dyn.http.middlewares['warden-clear-identity'].headers.customRequestHeaders;
    expect(cleared).toEqual(Object.fromEntries(FROM_WARDEN_HEADERS.map((h) => [h, ''])));
    expect(router.entryPoints).toEqual(dyn.http.routers.app.entryPoints);
    expect(router.tls).toEqual(dyn.http.routers.app.tls);
    // Traefik's default priority is the rule's length: tried before the app's router.
    expect(router.rule.length).toBeGreaterThan(dyn.http.routers.app.rule.length);
    expect(dyn.http.routers['warden-sign-in'].middlewares).toEqual(router.middlewares);
  });

  it('asks warden with the request body on the MCP router only, up to 1MiB, otherwise as the main middleware', () => {
    const main = dyn.http.middlewares.warden.forwardAuth;
    const mcp = dyn.http.middlewares['warden-mcp'].forwardAuth;
    // Forwarding every body costs memory: the main middleware does not.
    expect(main.forwardBody).toBeUndefined();
    expect(main.maxBodySize).toBeUndefined();
    const { forwardBody, maxBodySize, ...rest } = mcp;
    expect(forwardBody).toBe(true);
    // Without maxBodySize Traefik reads a body of any size (its default is -1).
    expect(maxBodySize).toBe(MCP_MAX_BODY);
    expect(rest).toEqual(main);
    // Left off: Traefik asks with GET carrying the body, and warden takes the method from X-Forwarded-Method.
    expect(mcp.preserveRequestMethod).toBeUndefined();
    for (const field of Object.keys(mcp))
      expect(FORWARD_AUTH_FIELDS, `Traefik's ForwardAuth has no field ${field}`).toContain(field);

    const routers = dyn.http.routers as Record<
      string,
      { rule: string; middlewares?: string[]; service: string }
    >;
    const withBody = Object.entries(routers).filter(([, r]) => r.middlewares?.includes('warden-mcp'));
    expect(withBody.map(([name]) => name)).toEqual(['mcp']);
    const router = routers.mcp!;
    expect(router.middlewares).toEqual(['warden-strip', 'warden-mcp', 'warden-drop-key']);
    expect(router.rule).toBe('Host(`app.example.com`) && PathPrefix(`/mcp`)');
    // Traefik's default priority is the rule's length: the MCP router is tried before app.
    expect(router.rule.length).toBeGreaterThan(routers.app!.rule.length);
    expect(dyn.http.services[router.service]).toBeDefined();
  });

  it('loads the dynamic file through the file provider', () => {
    expect(stat.providers.file.filename).toMatch(/dynamic\.yaml$/);
    for (const ep of dyn.http.routers.app.entryPoints) expect(stat.entryPoints[ep], ep).toBeDefined();
  });
});

describe('deploy/caddy and deploy/nginx name every identity header warden sends', () => {
  it('Caddyfile copy_headers lists them all (Caddy 2.6 sends a literal placeholder for a missing one)', () => {
    const line = /^\s*copy_headers\s+([^\n]+)/m.exec(read('caddy/Caddyfile'));
    expect(line?.[1]?.trim().split(/\s+/)).toEqual(IDENTITY);
  });

  it('warden-protect.conf overwrites each of them toward the app', () => {
    const conf = read('nginx/warden-protect.conf');
    for (const name of IDENTITY) {
      const variable = `$upstream_http_${name.toLowerCase().replace(/-/g, '_')}`;
      const set = new RegExp(`auth_request_set \\$(\\w+)\\s+\\${variable};`).exec(conf);
      expect(set, variable).not.toBeNull();
      expect(conf).toMatch(new RegExp(`proxy_set_header ${name}\\s+\\$${set![1]};`));
    }
  });
});

describe("deploy/nginx streams the console's live decisions", () => {
  it('/console/events is not buffered and outlives the 60 s default read timeout', () => {
    const conf = read('nginx/warden-auth.conf');
    const events = /location = \/console\/events \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(events).toMatch(/^\s*proxy_pass http:\/\/warden;$/m);
    expect(events).toMatch(/^\s*proxy_buffering off;$/m);
    const timeout = /^\s*proxy_read_timeout (\d+)(s|m|h);$/m.exec(events);
    expect(timeout).not.toBeNull();
    const seconds = Number(timeout![1]) * { s: 1, m: 60, h: 3600 }[timeout![2] as 's' | 'm' | 'h'];
    expect(seconds).toBeGreaterThan(60);
    // Nested in location /console/, so it inherits that location's header clearing.
    expect(conf.indexOf('location /console/ {')).toBeGreaterThan(-1);
    expect(conf.indexOf('location /console/ {')).toBeLessThan(conf.indexOf('location = /console/events {'));
  });
});

describe('recipes no proxy binary here runs clear what the client must not steer', () => {
  const steer = [...METHOD_OVERRIDE_HEADERS, ...ROUTING_HEADERS];
  it('Traefik warden-strip deletes each name and its all-_ and all-. spellings', () => {
    const strip: Record<string, string> = parse(read('traefik/dynamic.yaml')).http.middlewares['warden-strip']
      .headers.customRequestHeaders;
    for (const name of [...steer, ...OTHER_PRESET_HEADERS])
      for (const spelled of [name, name.replace(/-/g, '_'), name.replace(/-/g, '.')])
        expect(strip[spelled], spelled).toBe('');
  });

  it('ingress-nginx clear-headers ConfigMap empties each name (proxy-set-headers)', () => {
    const data = proxySetHeaders();
    for (const name of [...steer, ...OTHER_PRESET_HEADERS]) expect(data[name], name).toBe('');
  });

  it('Envoy Gateway removes each name in every spelling as the request arrives (ClientTrafficPolicy)', () => {
    const policy = parseAllDocuments(read('kubernetes/gateway-api/client-traffic-policy.yaml'))
      .map((d) => d.toJS() as { kind: string; spec: { headers: { earlyRequestHeaders: HeaderRemovals } } })
      .find((m) => m.kind === 'ClientTrafficPolicy')!;
    const early = policy.spec.headers.earlyRequestHeaders;
    for (const name of [...steer, ...OTHER_PRESET_HEADERS, ...FROM_WARDEN_HEADERS])
      for (const spelled of spellings(name)) expect(removesHeader(early, spelled), spelled).toBe(true);
  });
});
