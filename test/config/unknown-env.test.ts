import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unknownVariables } from '../../src/config/unknown-env.js';
import { closest } from '../../src/util/closest.js';
import { startWarden } from '../helpers/warden.js';

describe('unknown WARDEN_* variables', () => {
  it('are named with the closest known variable; other variables and the recipes’ own are left alone', () => {
    expect(
      unknownVariables({
        WARDEN_TRUSTED_PROXY: '10.0.0.0/8',
        WARDEN_POLCY: 'p.yaml',
        WARDEN_FROBNICATE: '1',
        WARDEN_POLICY: 'p.yaml',
        WARDEN_SITE: 'http://localhost:8081',
        PATH: '/bin',
        HOME: '/root',
      }),
    ).toEqual([
      {
        variable: 'WARDEN_FROBNICATE',
        message: 'not a warden variable, ignored',
      },
      {
        variable: 'WARDEN_POLCY',
        suggestion: 'WARDEN_POLICY',
        message: 'not a warden variable, ignored (did you mean WARDEN_POLICY?)',
      },
      {
        variable: 'WARDEN_TRUSTED_PROXY',
        suggestion: 'WARDEN_TRUSTED_PROXIES',
        message: 'not a warden variable, ignored (did you mean WARDEN_TRUSTED_PROXIES?)',
      },
    ]);
    expect(closest('GTE', ['GET', 'PUT', 'DELETE'])).toBe('GET');
    expect(closest('zzz', ['GET', 'PUT'])).toBeUndefined();
  });

  it("leave alone every WARDEN_* variable deploy/caddy's Caddyfile reads", () => {
    const caddyfile = readFileSync(join(import.meta.dirname, '../../deploy/caddy/Caddyfile'), 'utf8');
    const read = [...caddyfile.matchAll(/\{\$(WARDEN_[A-Z0-9_]+)/g)].map((m) => m[1]!);
    expect(read).toEqual(expect.arrayContaining(['WARDEN_SITE', 'WARDEN_ADDR', 'WARDEN_BIND']));
    expect(unknownVariables(Object.fromEntries(read.map((v) => [v, 'x'])))).toEqual([]);
  });

  it('are warned about once at start, and warden starts', async () => {
    const w = await startWarden({ policy: {}, env: { WARDEN_TRUSTED_PROXY: '10.0.0.0/8' } });
    try {
      const warned = w.ops.filter((l) => l.event === 'unknown_variable');
      expect(warned).toEqual([
        expect.objectContaining({
          variable: 'WARDEN_TRUSTED_PROXY',
          suggestion: 'WARDEN_TRUSTED_PROXIES',
          msg: 'not a warden variable, ignored (did you mean WARDEN_TRUSTED_PROXIES?)',
        }),
      ]);
    } finally {
      await w.close();
    }
  });
});
