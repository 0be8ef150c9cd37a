// Kubernetes manifests under deploy/kubernetes: loading, schema validation (kubernetes-models,
// Traefik and Gateway API models, and Envoy Gateway's SecurityPolicy), and kustomize rendering.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as k8s from 'kubernetes-models';
import * as gatewayApi from '@kubernetes-models/gateway-api';
import * as traefik from '@kubernetes-models/traefik';
import { parseAllDocuments } from 'yaml';
import { DEPLOY_DIR } from '../e2e/harness/render.js';
import { clientTrafficPolicySchema, securityPolicySchema } from './envoy-gateway-schema.js';

/** deploy/kubernetes. */
export const K8S_DIR = join(DEPLOY_DIR, 'kubernetes');

/** One Kubernetes object as its YAML holds it. */
export interface ManifestBody {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // The rest is whatever the YAML of its kind holds (spec, data, ...), read by the tests as parsed data
  // (no-unsafe-* is off in test/); schemas are checked by validateManifest, not by these types.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML of many kinds, read by path
  [field: string]: any;
}

/** One Kubernetes object and the file it came from. */
export interface Manifest extends ManifestBody {
  file: string;
}

/** The object without the file it came from: as kubectl renders it, and as its schema sees it. */
export function withoutFile(m: Manifest): ManifestBody {
  const body: ManifestBody & { file?: string } = { ...m };
  delete body.file;
  return body;
}

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion: string; kind: string };

/** Every model class the three packages export, by "apiVersion/kind". */
function modelRegistry(): Map<string, ModelClass> {
  const found = new Map<string, ModelClass>();
  const seen = new Set<unknown>();
  const walk = (ns: unknown): void => {
    if (ns === null || typeof ns !== 'object' || seen.has(ns)) return;
    seen.add(ns);
    for (const value of Object.values(ns as Record<string, unknown>)) {
      if (typeof value === 'function') {
        const c = value as Partial<ModelClass>;
        if (typeof c.apiVersion === 'string' && typeof c.kind === 'string')
          found.set(`${c.apiVersion}/${c.kind}`, value as ModelClass);
      } else walk(value);
    }
  };
  for (const pkg of [k8s, gatewayApi, traefik]) walk(pkg);
  return found;
}
const MODELS = modelRegistry();

/** Envoy Gateway's kinds the recipes use, by "apiVersion/kind": it publishes no models package. */
const ENVOY_GATEWAY_SCHEMAS: Record<string, typeof securityPolicySchema | typeof clientTrafficPolicySchema> =
  {
    'gateway.envoyproxy.io/v1alpha1/SecurityPolicy': securityPolicySchema,
    'gateway.envoyproxy.io/v1alpha1/ClientTrafficPolicy': clientTrafficPolicySchema,
  };

/**
 * Validate one object against its schema; returns the problems (empty when valid). Envoy
 * Gateway's SecurityPolicy and ClientTrafficPolicy are checked against envoy-gateway-schema.ts.
 * An apiVersion/kind that no schema knows is a problem too.
 */
export function validateManifest(manifest: {
  apiVersion?: unknown;
  kind?: unknown;
  file?: string;
}): string[] {
  const m: Record<string, unknown> = { ...manifest };
  delete m.file;
  const key = `${String(m.apiVersion)}/${String(m.kind)}`;
  const envoyGateway = ENVOY_GATEWAY_SCHEMAS[key];
  if (envoyGateway) {
    const r = envoyGateway.safeParse(m);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  }
  const Model = MODELS.get(key);
  if (!Model) return [`no schema for ${key}`];
  try {
    new Model(m).validate();
    return [];
  } catch (e) {
    return [(e as Error).message];
  }
}

/** Parse a multi-document YAML file into objects (empty documents skipped). */
export function parseManifests(path: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const out: Manifest[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS() as Manifest | null;
    if (v !== null) out.push({ ...v, file: relative(K8S_DIR, path) });
  }
  return out;
}

/** Every YAML file below `dir`, recursively. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** RFC 6902 add / replace / remove (what the overlays use), on a copy. */
function applyJsonPatch(target: Manifest, ops: JsonPatchOp[]): Manifest {
  const doc = structuredClone(target);
  for (const { op, path, value } of ops) {
    const parts = path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent: unknown = doc;
    for (const p of parts) {
      parent = parent === null || parent === undefined ? undefined : (parent as Record<string, unknown>)[p];
      if (parent === undefined) throw new Error(`${target.kind}/${target.metadata.name}: no ${path}`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op === 'add') parent.splice(i, 0, value);
      else if (i >= parent.length) throw new Error(`${target.kind}/${target.metadata.name}: no ${path}`);
      else if (op === 'replace') parent[i] = value;
      else parent.splice(i, 1);
    } else {
      const object = parent as Record<string, unknown>;
      if (op !== 'add' && !(last in object))
        throw new Error(`${target.kind}/${target.metadata.name}: no ${path}`);
      // A key named by the patch: the document is plain parsed YAML, not a Map.
      if (op === 'remove') Reflect.deleteProperty(object, last);
      else object[last] = value;
    }
  }
  return doc;
}

interface Kustomization {
  namespace?: string;
  labels?: { pairs: Record<string, string> }[];
  resources?: string[];
  images?: { name: string; newTag?: string; newName?: string }[];
  secretGenerator?: {
    name: string;
    namespace?: string;
    literals?: string[];
    options?: { disableNameSuffixHash?: boolean };
  }[];
  patches?: { target: { kind: string; name: string }; patch: string }[];
  [other: string]: unknown;
}
const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'images',
  'secretGenerator',
  'patches',
]);

/**
 * Render a kustomization directory the way `kubectl kustomize` does, for the fields the recipes
 * use (resources, namespace, labels, images, secretGenerator without hash suffix, JSON 6902
 * patches); any other field is refused rather than silently ignored.
 */
export function kustomize(dir: string): Manifest[] {
  const path = join(dir, 'kustomization.yaml');
  const k = parseAllDocuments(readFileSync(path, 'utf8'))[0]!.toJS() as Kustomization;
  for (const field of Object.keys(k))
    if (!SUPPORTED.has(field))
      throw new Error(`${path}: kustomize field ${field} is not rendered by the test`);
  let out: Manifest[] = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    out.push(...(statSync(p).isDirectory() ? kustomize(p) : parseManifests(p)));
  }
  for (const g of k.secretGenerator ?? []) {
    if (!g.options?.disableNameSuffixHash)
      throw new Error(
        `${path}: secretGenerator ${g.name} needs disableNameSuffixHash (hashed names are not rendered by the test)`,
      );
    const stringData = Object.fromEntries(
      (g.literals ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const data = Object.fromEntries(
      Object.entries(stringData).map(([key, v]) => [key, Buffer.from(v).toString('base64')]),
    );
    out.push({
      file: relative(K8S_DIR, path),
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name: g.name, ...(g.namespace ? { namespace: g.namespace } : {}) },
      data,
    });
  }
  for (const p of k.patches ?? []) {
    const ops = parseAllDocuments(p.patch)[0]!.toJS() as JsonPatchOp[];
    const isTarget = (m: Manifest) => m.kind === p.target.kind && m.metadata.name === p.target.name;
    if (!out.some(isTarget))
      throw new Error(`${path}: patch target ${p.target.kind}/${p.target.name} not found`);
    out = out.map((m) => (isTarget(m) ? applyJsonPatch(m, ops) : m));
  }
  for (const img of k.images ?? []) {
    for (const m of out) {
      for (const c of m.spec?.template?.spec?.containers ?? []) {
        // name[:tag], where the name may hold a registry port (localhost:5000/warden)
        const m2 = /^(.*?)(?::([\w][\w.-]*))?$/.exec(String(c.image))!;
        const tag = img.newTag ?? m2[2];
        if (m2[1] === img.name) c.image = `${img.newName ?? m2[1]}${tag ? `:${tag}` : ''}`;
      }
    }
  }
  if (k.namespace)
    for (const m of out) if (m.kind !== 'Namespace') m.metadata = { ...m.metadata, namespace: k.namespace };
  for (const { pairs } of k.labels ?? [])
    for (const m of out) m.metadata = { ...m.metadata, labels: { ...m.metadata.labels, ...pairs } };
  return out;
}

/** The one object of `kind` named `name` in `list`. */
export function find(list: Manifest[], kind: string, name: string): Manifest {
  const hits = list.filter((m) => m.kind === kind && m.metadata.name === name);
  if (hits.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${hits.length}`);
  return hits[0]!;
}

/** The kustomizations under deploy/kubernetes, each rendered. */
export const KUSTOMIZATIONS = [
  'base',
  'overlays/dev',
  'overlays/prod',
  'demo-app',
  'ingress-nginx',
  'traefik',
  'gateway-api',
] as const;
export function renderRecipes(): Record<(typeof KUSTOMIZATIONS)[number], Manifest[]> {
  return Object.fromEntries(KUSTOMIZATIONS.map((k) => [k, kustomize(join(K8S_DIR, k))])) as Record<
    (typeof KUSTOMIZATIONS)[number],
    Manifest[]
  >;
}

/** The in-cluster URL of `path` on the warden Service of the rendered base. */
export function wardenUrl(base: Manifest[], path: string): string {
  const svc = find(base, 'Service', 'warden');
  return `http://${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local:${svc.spec.ports[0].port}${path}`;
}
