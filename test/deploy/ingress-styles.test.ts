// deploy/kubernetes: the three ingress styles, each wired to the warden Service and the dialect it
// speaks: ingress-nginx (annotations as the e2e test runs them), Traefik (as deploy/traefik), and
// the Gateway API with an Envoy Gateway SecurityPolicy.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IServicePort } from 'kubernetes-models/v1/ServicePort';
import { parse } from 'yaml';
import { FROM_WARDEN_HEADERS } from '../e2e/harness/fixture.js';
import { INGRESS_NGINX_ANNOTATIONS } from '../e2e/harness/ingress-nginx.js';
import { DEPLOY_DIR } from '../e2e/harness/render.js';
import { find, renderRecipes, wardenUrl, type Manifest } from './manifests.js';
import { cacheKeyProblems } from './recipe-checks.js';

const IDENTITY = [...FROM_WARDEN_HEADERS];
const rendered = renderRecipes();
const APP_NS = 'demo';

describe('deploy/kubernetes: ingress-nginx', () => {
  const ingresses = rendered['ingress-nginx'].filter((m) => m.kind === 'Ingress');
  const a = (m: Manifest, name: string) => m.metadata.annotations?.[`nginx.ingress.kubernetes.io/${name}`];

  it('asks warden /verify/nginx, copies every identity header, and signs browsers in at WARDEN_LOGIN_URL', () => {
    const loginUrl = find(rendered.base, 'Deployment', 'warden').spec.template.spec.containers[0].env.find(
      (e: IEnvVar) => e.name === 'WARDEN_LOGIN_URL',
    ).value;
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
    for (const name of ['warden-strip', 'warden', 'warden-drop-key']) {
      const mw = find(list, 'Middleware', name);
      const expected = structuredClone(dyn.middlewares[name]);
      if (name === 'warden') expected.forwardAuth.address = wardenUrl(rendered.base, '/verify/traefik');
      expect(mw.spec, name).toEqual(expected);
    }
    const route = find(list, 'IngressRoute', 'demo-app').spec.routes[0];
    expect(route.middlewares.map((m: { name: string }) => m.name)).toEqual(dyn.routers.app.middlewares);
    expect(route.services[0].name).toBe('demo-app');
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

  it("a ReferenceGrant in warden's namespace admits exactly that SecurityPolicy namespace to the warden Service", () => {
    const grant = find(list, 'ReferenceGrant', 'demo-security-policy-to-warden');
    expect(grant.metadata.namespace).toBe('warden');
    expect(grant.spec.from).toEqual([
      { group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: APP_NS },
    ]);
    expect(grant.spec.to).toEqual([{ group: '', kind: 'Service', name: 'warden' }]);
  });
});
