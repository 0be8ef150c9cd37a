// compose.yaml and the Dockerfile cannot run here (no Docker engine): check them as documents.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as { services: Record<string, any> };

describe('compose.yaml', () => {
  it('publishes ports only on the proxy', () => {
    const publishing = Object.entries(compose.services).filter(([, s]) => s.ports).map(([n]) => n);
    expect(publishing).toEqual(['traefik']);
  });

  it('mounts files that exist, and the Traefik recipe unchanged', () => {
    for (const s of Object.values(compose.services)) {
      for (const v of (s.volumes ?? []) as string[]) {
        const host = v.split(':')[0]!;
        if (host.startsWith('./')) expect(existsSync(join(root, host)), v).toBe(true);
      }
    }
    expect(compose.services.traefik.volumes).toContain('./deploy/traefik/dynamic.yaml:/etc/traefik/dynamic.yaml:ro');
  });

  it('trusts exactly the proxy, and runs warden read-only on Redis', () => {
    const w = compose.services.warden;
    const traefikIp = compose.services.traefik.networks.edge.ipv4_address;
    expect(w.environment.WARDEN_TRUSTED_PROXIES).toBe(`${traefikIp}/32`);
    expect(w.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(w.read_only).toBe(true);
    // The recipe calls warden and the app by these names.
    const dynamic = readFileSync(join(root, 'deploy/traefik/dynamic.yaml'), 'utf8');
    expect(dynamic).toContain('http://warden:8080/verify/traefik');
    expect(dynamic).toContain('http://app:3000');
  });
});

describe('Dockerfile', () => {
  const lines = readFileSync(join(root, 'Dockerfile'), 'utf8').split('\n');
  it('is multi-stage, non-root, with a health check and SIGTERM', () => {
    expect(lines.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(lines).toContain('USER node');
    expect(lines.some((l) => l.startsWith('HEALTHCHECK') && true)).toBe(true);
    expect(lines.join('\n')).toMatch(/\/healthz/);
    expect(lines).toContain('STOPSIGNAL SIGTERM');
  });
  it('copies only what exists', () => {
    for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      for (const src of l.replace(/^COPY /, '').split(/\s+/).slice(0, -1)) expect(existsSync(join(root, src)), l).toBe(true);
    }
  });
});
