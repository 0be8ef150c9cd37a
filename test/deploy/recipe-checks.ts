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
    if (!c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory)
      out.push(`${where}: no cpu/memory requests and memory limit`);
  }
  return out;
}

/** A path prefix of warden's that clients may reach: the protected resource metadata (RFC 9728). */
export const PUBLIC_WARDEN_PREFIX = '/.well-known/oauth-protected-resource';
/** The console (WARDEN_CONSOLE=true), which checks access itself. */
export const CONSOLE_PREFIX = '/console';
/** warden's browser sign-in pages (/oauth2/login, /oauth2/start, /oauth2/callback, ...), how a session is had. */
export const SIGN_IN_PREFIX = '/oauth2';
const PUBLIC_PREFIXES: readonly string[] = [PUBLIC_WARDEN_PREFIX, CONSOLE_PREFIX, SIGN_IN_PREFIX];

/** Traefik's rule for one path prefix on one host, the only rule of a route to warden. */
const TRAEFIK_PREFIX_RULE = /^Host\(`[^`]+`\) && PathPrefix\(`([^`]+)`\)$/;

/** The public prefix a Traefik rule is exactly (its PathPrefix with or without the trailing slash), else null. */
function traefikPrefix(rule: string): string | null {
  const prefix = TRAEFIK_PREFIX_RULE.exec(rule)?.[1];
  if (prefix === undefined) return null;
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return PUBLIC_PREFIXES.includes(bare) ? bare : null;
}

interface RouteToWarden {
  /** Where on the route clients reach warden. */
  paths: string[];
  /** For each of those, the public prefix it is exactly (Prefix or PathPrefix), else null. */
  prefixes: (string | null)[];
}

/** The parts of an Ingress, IngressRoute or HTTPRoute that send clients to the Service `svc`. */
function routesTo(m: Manifest, svc: string): RouteToWarden | null {
  const paths: string[] = [];
  const prefixes: (string | null)[] = [];
  const publicAs = (isPrefix: boolean, path: string | undefined) =>
    isPrefix && path !== undefined && PUBLIC_PREFIXES.includes(path) ? path : null;
  if (m.kind === 'Ingress') {
    for (const rule of m.spec?.rules ?? [])
      for (const p of rule.http?.paths ?? [])
        if (p.backend?.service?.name === svc) {
          paths.push(`${p.pathType} ${p.path}`);
          prefixes.push(publicAs(p.pathType === 'Prefix', p.path));
        }
    if (m.spec?.defaultBackend?.service?.name === svc)
      return { paths: ['default backend'], prefixes: [null] };
  } else if (m.kind === 'IngressRoute') {
    for (const r of m.spec?.routes ?? [])
      if ((r.services ?? []).some((s: { name: string }) => s.name === svc)) {
        paths.push(String(r.match));
        prefixes.push(traefikPrefix(String(r.match)));
      }
  } else if (m.kind === 'HTTPRoute') {
    for (const r of m.spec?.rules ?? [])
      if ((r.backendRefs ?? []).some((b: { name: string }) => b.name === svc)) {
        // A rule without matches matches every path.
        const matches: { path?: { type?: string; value?: string } }[] = r.matches ?? [{}];
        for (const x of matches) {
          const value = x.path?.value ?? '/';
          paths.push(`${x.path?.type ?? 'PathPrefix'} ${value}`);
          // An Exact path below the console's prefix is the console too.
          const exactBelow = x.path?.type === 'Exact' && value.startsWith(`${CONSOLE_PREFIX}/`);
          prefixes.push(exactBelow ? CONSOLE_PREFIX : publicAs(x.path?.type === 'PathPrefix', x.path?.value));
        }
      }
  }
  return paths.length > 0 ? { paths, prefixes } : null;
}

/**
 * warden reached from outside the cluster: a Service other than ClusterIP, or a route to it for
 * anything but the protected resource metadata, the console and the sign-in pages (which would
 * make /verify, /metrics and /admin reachable by clients).
 */
export function exposureProblems(all: Manifest[], wardenService = 'warden'): string[] {
  const out: string[] = [];
  for (const m of all) {
    const at = `${m.kind}/${m.metadata.name} (${m.file})`;
    if (m.kind === 'Service' && m.metadata.name.startsWith(wardenService)) {
      if ((m.spec?.type ?? 'ClusterIP') !== 'ClusterIP')
        out.push(`${at}: type ${m.spec.type} publishes warden`);
      if (m.spec?.externalIPs?.length) out.push(`${at}: externalIPs publish warden`);
    }
    const route = routesTo(m, wardenService);
    if (route?.prefixes.includes(null))
      out.push(`${at}: routes clients to warden itself (${route.paths.join(', ')})`);
  }
  return out;
}

/** The routes of `all` that send clients to warden for `prefix` only (the metadata's by default). */
export function metadataRoutes(
  all: Manifest[],
  wardenService = 'warden',
  prefix: string = PUBLIC_WARDEN_PREFIX,
): Manifest[] {
  return all.filter((m) => routesTo(m, wardenService)?.prefixes.every((p) => p === prefix) === true);
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
  for (const v of CACHE_KEY_PARTS.credentials)
    if (!key.includes(v))
      out.push(`auth-cache-key lacks the credential ${v}: one client's allow would be served to another`);
  for (const v of CACHE_KEY_PARTS.request)
    if (!key.includes(v))
      out.push(`auth-cache-key lacks ${v}: an allow for one request would be served for another`);
  // "$request_uri$remote_addr" makes /vip/x1 from 2.3.4.5 and /vip/x from 12.3.4.5 one key.
  if (/\$\w+\$/.test(key))
    out.push('auth-cache-key joins two variables with no separator: different requests can share a key');
  // ingress-nginx (annotation validation, v1.9+) accepts only these characters in the key.
  if (!/^[A-Za-z0-9\-_${}]*$/.test(key))
    out.push('auth-cache-key has characters ingress-nginx refuses (allowed: A-Z a-z 0-9 - _ $ { })');
  return out;
}

/** One build stage of a Dockerfile: its FROM, name and instructions as keyword + argument words. */
interface Stage {
  image: string;
  name: string | null;
  steps: { keyword: string; args: string[]; from?: string; text: string }[];
}

/** Parse a Dockerfile (dockerfile-ast) into its stages. */
export async function dockerStages(text: string): Promise<Stage[]> {
  const { DockerfileParser } = await import('dockerfile-ast');
  const stages: Stage[] = [];
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    const keyword = i.getKeyword();
    const args = i.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      stages.push({ image: args[0]!, name: args[1]?.toUpperCase() === 'AS' ? args[2]! : null, steps: [] });
      continue;
    }
    const from =
      'getFromFlag' in i
        ? ((i as { getFromFlag(): { getValue(): string | null } | null }).getFromFlag()?.getValue() ??
          undefined)
        : undefined;
    stages.at(-1)?.steps.push({
      keyword,
      args: from === undefined ? args : args.filter((a) => !a.startsWith('--from')),
      from,
      text: i.getArgumentsContent() ?? '',
    });
  }
  return stages;
}

/** What the image must be: multi-stage, small Node 24 (LTS) base in every stage, non-root, health-checked, SIGTERM, labelled, no dev dependencies. */
export async function dockerfileProblems(text: string): Promise<string[]> {
  const stages = await dockerStages(text);
  const out: string[] = [];
  const last = stages.at(-1);
  if (stages.length < 2 || !last) return ['not a multi-stage build'];
  for (const stage of stages)
    if (!/^node:24(\.\d+)*-(alpine|slim|bookworm-slim)/.test(stage.image))
      out.push(`a stage is ${stage.image}, not a small Node 24 base`);
  const step = (k: string) => last.steps.filter((s) => s.keyword === k);
  const user = step('USER').at(-1)?.args[0];
  if (!user || user === 'root' || user === '0' || user.startsWith('0:'))
    out.push(`final stage runs as ${user ?? 'root (no USER)'}`);
  if (!step('HEALTHCHECK').some((s) => s.text.includes('/healthz'))) out.push('no HEALTHCHECK on /healthz');
  if (step('STOPSIGNAL').at(-1)?.args[0] !== 'SIGTERM') out.push('STOPSIGNAL is not SIGTERM');
  const labels = step('LABEL').flatMap((s) => s.args.map((a) => a.split('=')[0]!));
  for (const l of ['title', 'description', 'version', 'source', 'licenses'])
    if (!labels.includes(`org.opencontainers.image.${l}`))
      out.push(`no OCI label org.opencontainers.image.${l}`);
  const stateDir = /WARDEN_STATE_DIR=(\S+)/.exec(
    step('ENV')
      .map((s) => s.text)
      .join(' '),
  )?.[1];
  if (!stateDir || !step('VOLUME').some((s) => s.args.includes(stateDir)))
    out.push('the state directory is not a VOLUME (a read-only root filesystem needs it)');
  for (const copy of step('COPY')) {
    const sources = copy.args.slice(0, -1);
    if (!copy.from) {
      for (const src of sources) if (/^(src|test|tsconfig)/.test(src)) out.push(`final stage copies ${src}`);
      continue;
    }
    const origin = stages.find((s) => s.name === copy.from);
    if (sources.some((s) => s.endsWith('node_modules'))) {
      // The last npm command that shapes node_modules there (ci, install, prune) must leave out dev dependencies.
      const npm = (origin?.steps ?? [])
        .filter((s) => s.keyword === 'RUN')
        .flatMap((s) => s.text.split(/&&|;/))
        .filter((c) => /npm (ci|install|prune)/.test(c));
      if (!/--omit=dev|--production/.test(npm.at(-1) ?? ''))
        out.push(`node_modules come from stage ${copy.from}, which keeps dev dependencies`);
    }
  }
  return out;
}

/** Proxy images: the only services allowed to publish ports. */
const PROXY_IMAGE = /^(traefik|nginx|caddy|envoyproxy\/envoy)[:@]/;

/** compose.yaml as parsed. */
export interface ComposeFile {
  // Each service is untyped YAML whose fields are lists or maps at the author's choice (networks,
  // depends_on, environment), read by path as parsed data (no-unsafe-* is off in test/).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML, read by path
  services: Record<string, any>;
}

/** What the compose stack must be: only proxies publish ports; nothing runs as root; warden is read-only. */
export function composeProblems(compose: ComposeFile): string[] {
  const out: string[] = [];
  for (const [name, s] of Object.entries(compose.services)) {
    if (s.ports && !PROXY_IMAGE.test(String(s.image ?? '')))
      out.push(`${name} publishes ports but is not a proxy`);
    if (s.network_mode === 'host') out.push(`${name} uses the host network`);
    if (s.user === 'root' || s.user === '0' || String(s.user ?? '').startsWith('0:'))
      out.push(`${name} runs as root`);
    if (s.privileged) out.push(`${name} is privileged`);
  }
  const w = compose.services.warden;
  if (!w) return [...out, 'no warden service'];
  if (w.read_only !== true) out.push('warden root filesystem is writable');
  if (w.healthcheck?.disable) out.push("warden's health check is disabled");
  return out;
}

/**
 * Whether `path` matches the path prefix `prefix` as Kubernetes Ingress `Prefix` and Gateway API
 * `PathPrefix` define it: element by element, split on "/", a trailing slash ignored
 * (/foo matches /foo and /foo/bar, not /foobar).
 */
export function elementPrefixMatches(prefix: string, path: string): boolean {
  const p = prefix.split('/').filter(Boolean);
  const q = path.split('/').filter(Boolean);
  return p.length <= q.length && p.every((e, i) => e === q[i]);
}

/** An Envoy Gateway HTTPHeaderFilter's removals (ClientTrafficPolicy headers.earlyRequestHeaders). */
export interface HeaderRemovals {
  remove?: string[];
  removeOnMatch?: { type?: string; value: string }[];
}

/**
 * Whether `filter` removes the request header `name`, as Envoy applies it: on the lower-case
 * name (Envoy's header map keeps names in lower case), `remove` by name, `removeOnMatch` by its
 * StringMatch (Exact by default; a RegularExpression matches the whole name, as RE2 FullMatch).
 */
export function removesHeader(filter: HeaderRemovals, name: string): boolean {
  const n = name.toLowerCase();
  if ((filter.remove ?? []).some((r) => r.toLowerCase() === n)) return true;
  return (filter.removeOnMatch ?? []).some(({ type = 'Exact', value }) => {
    if (type === 'RegularExpression') return new RegExp(`^(?:${value})$`).test(n);
    const v = value.toLowerCase();
    return type === 'Prefix' ? n.startsWith(v) : type === 'Suffix' ? n.endsWith(v) : n === v;
  });
}

/**
 * Regular expressions that would not mean the same to RE2 (Envoy) as to JavaScript (the test):
 * lookaround and backreferences (RE2 has neither), inline flags, and upper-case letters (never
 * matching Envoy's lower-case names).
 */
export function regexProblems(filter: HeaderRemovals): string[] {
  const out: string[] = [];
  for (const { type, value } of filter.removeOnMatch ?? []) {
    if (type !== 'RegularExpression') continue;
    if (/\(\?[=!<]|\\[1-9]|\(\?[a-z]/.test(value)) out.push(`${value}: lookaround, backreference or flag`);
    if (/[A-Z]/.test(value.replace(/\\[A-Z]/g, ''))) out.push(`${value}: upper case never matches`);
  }
  return out;
}
