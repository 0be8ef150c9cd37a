// What every deploy recipe must hold, as checks that list problems: the tests run them on the
// real files (no problem) and on broken copies (the problem is named).
import type { Manifest } from './manifests.js';

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/** Pods that run as root, can write their root filesystem or escalate, lack probes or resources. */
export function workloadProblems(m: Manifest): string[] {
  if (!WORKLOADS.has(m.kind)) return [];
  const at = `${m.kind}/${m.metadata.name}`;
  const pod = m.spec?.template?.spec ?? {};
  const out: string[] = [];
  const podSc = pod.securityContext ?? {};
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) out.push(`${at}: shares a host namespace`);
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
    const sc = c.securityContext ?? {};
    const where = `${at} container ${c.name}`;
    const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
    const uid = sc.runAsUser ?? podSc.runAsUser;
    if (nonRoot !== true) out.push(`${where}: runAsNonRoot is not true`);
    if (uid === 0) out.push(`${where}: runAsUser 0 (root)`);
    if (sc.readOnlyRootFilesystem !== true) out.push(`${where}: root filesystem is writable`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) out.push(`${where}: privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where}: capabilities not dropped`);
    if (!c.livenessProbe) out.push(`${where}: no livenessProbe`);
    if (!c.readinessProbe) out.push(`${where}: no readinessProbe`);
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory) out.push(`${where}: no cpu/memory requests and memory limit`);
  }
  return out;
}

/** warden reached from outside the cluster: a Service other than ClusterIP, or a route to it. */
export function exposureProblems(all: Manifest[], wardenService = 'warden'): string[] {
  const out: string[] = [];
  for (const m of all) {
    const at = `${m.kind}/${m.metadata.name} (${m.file})`;
    if (m.kind === 'Service' && m.metadata.name.startsWith(wardenService)) {
      if ((m.spec?.type ?? 'ClusterIP') !== 'ClusterIP') out.push(`${at}: type ${m.spec.type} publishes warden`);
      if (m.spec?.externalIPs?.length) out.push(`${at}: externalIPs publish warden`);
    }
    const text = JSON.stringify(m.spec ?? {});
    // A route whose backend is warden makes /verify, /metrics and /admin reachable by clients.
    const routesToWarden =
      (m.kind === 'Ingress' && /"service":\{"name":"warden"/.test(text)) ||
      ((m.kind === 'IngressRoute' || m.kind === 'HTTPRoute') && JSON.stringify(m.spec?.routes ?? m.spec?.rules ?? []).match(/"(?:services|backendRefs)":\[[^\]]*"name":"warden"/));
    if (routesToWarden) out.push(`${at}: routes clients to warden itself`);
  }
  return out;
}

/** The nginx variables warden's decision depends on; an auth cache key lacking one serves one client's answer to another. */
export const CACHE_KEY_PARTS = {
  credentials: ['$http_authorization', '$http_x_api_key', '$http_cookie'],
  request: ['$request_method', '$request_uri', '$remote_addr'],
} as const;

/** Problems of an ingress-nginx `auth-cache-key`. */
export function cacheKeyProblems(key: string | undefined): string[] {
  if (key === undefined) return [];
  const out: string[] = [];
  for (const v of CACHE_KEY_PARTS.credentials) if (!key.includes(v)) out.push(`auth-cache-key lacks the credential ${v}: one client's allow would be served to another`);
  for (const v of CACHE_KEY_PARTS.request) if (!key.includes(v)) out.push(`auth-cache-key lacks ${v}: an allow for one request would be served for another`);
  // "$request_uri$remote_addr" makes /vip/x1 from 2.3.4.5 and /vip/x from 12.3.4.5 one key.
  if (/\$\w+\$/.test(key)) out.push('auth-cache-key joins two variables with no separator: different requests can share a key');
  // ingress-nginx (annotation validation, v1.9+) accepts only these characters in the key.
  if (!/^[A-Za-z0-9\-_${}]*$/.test(key)) out.push('auth-cache-key has characters ingress-nginx refuses (allowed: A-Z a-z 0-9 - _ $ { })');
  return out;
}
