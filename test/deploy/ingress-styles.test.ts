// deploy/kubernetes: the three ingress styles, each wired to the warden Service and the dialect it
// speaks: ingress-nginx (annotations as the e2e test runs them), Traefik (as deploy/traefik), and
// the Gateway API with an Envoy Gateway SecurityPolicy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IServicePort } from 'kubernetes-models/v1/ServicePort';
import { parse } from 'yaml';
import {
  FROM_WARDEN_HEADERS,
  METHOD_OVERRIDE_HEADERS,
  OTHER_PRESET_HEADERS,
  ROUTING_HEADERS,
  spellings,
} from '../e2e/harness/fixture.js';
import { CONTROLLER_SETTINGS, INGRESS_NGINX_ANNOTATIONS } from '../e2e/harness/ingress-nginx.js';
import { DEPLOY_DIR } from '../e2e/harness/render.js';
import { find, renderRecipes, validateManifest, wardenUrl, type Manifest } from './manifests.js';
import {
  cacheKeyProblems,
  CONSOLE_PREFIX,
  elementPrefixMatches,
  exposureProblems,
  metadataRoutes,
  PUBLIC_WARDEN_PREFIX,
  regexProblems,
  removesHeader,
  SIGN_IN_PREFIX,
} from './recipe-checks.js';

const IDENTITY = [...FROM_WARDEN_HEADERS];
const rendered = renderRecipes();
const APP_NS = 'demo';
const wardenSvc = find(rendered.base, 'Service', 'warden');
/** The warden container's plain environment values (base/deployment.yaml). */
const wardenEnv: Record<string, string> = Object.fromEntries(
  (find(rendered.base, 'Deployment', 'warden').spec.template.spec.containers[0].env as IEnvVar[])
    .filter((e) => e.value !== undefined)
    .map((e) => [e.name, e.value!]),
);
/** Paths that must reach warden through a metadata route, and paths that must not. */
const TO_WARDEN = [PUBLIC_WARDEN_PREFIX, `${PUBLIC_WARDEN_PREFIX}/mcp`, `${PUBLIC_WARDEN_PREFIX}/a/b/mcp`];
const NOT_TO_WARDEN = [
  `${PUBLIC_WARDEN_PREFIX}x/mcp`,
  '/.well-known',
  '/.well-known/openid-configuration',
  '/verify/nginx',
  '/metrics',
  '/admin/keys',
  '/oauth2/start',
  '/',
];

describe('deploy/kubernetes: protected resource metadata (RFC 9728) in every ingress style', () => {
  it('each style has exactly one route to warden, for that prefix only, and nothing else reaches warden', () => {
    for (const style of ['ingress-nginx', 'traefik', 'gateway-api'] as const) {
      expect(exposureProblems(rendered[style]), style).toEqual([]);
      expect(
        metadataRoutes(rendered[style]).map((m) => `${m.kind}/${m.metadata.name}`),
        style,
      ).toEqual([
        `${style === 'ingress-nginx' ? 'Ingress' : style === 'traefik' ? 'IngressRoute' : 'HTTPRoute'}/warden-resource-metadata`,
      ]);
    }
  });

  it('a route to warden for more than that prefix is a problem', () => {
    const ing = structuredClone(find(rendered['ingress-nginx'], 'Ingress', 'warden-resource-metadata'));
    ing.spec.rules[0].http.paths[0].path = '/.well-known';
    const ir = structuredClone(find(rendered.traefik, 'IngressRoute', 'warden-resource-metadata'));
    ir.spec.routes[0].match = `${String(ir.spec.routes[0].match)} || PathPrefix(\`/verify\`)`;
    const hr = structuredClone(find(rendered['gateway-api'], 'HTTPRoute', 'warden-resource-metadata'));
    delete hr.spec.rules[0].matches;
    expect(exposureProblems([ing, ir, hr])).toEqual([
      'Ingress/warden-resource-metadata (ingress-nginx/ingress.yaml): routes clients to warden itself (Prefix /.well-known)',
      'IngressRoute/warden-resource-metadata (traefik/ingressroute.yaml): routes clients to warden itself (Host(`app.example.com`) && PathPrefix(`/.well-known/oauth-protected-resource`) || PathPrefix(`/verify`))',
      'HTTPRoute/warden-resource-metadata (gateway-api/httproute.yaml): routes clients to warden itself (PathPrefix /)',
    ]);
  });

  it('Prefix and PathPrefix match whole path elements, as the Kubernetes and Gateway API specifications say', () => {
    for (const path of TO_WARDEN) expect(elementPrefixMatches(PUBLIC_WARDEN_PREFIX, path), path).toBe(true);
    for (const path of NOT_TO_WARDEN)
      expect(elementPrefixMatches(PUBLIC_WARDEN_PREFIX, path), path).toBe(false);
    expect(elementPrefixMatches('/api', '/api/')).toBe(true);
    expect(elementPrefixMatches('/api/', '/api')).toBe(true);
  });
});

describe("deploy/kubernetes: warden's own sign-in (/oauth2) in every ingress style", () => {
  const dyn = parse(readFileSync(join(DEPLOY_DIR, 'traefik/dynamic.yaml'), 'utf8')).http;
  const publicHost = new URL(wardenEnv.WARDEN_PUBLIC_URL!).host;
  const KIND = { 'ingress-nginx': 'Ingress', traefik: 'IngressRoute', 'gateway-api': 'HTTPRoute' } as const;

  it("each style routes exactly /oauth2 of WARDEN_PUBLIC_URL's host to the warden Service, in one route named warden-sign-in", () => {
    for (const style of ['ingress-nginx', 'traefik', 'gateway-api'] as const) {
      expect(exposureProblems(rendered[style]), style).toEqual([]);
      const routes = metadataRoutes(rendered[style], 'warden', SIGN_IN_PREFIX);
      expect(
        routes.map((m) => `${m.kind}/${m.metadata.name}`),
        style,
      ).toEqual([`${KIND[style]}/warden-sign-in`]);
    }
    const ing = find(rendered['ingress-nginx'], 'Ingress', 'warden-sign-in');
    // An Ingress reaches only Services of its own namespace.
    expect(ing.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ing.spec.rules.map((r: { host: string }) => r.host)).toEqual([publicHost]);
    expect(ing.spec.rules[0].http.paths).toEqual([
      {
        path: SIGN_IN_PREFIX,
        pathType: 'Prefix',
        backend: { service: { name: wardenSvc.metadata.name, port: { name: 'http' } } },
      },
    ]);
    const hr = find(rendered['gateway-api'], 'HTTPRoute', 'warden-sign-in');
    expect(hr.spec.hostnames).toEqual([publicHost]);
    expect(hr.spec.parentRefs).toEqual(
      find(rendered['gateway-api'], 'HTTPRoute', 'demo-app').spec.parentRefs,
    );
    expect(hr.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'PathPrefix', value: SIGN_IN_PREFIX } }],
        backendRefs: [
          {
            name: wardenSvc.metadata.name,
            namespace: wardenSvc.metadata.namespace,
            port: wardenSvc.spec.ports[0].port,
          },
        ],
      },
    ]);
    // Its namespace may name the warden Service.
    expect(find(rendered['gateway-api'], 'ReferenceGrant', 'demo-routes-to-warden').spec.from).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: hr.metadata.namespace },
    ]);
    const ir = find(rendered.traefik, 'IngressRoute', 'warden-sign-in');
    // Traefik's CRD provider refuses a Service of another namespace unless allowCrossNamespace.
    expect(ir.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ir.spec.entryPoints).toEqual(find(rendered.traefik, 'IngressRoute', 'demo-app').spec.entryPoints);
    // The file-provider recipe's router, host and prefix alike.
    expect(ir.spec.routes).toHaveLength(1);
    expect(ir.spec.routes[0].match).toBe(dyn.routers['warden-sign-in'].rule);
    expect(ir.spec.routes[0].match).toContain(`Host(\`${publicHost}\`)`);
    expect(ir.spec.routes[0].services).toEqual([{ name: wardenSvc.metadata.name, port: 'http' }]);
  });

  it('each style routes /console to warden in one route named warden-console; Traefik as its file recipe does', () => {
    for (const style of ['ingress-nginx', 'traefik', 'gateway-api'] as const)
      expect(
        metadataRoutes(rendered[style], 'warden', '/console').map((m) => `${m.kind}/${m.metadata.name}`),
        style,
      ).toEqual([`${KIND[style]}/warden-console`]);
    const ir = find(rendered.traefik, 'IngressRoute', 'warden-console');
    expect(ir.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ir.spec.routes).toHaveLength(1);
    expect(ir.spec.routes[0].match).toBe(dyn.routers['warden-console'].rule);
    expect(ir.spec.routes[0].services).toEqual([{ name: wardenSvc.metadata.name, port: 'http' }]);
    // No forwardAuth before it (warden checks console access itself); a client's identity headers cleared.
    expect(ir.spec.routes[0].middlewares).toEqual([{ name: 'warden-clear-identity' }]);
    const clear = find(rendered.traefik, 'Middleware', 'warden-clear-identity');
    expect(clear.metadata.namespace).toBe(ir.metadata.namespace);
    expect(clear.spec.headers.customRequestHeaders).toEqual(
      dyn.middlewares['warden-clear-identity'].headers.customRequestHeaders,
    );
  });

  it('no route to the sign-in pages asks warden: no auth-url, no SecurityPolicy, no forwardAuth', () => {
    const ing = find(rendered['ingress-nginx'], 'Ingress', 'warden-sign-in');
    expect(ing.metadata.annotations).toBeUndefined();
    const hr = find(rendered['gateway-api'], 'HTTPRoute', 'warden-sign-in');
    for (const sp of rendered['gateway-api'].filter((m) => m.kind === 'SecurityPolicy'))
      for (const t of sp.spec.targetRefs ?? [sp.spec.targetRef]) {
        // A SecurityPolicy on the Gateway would cover every route, this one too.
        expect(t.kind, sp.metadata.name).toBe('HTTPRoute');
        expect(t.name, sp.metadata.name).not.toBe(hr.metadata.name);
      }
    const ir = find(rendered.traefik, 'IngressRoute', 'warden-sign-in');
    const used = ir.spec.routes[0].middlewares as { name: string; namespace?: string }[];
    for (const ref of used) {
      const mw = rendered.traefik.find(
        (m) =>
          m.kind === 'Middleware' &&
          m.metadata.name === ref.name &&
          m.metadata.namespace === (ref.namespace ?? ir.metadata.namespace),
      );
      expect(mw, `${ref.name} in the IngressRoute's namespace`).toBeDefined();
      expect(mw!.spec.forwardAuth, ref.name).toBeUndefined();
    }
  });

  it("clears the identity headers on the way to warden's pages as every style clears them for its other warden routes", () => {
    // Traefik: warden-clear-identity, as on deploy/traefik's sign-in router.
    const ir = find(rendered.traefik, 'IngressRoute', 'warden-sign-in');
    expect(ir.spec.routes[0].middlewares.map((m: { name: string }) => m.name)).toEqual([
      'warden-clear-identity',
    ]);
    expect(dyn.routers['warden-sign-in'].middlewares).toContain('warden-clear-identity');
    const clear = find(rendered.traefik, 'Middleware', 'warden-clear-identity');
    expect(clear.metadata.namespace).toBe(ir.metadata.namespace);
    expect(clear.spec).toEqual(dyn.middlewares['warden-clear-identity']);
    for (const h of IDENTITY) expect(clear.spec.headers.customRequestHeaders[h], h).toBe('');
    // Gateway API: the ClientTrafficPolicy is on the Gateway, so it covers this route as every other.
    const ctp = find(rendered['gateway-api'], 'ClientTrafficPolicy', 'demo-client-headers');
    const hr = find(rendered['gateway-api'], 'HTTPRoute', 'warden-sign-in');
    expect(ctp.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: hr.spec.parentRefs[0].name },
    ]);
    // ingress-nginx: the controller's proxy-set-headers apply to every Ingress it serves (the e2e
    // test sends forged headers through the rendered configuration).
    const cm = find(rendered['ingress-nginx'], 'ConfigMap', 'ingress-nginx-controller');
    expect(cm.data['proxy-set-headers']).toBe('ingress-nginx/warden-clear-headers');
  });

  it('warden is configured for it: a public URL on the app host, providers from a Secret, a session secret', () => {
    const d = find(rendered.base, 'Deployment', 'warden');
    const c = d.spec.template.spec.containers[0];
    expect(new URL(wardenEnv.WARDEN_PUBLIC_URL!).protocol).toBe('https:');
    const session = (c.env as IEnvVar[]).find((e) => e.name === 'WARDEN_SESSION_SECRET');
    expect(session?.valueFrom?.secretKeyRef).toMatchObject({
      name: 'warden-session',
      key: 'WARDEN_SESSION_SECRET',
    });
    const providers = wardenEnv.WARDEN_OIDC_PROVIDERS!;
    const mount = (c.volumeMounts as { name: string; mountPath: string; subPath?: string }[]).find((m) =>
      providers.startsWith(`${m.mountPath}/`),
    )!;
    expect(mount.subPath).toBeUndefined();
    const volume = d.spec.template.spec.volumes.find((v: { name: string }) => v.name === mount.name);
    const secret = find(rendered.base, 'Secret', volume.secret.secretName);
    expect(Object.keys(secret.stringData)).toContain(providers.slice(mount.mountPath.length + 1));
  });
});

describe('deploy/kubernetes: ingress-nginx', () => {
  const ingresses = rendered['ingress-nginx'].filter(
    (m) => m.kind === 'Ingress' && m.metadata.namespace === APP_NS,
  );
  const a = (m: Manifest, name: string) => m.metadata.annotations?.[`nginx.ingress.kubernetes.io/${name}`];

  it("asks warden /verify/nginx, copies every identity header, and signs browsers in at warden's own login page", () => {
    // No external sign-in: the login URL is <WARDEN_PUBLIC_URL>/oauth2/login, on the app's host.
    expect(wardenEnv.WARDEN_LOGIN_URL).toBeUndefined();
    const loginUrl = `${wardenEnv.WARDEN_PUBLIC_URL}/oauth2/login`;
    expect(new URL(loginUrl).host).toBe(ingresses[0]!.spec.rules[0].host);
    expect(ingresses.map((i) => i.metadata.name)).toEqual(['demo-app', 'demo-app-api']);
    for (const ing of ingresses) {
      expect(ing.metadata.namespace).toBe(APP_NS);
      expect(a(ing, 'auth-url')).toBe(wardenUrl(rendered.base, '/verify/nginx'));
      expect(a(ing, 'auth-response-headers')!.split(',')).toEqual(IDENTITY);
      expect(cacheKeyProblems(a(ing, 'auth-cache-key'))).toEqual([]);
    }
    expect(a(ingresses[0]!, 'auth-signin')).toBe(loginUrl);
    // The API Ingress leaves 401 to API clients: with auth-signin every 401 becomes a redirect.
    expect(a(ingresses[1]!, 'auth-signin')).toBeUndefined();
  });

  it('uses only annotations the ingress-nginx e2e test renders and runs through real nginx', () => {
    for (const ing of ingresses) {
      for (const key of Object.keys(ing.metadata.annotations ?? {}))
        expect(INGRESS_NGINX_ANNOTATIONS, key).toContain(key.replace('nginx.ingress.kubernetes.io/', ''));
    }
  });

  it('an auth cache key without the credentials, the request or separators is refused', () => {
    expect(cacheKeyProblems('$request_uri')).toEqual([
      "auth-cache-key lacks the credential $http_authorization: one client's allow would be served to another",
      "auth-cache-key lacks the credential $http_x_api_key: one client's allow would be served to another",
      "auth-cache-key lacks the credential $http_cookie: one client's allow would be served to another",
      'auth-cache-key lacks $request_method: an allow for one request would be served for another',
      'auth-cache-key lacks $remote_addr: an allow for one request would be served for another',
    ]);
    expect(
      cacheKeyProblems(
        '$remote_addr$request_method$request_uri$http_authorization$http_x_api_key$http_cookie',
      ),
    ).toEqual(['auth-cache-key joins two variables with no separator: different requests can share a key']);
    expect(
      cacheKeyProblems(
        '$remote_addr|$request_method|$request_uri|$http_authorization|$http_x_api_key|$http_cookie',
      ),
    ).toEqual(['auth-cache-key has characters ingress-nginx refuses (allowed: A-Z a-z 0-9 - _ $ { })']);
  });

  it('routes the protected resource metadata of the app host to warden, with no auth-url, in its namespace', () => {
    const ing = find(rendered['ingress-nginx'], 'Ingress', 'warden-resource-metadata');
    // An Ingress reaches only Services of its own namespace.
    expect(ing.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ing.metadata.annotations).toBeUndefined();
    expect(ing.spec.ingressClassName).toBe(ingresses[0]!.spec.ingressClassName);
    expect(ing.spec.rules.map((r: { host: string }) => r.host)).toEqual([ingresses[0]!.spec.rules[0].host]);
    const paths = ing.spec.rules[0].http.paths;
    expect(paths).toEqual([
      {
        path: PUBLIC_WARDEN_PREFIX,
        pathType: 'Prefix',
        backend: { service: { name: wardenSvc.metadata.name, port: { name: 'http' } } },
      },
    ]);
    expect(wardenSvc.spec.ports.map((p: IServicePort) => p.name)).toContain('http');
  });

  it('routes the console to warden with no auth-url and its live feed unbuffered', () => {
    const ing = find(rendered['ingress-nginx'], 'Ingress', 'warden-console');
    expect(metadataRoutes(rendered['ingress-nginx'], 'warden', CONSOLE_PREFIX)).toEqual([ing]);
    expect(ing.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ing.metadata.annotations).toEqual({ 'nginx.ingress.kubernetes.io/proxy-buffering': 'off' });
    expect(ing.spec.rules.map((r: { host: string }) => r.host)).toEqual([ingresses[0]!.spec.rules[0].host]);
    expect(ing.spec.rules[0].http.paths).toEqual([
      {
        path: CONSOLE_PREFIX,
        pathType: 'Prefix',
        backend: { service: { name: wardenSvc.metadata.name, port: { name: 'http' } } },
      },
    ]);
  });

  it("sets the controller's proxy-set-headers to the recipe's ConfigMap and clears the client's X-Forwarded-For", () => {
    const cm = find(rendered['ingress-nginx'], 'ConfigMap', 'ingress-nginx-controller');
    expect(cm.metadata.namespace).toBe('ingress-nginx');
    expect(Object.keys(cm.data).sort()).toEqual(['http-snippet', 'proxy-set-headers']);
    for (const key of Object.keys(cm.data)) expect(CONTROLLER_SETTINGS).toContain(key);
    const [ns, name] = String(cm.data['proxy-set-headers']).split('/');
    expect(find(rendered['ingress-nginx'], 'ConfigMap', name!).metadata.namespace).toBe(ns);
    expect(String(cm.data['http-snippet']).trim()).toBe('more_clear_input_headers X-Forwarded-For;');
  });

  it('routes to the demo app Service', () => {
    const svc = find(rendered['demo-app'], 'Service', 'demo-app');
    for (const ing of ingresses) {
      const backend = ing.spec.rules[0].http.paths[0].backend.service;
      expect(backend.name).toBe(svc.metadata.name);
      expect(svc.spec.ports.map((p: IServicePort) => p.name)).toContain(backend.port.name);
    }
  });
});

describe('deploy/kubernetes: Traefik', () => {
  const list = rendered.traefik;
  it('has the same middlewares as the file-provider recipe in deploy/traefik, in the same order', () => {
    const dyn = parse(readFileSync(join(DEPLOY_DIR, 'traefik/dynamic.yaml'), 'utf8')).http;
    for (const name of ['warden-strip', 'warden', 'warden-mcp', 'warden-drop-key']) {
      const mw = find(list, 'Middleware', name);
      const expected = structuredClone(dyn.middlewares[name]);
      if (expected.forwardAuth) expected.forwardAuth.address = wardenUrl(rendered.base, '/verify/traefik');
      expect(mw.spec, name).toEqual(expected);
    }
    const [route, mcp] = find(list, 'IngressRoute', 'demo-app').spec.routes;
    expect(route.middlewares.map((m: { name: string }) => m.name)).toEqual(dyn.routers.app.middlewares);
    expect(route.services[0].name).toBe('demo-app');
    // The MCP route, with the body-forwarding middleware, as the file recipe's router mcp.
    expect(mcp.match).toBe(dyn.routers.mcp.rule);
    expect(mcp.middlewares.map((m: { name: string }) => m.name)).toEqual(dyn.routers.mcp.middlewares);
    expect(mcp.middlewares.map((m: { name: string }) => m.name)).toContain('warden-mcp');
    expect(find(list, 'Middleware', 'warden-mcp').spec.forwardAuth).toMatchObject({
      forwardBody: true,
      maxBodySize: 1024 * 1024,
    });
  });

  it('routes the protected resource metadata to warden as deploy/traefik does, with no warden middleware', () => {
    const dyn = parse(readFileSync(join(DEPLOY_DIR, 'traefik/dynamic.yaml'), 'utf8')).http;
    const ir = find(list, 'IngressRoute', 'warden-resource-metadata');
    // Traefik's CRD provider refuses a Service of another namespace unless allowCrossNamespace.
    expect(ir.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(ir.spec.entryPoints).toEqual(find(list, 'IngressRoute', 'demo-app').spec.entryPoints);
    expect(ir.spec.routes).toEqual([
      {
        kind: 'Rule',
        match: dyn.routers['warden-resource-metadata'].rule,
        services: [{ name: wardenSvc.metadata.name, port: 'http' }],
      },
    ]);
    // Traefik's PathPrefix is a string prefix: /.well-known/oauth-protected-resourcex reaches
    // warden too (and gets its 404); nothing outside that string does.
    const prefix = /PathPrefix\(`([^`]+)`\)/.exec(ir.spec.routes[0].match)![1]!;
    expect(prefix).toBe(PUBLIC_WARDEN_PREFIX);
    for (const path of TO_WARDEN) expect(path.startsWith(prefix), path).toBe(true);
    for (const path of NOT_TO_WARDEN.filter((p) => !p.startsWith(`${PUBLIC_WARDEN_PREFIX}x`)))
      expect(path.startsWith(prefix), path).toBe(false);
  });
});

describe('deploy/kubernetes: Gateway API with Envoy Gateway', () => {
  const list = rendered['gateway-api'];
  it('a SecurityPolicy on the HTTPRoute asks warden /verify/envoy and copies every identity header', () => {
    const sp = find(list, 'SecurityPolicy', 'demo-app-warden');
    const route = find(list, 'HTTPRoute', 'demo-app');
    expect(sp.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: route.metadata.name },
    ]);
    const http = sp.spec.extAuth.http;
    expect(http.path).toBe('/verify/envoy');
    const svc = find(rendered.base, 'Service', 'warden');
    expect(http.backendRefs).toEqual([
      { name: svc.metadata.name, namespace: svc.metadata.namespace, port: svc.spec.ports[0].port },
    ]);
    expect(http.headersToBackend).toEqual(IDENTITY);
    expect(sp.spec.extAuth.failOpen).toBe(false);
    // With WARDEN_PROXY=envoy, /verify/envoy/x would be judged as /envoy/x.
    const env = find(rendered.base, 'Deployment', 'warden').spec.template.spec.containers[0].env;
    expect(env.find((e: IEnvVar) => e.name === 'WARDEN_PROXY')?.value ?? 'traefik').not.toBe('envoy');
    expect(route.spec.parentRefs[0].name).toBe(find(list, 'Gateway', 'demo').metadata.name);
  });

  it('the MCP route has a SecurityPolicy of its own, as demo-app-warden but with the body (bodyToExtAuth)', () => {
    const app = find(list, 'HTTPRoute', 'demo-app');
    const mcp = find(list, 'HTTPRoute', 'demo-mcp');
    expect(mcp.spec.parentRefs).toEqual(app.spec.parentRefs);
    expect(mcp.spec.hostnames).toEqual(app.spec.hostnames);
    expect(mcp.spec.rules[0].matches).toEqual([{ path: { type: 'PathPrefix', value: '/mcp' } }]);
    const main = find(list, 'SecurityPolicy', 'demo-app-warden').spec;
    const sp = find(list, 'SecurityPolicy', 'demo-mcp-warden').spec;
    expect(sp.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: mcp.metadata.name },
    ]);
    // Envoy Gateway turns it into ext_authz with_request_body.max_request_bytes: WARDEN_MCP_MAX_BODY's default.
    expect(sp.extAuth.bodyToExtAuth).toEqual({ maxRequestBytes: 1024 * 1024 });
    expect(main.extAuth.bodyToExtAuth).toBeUndefined();
    const { bodyToExtAuth, headersToExtAuth, ...rest } = sp.extAuth;
    expect(bodyToExtAuth).toBeDefined();
    const { headersToExtAuth: mainHeaders, ...mainRest } = main.extAuth;
    expect(rest).toEqual(mainRest);
    expect(headersToExtAuth).toEqual([...mainHeaders, 'Content-Type']);
    // The body is forwarded on the MCP route alone.
    for (const p of list.filter((m) => m.kind === 'SecurityPolicy' && m.spec.extAuth.bodyToExtAuth))
      expect(p.spec.targetRefs.map((t: { name: string }) => t.name)).toEqual(['demo-mcp']);
  });

  it('bodyToExtAuth is checked as the CRD does: a misspelt field or a size out of range is refused', () => {
    const sp = structuredClone(find(list, 'SecurityPolicy', 'demo-mcp-warden'));
    sp.spec.extAuth.bodyToExtAuth = { maxRequestBytes: 0 };
    expect(validateManifest(sp).join()).toMatch(/maxRequestBytes/);
    sp.spec.extAuth.bodyToExtAuth = { maxRequestBytes: 2 ** 32 };
    expect(validateManifest(sp).join()).toMatch(/maxRequestBytes/);
    sp.spec.extAuth.bodyToExtAuth = { maxRequestBytes: 1024, allowPartialMessage: true };
    expect(validateManifest(sp).join()).toMatch(/allowPartialMessage|Unrecognized/);
    delete sp.spec.extAuth.bodyToExtAuth;
    sp.spec.extAuth.withRequestBody = { maxRequestBytes: 1024 };
    expect(validateManifest(sp).join()).toMatch(/withRequestBody|Unrecognized/);
  });

  it('an HTTPRoute of its own sends the protected resource metadata to warden, outside the SecurityPolicy', () => {
    const app = find(list, 'HTTPRoute', 'demo-app');
    const meta = find(list, 'HTTPRoute', 'warden-resource-metadata');
    expect(meta.metadata.namespace).toBe(app.metadata.namespace);
    expect(meta.spec.parentRefs).toEqual(app.spec.parentRefs);
    expect(meta.spec.hostnames).toEqual(app.spec.hostnames);
    expect(meta.spec.rules).toEqual([
      {
        matches: [{ path: { type: 'PathPrefix', value: PUBLIC_WARDEN_PREFIX } }],
        backendRefs: [
          {
            name: wardenSvc.metadata.name,
            namespace: wardenSvc.metadata.namespace,
            port: wardenSvc.spec.ports[0].port,
          },
        ],
      },
    ]);
    // No SecurityPolicy targets it (nor the Gateway, which would cover every route).
    for (const sp of list.filter((m) => m.kind === 'SecurityPolicy'))
      for (const t of sp.spec.targetRefs ?? [sp.spec.targetRef]) {
        expect(t.kind, sp.metadata.name).toBe('HTTPRoute');
        expect(t.name, sp.metadata.name).not.toBe(meta.metadata.name);
      }
    // Gateway API picks the longest matching PathPrefix across the routes of a hostname.
    const appPrefix = app.spec.rules[0].matches[0].path.value;
    for (const path of TO_WARDEN) {
      expect(elementPrefixMatches(appPrefix, path), path).toBe(true);
      expect(PUBLIC_WARDEN_PREFIX.length).toBeGreaterThan(appPrefix.length);
    }
    const grant = find(list, 'ReferenceGrant', 'demo-routes-to-warden');
    expect(grant.metadata.namespace).toBe(wardenSvc.metadata.namespace);
    expect(grant.spec.from).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: meta.metadata.namespace },
    ]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: wardenSvc.metadata.name }]);
  });

  const early = () =>
    find(list, 'ClientTrafficPolicy', 'demo-client-headers').spec.headers.earlyRequestHeaders as {
      remove: string[];
      removeOnMatch: { type: string; value: string }[];
    };

  it("a ClientTrafficPolicy on the Gateway removes every spelling of what the client must not steer, and the client's X-Forwarded-For", () => {
    const ctp = find(list, 'ClientTrafficPolicy', 'demo-client-headers');
    const gw = find(list, 'Gateway', 'demo');
    expect(ctp.metadata.namespace).toBe(gw.metadata.namespace);
    expect(ctp.spec.targetRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: gw.metadata.name },
    ]);
    const filter = early();
    const names = [
      ...METHOD_OVERRIDE_HEADERS,
      ...ROUTING_HEADERS,
      ...OTHER_PRESET_HEADERS,
      // warden's own: removed before ext_authz, which then sets warden's values.
      ...IDENTITY,
    ];
    for (const name of names)
      for (const spelled of spellings(name))
        for (const cased of [spelled, spelled.toUpperCase(), spelled.toLowerCase()])
          expect(removesHeader(filter, cased), cased).toBe(true);
    // Mixed separators too (X-User_ID.x is not a spelling, X_User.ID is).
    expect(removesHeader(filter, 'X_User.ID')).toBe(true);
    expect(removesHeader(filter, 'x.auth_request-preferred.username')).toBe(true);
    expect(removesHeader(filter, 'X-Forwarded-For')).toBe(true);
    // What warden and the app need passes.
    for (const kept of [
      'Authorization',
      'Cookie',
      'X-API-Key',
      'Accept',
      'Content-Type',
      'Sec-Fetch-Mode',
      'X-Requested-With',
      'X-Request-ID',
      'X-Forwarded-Proto',
      'X-Forwarded-Host',
      'Traceparent',
      'X-User-Agent',
      'X-UserID',
      'X-User-ID-Hint',
      'X-Forwarded-For-Extra',
      'Remote-Addr',
      'X-Auth-Token',
    ])
      expect(removesHeader(filter, kept), kept).toBe(false);
    expect(regexProblems(filter)).toEqual([]);
  });

  it('removes the way the CRD allows: up to 64 names and 64 matchers, RegularExpression spelt as the enum', () => {
    const ctp = find(list, 'ClientTrafficPolicy', 'demo-client-headers');
    expect(validateManifest(ctp)).toEqual([]);
    const broken = (change: (f: Record<string, unknown>) => void) => {
      const copy = structuredClone(ctp);
      change(copy.spec.headers.earlyRequestHeaders);
      return validateManifest(copy).join();
    };
    expect(broken((f) => (f.remove = Array.from({ length: 65 }, (_, i) => `X-H${i}`)))).toMatch(/remove/);
    expect(broken((f) => (f.removeOnMatch = [{ type: 'Regex', value: 'x' }]))).toMatch(/removeOnMatch/);
    expect(broken((f) => (f.removeOnMatch = [{ type: 'Exact', value: '' }]))).toMatch(/removeOnMatch/);
    expect(broken((f) => (f.removeOnMatchs = []))).toMatch(/removeOnMatchs|Unrecognized/);
    const onRoute = structuredClone(ctp);
    onRoute.spec.targetRefs[0].kind = 'HTTPRoute';
    expect(validateManifest(onRoute).join()).toMatch(/kind/);
    // A regex upper case (never matching Envoy's lower-case names) or with lookaround (not RE2) is named.
    expect(
      regexProblems({ removeOnMatch: [{ type: 'RegularExpression', value: 'X-User-ID|x(?!-api)' }] }),
    ).toHaveLength(2);
  });

  it('no HTTPRoute filter names a header warden sets (route filters run after ext_authz)', () => {
    const ours = new Set(IDENTITY.map((h) => h.toLowerCase()));
    for (const route of list.filter((m) => m.kind === 'HTTPRoute'))
      for (const rule of route.spec.rules)
        for (const f of rule.filters ?? []) {
          const mod = f.requestHeaderModifier ?? {};
          const named = [
            ...(mod.remove ?? []),
            ...(mod.set ?? []).map((h: { name: string }) => h.name),
            ...(mod.add ?? []).map((h: { name: string }) => h.name),
          ];
          for (const n of named)
            expect(ours.has(String(n).toLowerCase()), `${route.metadata.name}: ${n}`).toBe(false);
        }
  });

  it('an HTTPRoute of its own sends the console to warden, outside the SecurityPolicies, its live feed for up to an hour', () => {
    const app = find(list, 'HTTPRoute', 'demo-app');
    const route = find(list, 'HTTPRoute', 'warden-console');
    expect(metadataRoutes(list, 'warden', CONSOLE_PREFIX)).toEqual([route]);
    expect(route.metadata.namespace).toBe(app.metadata.namespace);
    expect(route.spec.parentRefs).toEqual(app.spec.parentRefs);
    expect(route.spec.hostnames).toEqual(app.spec.hostnames);
    const backend = [
      {
        name: wardenSvc.metadata.name,
        namespace: wardenSvc.metadata.namespace,
        port: wardenSvc.spec.ports[0].port,
      },
    ];
    expect(route.spec.rules).toEqual([
      { matches: [{ path: { type: 'PathPrefix', value: CONSOLE_PREFIX } }], backendRefs: backend },
      {
        matches: [{ path: { type: 'Exact', value: `${CONSOLE_PREFIX}/events` } }],
        // Envoy's default route timeout, 15 s, would end the Server-Sent Events stream.
        timeouts: { request: '1h' },
        backendRefs: backend,
      },
    ]);
    for (const sp of list.filter((m) => m.kind === 'SecurityPolicy'))
      for (const t of sp.spec.targetRefs) expect(t.name, sp.metadata.name).not.toBe(route.metadata.name);
    expect(find(list, 'ReferenceGrant', 'demo-routes-to-warden').spec.from).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: route.metadata.namespace },
    ]);
  });

  it("a ReferenceGrant in warden's namespace admits exactly that SecurityPolicy namespace to the warden Service", () => {
    const grant = find(list, 'ReferenceGrant', 'demo-security-policy-to-warden');
    expect(grant.metadata.namespace).toBe('warden');
    expect(grant.spec.from).toEqual([
      { group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: APP_NS },
    ]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: 'warden' }]);
  });
});
