// deploy/kubernetes: every manifest validates against its schema, the overlays render, and warden's
// own objects hold what the issue asks (non-root, read-only, probes, warden never published).
// The ingress styles are checked in ingress-styles.test.ts.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { ITopologySpreadConstraint } from 'kubernetes-models/v1/TopologySpreadConstraint';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { loadConfig } from '../../src/config/load.js';
import { findBinary } from '../e2e/harness/process.js';
import { testDir } from '../helpers/tmp.js';
import {
  find,
  K8S_DIR,
  parseManifests,
  renderRecipes,
  validateManifest,
  withoutFile,
  yamlFiles,
  type Manifest,
} from './manifests.js';
import { exposureProblems, workloadProblems } from './recipe-checks.js';

const files = yamlFiles(K8S_DIR).filter((f) => !f.endsWith('kustomization.yaml'));
const all: Manifest[] = files.flatMap(parseManifests);
const rendered: Record<string, Manifest[]> = renderRecipes();

describe('deploy/kubernetes: schemas', () => {
  it('every object in every file validates (Kubernetes, Traefik, Gateway API, Envoy Gateway)', () => {
    expect(files.length).toBeGreaterThan(5);
    for (const m of all) expect(validateManifest(m), `${m.file}: ${m.kind}/${m.metadata.name}`).toEqual([]);
  });

  it('every kustomization renders, and what it renders validates', () => {
    for (const [k, list] of Object.entries(rendered)) {
      expect(list.length, k).toBeGreaterThan(0);
      for (const m of list) expect(validateManifest(m), `${k}: ${m.kind}/${m.metadata.name}`).toEqual([]);
    }
    // Every file is part of some kustomization.
    const used = new Set(
      Object.values(rendered)
        .flat()
        .map((m) => m.file),
    );
    for (const f of new Set(all.map((m) => m.file))) expect(used, f).toContain(f);
  });

  it('a manifest that does not validate is caught', () => {
    const d = structuredClone(find(all, 'Deployment', 'warden'));
    d.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(validateManifest(d).join()).toMatch(/containerPort/);
    const mw = structuredClone(find(all, 'Middleware', 'warden'));
    mw.spec.forwardAuth.trustForwardHeader = 'false';
    expect(validateManifest(mw).join()).toMatch(/trustForwardHeader/);
    const sp = structuredClone(find(all, 'SecurityPolicy', 'demo-app-warden'));
    sp.spec.extAuth.http.pathPrefix = '/verify/envoy';
    expect(validateManifest(sp).join()).toMatch(/pathPrefix|Unrecognized/);
    expect(validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget' })).toEqual([
      'no schema for example.com/v1/Widget',
    ]);
  });

  const kubectl = findBinary('kubectl');
  // kubectl is not in the registries this project installs from: an extra check where it exists.
  if (!kubectl) console.warn('SKIPPED kubectl kustomize cross-check: kubectl is not installed');
  it.skipIf(!kubectl)('renders as kubectl kustomize renders', () => {
    for (const k of ['overlays/dev', 'overlays/prod', 'ingress-nginx', 'traefik', 'gateway-api']) {
      const out = execFileSync(kubectl!, ['kustomize', join(K8S_DIR, k)], { encoding: 'utf8' });
      const theirs = parseAllDocuments(out).map((d) => d.toJS() as Manifest);
      const strip = (list: Manifest[]) =>
        list
          .map(withoutFile)
          .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
      expect(strip(rendered[k]!), k).toEqual(strip(theirs));
    }
  });
});

describe('deploy/kubernetes: workloads', () => {
  it('runs nothing as root or writable, and every container has probes and resources', () => {
    for (const list of Object.values(rendered))
      for (const m of list) expect(workloadProblems(m), `${m.kind}/${m.metadata.name}`).toEqual([]);
  });

  it('names the problem when a pod runs as root, is writable or lacks a probe', () => {
    const d = structuredClone(find(all, 'Deployment', 'warden'));
    const c = d.spec.template.spec.containers[0];
    d.spec.template.spec.securityContext.runAsUser = 0;
    delete c.securityContext.runAsNonRoot;
    d.spec.template.spec.securityContext.runAsNonRoot = false;
    c.securityContext.readOnlyRootFilesystem = false;
    delete c.readinessProbe;
    expect(workloadProblems(d)).toEqual([
      'Deployment/warden container warden: runAsNonRoot is not true',
      'Deployment/warden container warden: runAsUser 0 (root)',
      'Deployment/warden container warden: root filesystem is writable',
      'Deployment/warden container warden: no readinessProbe',
    ]);
  });

  for (const overlay of ['base', 'overlays/dev', 'overlays/prod']) {
    it(`${overlay}: warden has 2+ replicas, /healthz and /readyz probes, spread, HPA and PDB that fit`, () => {
      const list = rendered[overlay]!;
      const d = find(list, 'Deployment', 'warden');
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
      expect(d.metadata.namespace).toBe('warden');
      expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
      expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'http' });
      expect(c.ports).toContainEqual(expect.objectContaining({ name: 'http', containerPort: 8080 }));
      expect(
        pod.topologySpreadConstraints.map((t: ITopologySpreadConstraint) => t.topologyKey).sort(),
      ).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const t of pod.topologySpreadConstraints)
        expect(t.labelSelector.matchLabels).toEqual(d.spec.selector.matchLabels);
      expect(pod.automountServiceAccountToken).toBe(false);
      const hpa = find(list, 'HorizontalPodAutoscaler', 'warden');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'warden' });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(d.spec.replicas);
      const pdb = find(list, 'PodDisruptionBudget', 'warden');
      expect(pdb.spec.selector.matchLabels).toEqual(d.spec.selector.matchLabels);
      expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
      const svc = find(list, 'Service', 'warden');
      expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
      expect(exposureProblems(list)).toEqual([]);
    });
  }

  it('mounts the policy ConfigMap and keys Secret as directories (a subPath mount never sees an update) at the paths warden reads', () => {
    const d = find(rendered.base!, 'Deployment', 'warden');
    const c = d.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      c.env.filter((e: IEnvVar) => 'value' in e).map((e: IEnvVar) => [e.name, e.value]),
    );
    const volumes = d.spec.template.spec.volumes;
    for (const [variable, volume, source] of [
      ['WARDEN_POLICY', 'policy', { configMap: { name: 'warden-policy' } }],
      ['WARDEN_API_KEYS', 'keys', { secret: { secretName: 'warden-keys' } }],
      ['WARDEN_OIDC_PROVIDERS', 'oidc', { secret: { secretName: 'warden-oidc' } }],
    ] as const) {
      const mount = (c.volumeMounts as IVolumeMount[]).find((m) => m.name === volume)!;
      expect(mount.subPath, volume).toBeUndefined();
      expect(env[variable].startsWith(mount.mountPath + '/'), variable).toBe(true);
      expect(volumes.find((v: IVolume) => v.name === volume)).toMatchObject(source);
    }
    // Every other path warden writes is a volume, since the root filesystem is read-only.
    expect(c.volumeMounts.map((m: IVolumeMount) => m.mountPath)).toEqual(
      expect.arrayContaining([env.WARDEN_STATE_DIR, '/tmp']),
    );
  });

  it('the prod overlay sets what its comment says: 3 replicas on distinct nodes, HPA 3-10, a PDB of 2, a pinned image', () => {
    const list = rendered['overlays/prod']!;
    const d = find(list, 'Deployment', 'warden');
    expect(d.spec.replicas).toBe(3);
    const spread = d.spec.template.spec.topologySpreadConstraints as {
      topologyKey: string;
      whenUnsatisfiable: string;
    }[];
    expect(spread.find((t) => t.topologyKey === 'kubernetes.io/hostname')?.whenUnsatisfiable).toBe(
      'DoNotSchedule',
    );
    expect(spread.find((t) => t.topologyKey === 'topology.kubernetes.io/zone')?.whenUnsatisfiable).toBe(
      'ScheduleAnyway',
    );
    expect(d.spec.template.spec.containers[0].image).toMatch(/:\d+\.\d+\.\d+$/);
    const hpa = find(list, 'HorizontalPodAutoscaler', 'warden');
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([3, 10]);
    expect(find(list, 'PodDisruptionBudget', 'warden').spec.minAvailable).toBe(2);
    const comment = readFileSync(join(K8S_DIR, 'overlays/prod/kustomization.yaml'), 'utf8');
    expect(comment).toMatch(/three replicas, never two on one node/);
    expect(comment).toMatch(/HPA 3-10, a PDB keeping 2/);
  });

  it("loads as warden loads it: the Deployment's environment, the ConfigMap's policy and the Secret's keys", async () => {
    for (const overlay of ['overlays/dev', 'overlays/prod']) {
      const list = rendered[overlay]!;
      const dir = testDir('warden-k8s-');
      const c = find(list, 'Deployment', 'warden').spec.template.spec.containers[0];
      const vars: Record<string, string> = {};
      for (const e of c.env) if ('value' in e) vars[e.name] = e.value;
      writeFileSync(join(dir, 'policy.yaml'), find(list, 'ConfigMap', 'warden-policy').data['policy.yaml']);
      writeFileSync(join(dir, 'keys.yaml'), find(list, 'Secret', 'warden-keys').stringData['keys.yaml']);
      writeFileSync(
        join(dir, 'providers.yaml'),
        find(list, 'Secret', 'warden-oidc').stringData['providers.yaml'],
      );
      // As the image runs it (NODE_ENV=production), with the session Secret the overlay makes or
      // the one the prod overlay's comment says to create.
      const session = list.find((m) => m.kind === 'Secret' && m.metadata.name === 'warden-session');
      const config = await loadConfig(
        {
          NODE_ENV: 'production',
          ...vars,
          WARDEN_POLICY: join(dir, 'policy.yaml'),
          WARDEN_API_KEYS: join(dir, 'keys.yaml'),
          WARDEN_OIDC_PROVIDERS: join(dir, 'providers.yaml'),
          WARDEN_SESSION_SECRET: session
            ? Buffer.from(session.data.WARDEN_SESSION_SECRET, 'base64').toString()
            : randomBytes(32).toString('base64'),
        },
        { fetch },
      );
      expect(config.env.REDIS_URL).toBe('redis://warden-redis:6379');
      // Sign-in on: warden's own login page, on the public URL.
      expect(config.signIn.providers.map((p) => p.id)).toEqual(['sso']);
      expect(config.env.WARDEN_LOGIN_URL).toBeUndefined();
      expect(config.env.WARDEN_PUBLIC_URL).toBe('https://app.example.com');
      expect(find(list, 'Service', 'warden-redis').spec.ports[0].port).toBe(6379);
    }
    const session = find(rendered['overlays/dev']!, 'Secret', 'warden-session');
    expect(Buffer.from(session.data.WARDEN_SESSION_SECRET, 'base64').length).toBeGreaterThanOrEqual(32);
  });

  it('NetworkPolicy: only the ingress controllers reach warden; warden reaches Redis, DNS and HTTPS outside the cluster', () => {
    const np = find(rendered.base!, 'NetworkPolicy', 'warden');
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.ingress).toHaveLength(1);
    const from = np.spec.ingress[0].from.map(
      (f: INetworkPolicyPeer) => f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'],
    );
    expect(from).toEqual(['ingress-nginx', 'traefik', 'envoy-gateway-system']);
    expect(np.spec.ingress[0].ports).toEqual([{ port: 'http', protocol: 'TCP' }]);
    const egress = np.spec.egress;
    expect(egress[0].to[0].podSelector.matchLabels).toEqual(
      find(rendered.base!, 'StatefulSet', 'warden-redis').spec.selector.matchLabels,
    );
    expect(egress[1].ports.map((p: INetworkPolicyPort) => p.port)).toEqual([53, 53]);
    expect(egress[2].to[0].ipBlock.except).toEqual(
      expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']),
    );
    expect(egress[2].ports).toEqual([{ port: 443, protocol: 'TCP' }]);
    const redis = find(rendered.base!, 'NetworkPolicy', 'warden-redis');
    expect(redis.spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'warden' } } },
    ]);
    expect(redis.spec.egress).toEqual([]);
  });

  it('names the problem when warden is published (NodePort, LoadBalancer, a route to it)', () => {
    const svc = structuredClone(find(all, 'Service', 'warden'));
    svc.spec.type = 'LoadBalancer';
    const ing = structuredClone(find(all, 'Ingress', 'demo-app'));
    ing.spec.rules[0].http.paths[0].backend.service.name = 'warden';
    expect(exposureProblems([svc, ing])).toEqual([
      'Service/warden (base/service.yaml): type LoadBalancer publishes warden',
      'Ingress/demo-app (ingress-nginx/ingress.yaml): routes clients to warden itself (Prefix /)',
    ]);
  });
});
