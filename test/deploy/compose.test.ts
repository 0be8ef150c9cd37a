// compose.yaml and the Dockerfile cannot run here (no Docker engine): check them as documents,
// parsed (yaml, dockerfile-ast), and load warden's part of them with warden's own loader.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { composeProblems, dockerfileProblems, dockerStages, type ComposeFile } from './recipe-checks.js';

const root = join(import.meta.dirname, '..', '..');
const read = (rel: string) => readFileSync(join(root, rel), 'utf8');
const compose = parse(read('compose.yaml')) as ComposeFile;
const dockerfile = read('Dockerfile');

/** Host side of a compose bind mount, relative to the repository. */
const hostPaths = (s: { volumes?: string[] }) =>
  (s.volumes ?? []).map((v) => v.split(':')[0]!).filter((h) => h.startsWith('./'));

describe('compose.yaml', () => {
  it('publishes ports only on the proxies, runs nothing as root and warden read-only', () => {
    expect(composeProblems(compose)).toEqual([]);
    expect(Object.keys(compose.services).filter((n) => compose.services[n].ports)).toEqual([
      'traefik',
      'nginx',
    ]);
    // warden runs as the image's USER (checked below); compose must not override it.
    expect(compose.services.warden.user).toBeUndefined();
    expect(compose.services.warden.build).toBe('.');
  });

  it('names the problem when warden is published or runs as root', () => {
    const bad = structuredClone(compose);
    bad.services.warden.ports = ['8080:8080'];
    bad.services.warden.user = 'root';
    bad.services.redis.ports = ['6379:6379'];
    expect(composeProblems(bad)).toEqual([
      'warden publishes ports but is not a proxy',
      'warden runs as root',
      'redis publishes ports but is not a proxy',
    ]);
  });

  it('mounts files that exist: the Traefik recipe unchanged, deploy/nginx whole', () => {
    for (const s of Object.values(compose.services))
      for (const h of hostPaths(s)) expect(existsSync(join(root, h)), h).toBe(true);
    expect(compose.services.traefik.volumes).toContain(
      './deploy/traefik/dynamic.yaml:/etc/traefik/dynamic.yaml:ro',
    );
    expect(compose.services.nginx.volumes).toContain('./deploy/nginx:/recipe:ro');
    const dynamic = read('deploy/traefik/dynamic.yaml');
    expect(dynamic).toContain('http://warden:8080/verify/traefik');
    expect(dynamic).toContain('http://app:3000');
    expect(compose.services.app.command).toEqual(['--port', '3000']);
  });

  it('runs a Traefik that knows every ForwardAuth field of the recipe (forwardBody: v3.3 or later)', () => {
    const image = (compose.services.traefik as { image: string }).image;
    const m = /^traefik:v(\d+)\.(\d+)/.exec(image);
    expect(m, image).not.toBeNull();
    const [major, minor] = [Number(m![1]), Number(m![2])];
    expect(read('deploy/traefik/dynamic.yaml')).toContain('forwardBody: true');
    expect(major > 3 || (major === 3 && minor >= 3), image).toBe(true);
  });

  it('has a README for deploy/compose naming each of its files', () => {
    const readme = read('deploy/compose/README.md');
    for (const f of readdirSync(join(root, 'deploy/compose')).filter((f) => f !== 'README.md'))
      expect(readme, f).toContain(`\`${f}\``);
  });

  it("nginx's entrypoint changes only the addresses of warden and the app in deploy/nginx", () => {
    const script = read('deploy/compose/nginx-entrypoint.sh');
    const sed = /sed((?:\s+-e\s+'[^']+')+)/
      .exec(script)![1]!
      .match(/'[^']+'/g)!
      .map((e) => e.slice(1, -1));
    for (const file of readdirSync(join(root, 'deploy/nginx')).filter((f) => f.endsWith('.conf'))) {
      const original = read(`deploy/nginx/${file}`).split('\n');
      const installed = execFileSync(
        'sed',
        [...sed.flatMap((e) => ['-e', e]), join(root, 'deploy/nginx', file)],
        { encoding: 'utf8' },
      ).split('\n');
      expect(installed.length).toBe(original.length);
      original.forEach((line, i) => {
        if (installed[i] !== line)
          expect(
            line.replace('127.0.0.1:8080', 'warden:8080').replace('127.0.0.1:3000', 'app:3000'),
            `${file}:${i + 1}`,
          ).toBe(installed[i]);
      });
    }
    expect(script).toContain("echo 'include warden/warden.conf;' > /etc/nginx/conf.d/default.conf");
  });

  it("trusts exactly the two proxies, and warden's environment, policy and keys load as warden loads them", async () => {
    const w = compose.services.warden;
    const proxies = ['traefik', 'nginx'].map((n) => `${compose.services[n].networks.edge.ipv4_address}/32`);
    expect(w.environment.WARDEN_TRUSTED_PROXIES.split(',')).toEqual(proxies);
    expect(w.volumes).toContain('./rbac:/etc/warden:ro');
    const inContainer = (p: string) => join(root, 'rbac', p.replace('/etc/warden/', ''));
    const config = await loadConfig(
      {
        ...w.environment,
        WARDEN_POLICY: inContainer(w.environment.WARDEN_POLICY),
        WARDEN_API_KEYS: inContainer(w.environment.WARDEN_API_KEYS),
      },
      { fetch },
    );
    expect(config.env.REDIS_URL).toBe(`redis://redis:6379`);
    expect(compose.services.redis).toBeDefined();
    expect(compose.services.traefik.depends_on.warden.condition).toBe('service_healthy');
  });
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 24, non-root, health-checked on /healthz, SIGTERM, labelled, ships no dev dependencies', async () => {
    expect(await dockerfileProblems(dockerfile)).toEqual([]);
  });

  it('names the problem for a root user, a missing health check, or node_modules from the build stage', async () => {
    const bad = dockerfile
      .replace('USER node', 'USER root')
      .replace(/HEALTHCHECK[^\n]*\\\n[^\n]*\n/, '')
      .replace('COPY --from=deps /app/node_modules', 'COPY --from=build /app/node_modules');
    expect(await dockerfileProblems(bad)).toEqual([
      'final stage runs as root',
      'no HEALTHCHECK on /healthz',
      'node_modules come from stage build, which keeps dev dependencies',
    ]);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', async () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const stage of await dockerStages(dockerfile)) {
      for (const copy of stage.steps.filter((s) => s.keyword === 'COPY' && !s.from)) {
        for (const src of copy.args.slice(0, -1)) {
          expect(existsSync(join(root, src)), src).toBe(true);
          // .dockerignore semantics: the last pattern that matches decides; `!pattern` lets a path back in.
          let excludedBy: string | null = null;
          for (const p of ignored) {
            const pattern = p.startsWith('!') ? p.slice(1) : p;
            if (src === pattern || src.startsWith(pattern + '/')) excludedBy = p.startsWith('!') ? null : p;
          }
          expect(excludedBy, src).toBeNull();
        }
      }
    }
  });

  it("the dev dependencies are dev-only in the lock file, so the deps stage's npm ci --omit=dev leaves them out", () => {
    const pkg = JSON.parse(read('package.json'));
    const lock = JSON.parse(read('package-lock.json'));
    for (const name of Object.keys(pkg.devDependencies))
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBe(true);
    for (const name of Object.keys(pkg.dependencies))
      expect(lock.packages[`node_modules/${name}`]?.dev, name).toBeUndefined();
  });
});
