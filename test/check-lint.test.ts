import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testDir } from './helpers/tmp.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'dist', 'cli.js');

async function warden(args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    timeout: 20_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: unknown) => {
      // execFile rejects with the exit code and both outputs on the error.
      const failed = e as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    },
  );
}

/** Write a policy and a keys file to a fresh directory (removed after the test); returns the env pointing at them. */
function files(policy: string, keys = 'keys: []\n'): Record<string, string> {
  const dir = testDir('warden-lint-');
  writeFileSync(join(dir, 'policy.yaml'), policy);
  writeFileSync(join(dir, 'keys.yaml'), keys);
  return { WARDEN_POLICY: join(dir, 'policy.yaml'), WARDEN_API_KEYS: join(dir, 'keys.yaml') };
}

const LINTY = `
roles:
  dev: ["api:*"]
  auditor: ["audit:read"]
rules:
  - match: { path: /docs/** }
    public: true
  - match: { path: /docs/private/* }
    require: [docs:private]
  - match: { path: /api/** }
    require: [api:read]
`;

// The CLI is tested as users run it: built JS (dist/ is built once by test/global-setup.ts).

describe('warden check lint', () => {
  it('prints every warning with its path and still exits 0', async () => {
    const r = await warden(['check'], files(LINTY));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('warnings (4):');
    expect(r.stdout).toContain(
      '  warning: rules[1]: never matches: shadowed by rules[0] (public) (same or wider host, methods and path)',
    );
    expect(r.stdout).toContain(
      '  warning: rules[0]: public rule covers later protected rules[1]: every request rules[1] matches is public (first match wins)',
    );
    expect(r.stdout).toContain(
      '  warning: roles.auditor: grants none of the permissions any rule requires, so holding it changes no decision',
    );
    expect(r.stdout).toContain(
      '  warning: rules[1].require[0]: permission "docs:private" is granted by no role',
    );
    expect(r.stdout).toMatch(/configuration OK, with 4 warnings\n$/);
  });

  it('--strict turns warnings into exit 1', async () => {
    const r = await warden(['check', '--strict'], files(LINTY));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('warden: 4 lint warnings (--strict)\n');
    expect(r.stdout).not.toContain('configuration OK');
  });

  it('--strict passes the example policy, which has no warnings', async () => {
    const r = await warden(['check', '--strict']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('warning');
    expect(r.stdout).toMatch(/configuration OK\n$/);
  });

  it('warns about default: authenticated with no rules', async () => {
    const r = await warden(['check'], files('default: authenticated\n'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('warning: default: default: authenticated with no rules');
  });

  it('fails with the index of a rule naming an undefined rate limit, and of a key or claim mapping naming an undefined role', async () => {
    const env = files(
      'roles: { dev: [x] }\nclaims: { map: { idp-ops: ops } }\nrateLimits: { api: { limit: 1, window: 1s } }\nrules:\n  - match: { path: /a }\n    rateLimit: api\n  - match: { path: /b }\n    rateLimit: nope\n',
      `keys:\n  - id: k1\n    sha256: ${'b'.repeat(64)}\n    roles: [dev, ghost]\n`,
    );
    const r = await warden(['check'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('rules[1].rateLimit: rate limit "nope" is not defined in rateLimits');
    expect(r.stderr).toContain('claims.map.idp-ops: role "ops" is not defined in roles');
    expect(r.stdout).toBe('');
  });

  it('a key naming an undefined role fails with the key index', async () => {
    const env = files(
      'roles: { dev: [x] }\nrules:\n  - match: { path: /a }\n    require: [x]\n',
      `keys:\n  - id: k1\n    sha256: ${'b'.repeat(64)}\n    roles: [dev, ghost]\n`,
    );
    const r = await warden(['check'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('keys[0].roles[1]: role "ghost" is not defined in the policy\'s roles');
  });

  it('rejects an unknown option', async () => {
    const r = await warden(['check', '--stric']);
    expect(r.code).toBe(2);
  });
});
