// `warden explain` and `warden test` with step-up rules, run as users run them: the built CLI in dist/.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from './helpers/cli.js';
import { testDir } from './helpers/tmp.js';

const POLICY = {
  roles: { admin: ['*'], viewer: ['nodes:read'] },
  rules: [
    { match: { path: '/admin/**' }, require: ['admin:users'], authn: { amr: ['hwk', 'mfa'], maxAge: '10m' } },
    { match: { path: '/nodes/**' }, require: ['nodes:read'] },
  ],
};

function policyEnv(): Record<string, string> {
  const dir = testDir('warden-step-up-tooling-');
  writeFileSync(join(dir, 'policy.yaml'), stringify(POLICY));
  return { WARDEN_POLICY: join(dir, 'policy.yaml') };
}

const explain = (env: Record<string, string>, ...flags: string[]) =>
  runCli(['explain', '--url', 'https://app.example.com/admin/users', '--roles', 'admin', ...flags], env);

describe('warden explain with authn rules', () => {
  it('shows the requirement and what a sign-in lacks; a fresh hardware-key sign-in passes', async () => {
    const env = policyEnv();
    const old = await explain(env, '--amr', 'pwd,hwk', '--auth-time', '15m');
    expect(old.code).toBe(0);
    expect(old.stdout).toMatch(/^decision: 401 unauthenticated \(step_up_required: max_age\), rule \[0\]\n/);
    expect(old.stdout).toMatch(
      /identity: synthetic signed-in person, roles \[admin\], amr \[pwd, hwk\], signed in \d{4}-/,
    );
    expect(old.stdout).toContain(
      'step-up (authn: amr any of [hwk, mfa], signed in within 600s): NOT met (max_age)',
    );
    expect(old.stdout).toContain('note:     a browser is sent to sign in again');

    const fresh = await explain(env, '--amr', 'hwk', '--auth-time', '2m');
    expect(fresh.stdout).toMatch(/^decision: 200 allow \(permitted\), rule \[0\]\n/);
    expect(fresh.stdout).toContain('signed in within 600s): met');

    const weak = await explain(env, '--amr', 'pwd', '--auth-time', String(Math.floor(Date.now() / 1000)));
    expect(weak.stdout).toContain('(step_up_required: amr)');
  });

  it('roles alone stand for an API key, which no authn rule accepts (403, and a note on how to describe a person)', async () => {
    const r = await explain(policyEnv());
    expect(r.stdout).toMatch(/^decision: 403 forbidden \(step_up_required: not_a_user\), rule \[0\]\n/);
    expect(r.stdout).toContain('give --acr, --amr or --auth-time with --roles');
  });

  it('refuses sign-in flags it cannot read, or without --roles, with exit 2', async () => {
    const env = policyEnv();
    const bad = await explain(env, '--auth-time', 'last tuesday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--auth-time: the sign-in time must be epoch seconds, an ISO time');
    const alone = await runCli(['explain', '--url', 'https://app.example.com/admin/x', '--amr', 'hwk'], env);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('describe a signed-in person: add --roles');
  });
});

describe('warden test with authn rules', () => {
  it('judges cases with identity acr, amr and authTime, and prints an explain line carrying them', async () => {
    const env = policyEnv();
    const file = join(testDir('warden-step-up-cases-'), 'cases.yaml');
    const url = 'https://app.example.com/admin/users';
    writeFileSync(
      file,
      stringify([
        {
          name: 'a fresh hardware-key sign-in reaches the admin pages',
          request: { method: 'GET', url },
          identity: { roles: ['admin'], amr: ['pwd', 'hwk'], authTime: '5m' },
          expect: 'allow',
        },
        {
          name: 'a password-only sign-in is sent to step up',
          request: { method: 'GET', url },
          identity: { roles: ['admin'], amr: ['pwd'], authTime: '5m' },
          expect: 'deny-401',
          reason: 'step_up_required',
        },
        {
          name: 'an API key never passes',
          request: { method: 'GET', url },
          identity: { roles: ['admin'] },
          expect: 'deny-403',
          reason: 'step_up_required',
        },
        {
          name: 'deliberately wrong: an old sign-in',
          request: { method: 'GET', url },
          identity: { roles: ['admin'], amr: ['hwk'], authTime: '2h' },
          expect: 'allow',
        },
      ]),
    );
    const r = await runCli(['test', file], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  ✓ a fresh hardware-key sign-in reaches the admin pages\n');
    expect(r.stdout).toContain('  ✓ a password-only sign-in is sent to step up\n');
    expect(r.stdout).toContain('  ✓ an API key never passes\n');
    expect(r.stdout).toContain('  ✗ deliberately wrong: an old sign-in\n');
    expect(r.stdout).toContain('decision: 401 unauthenticated (step_up_required: max_age), rule [0]');
    expect(r.stdout).toContain('--roles admin --amr hwk --auth-time 2h');
    expect(r.stdout).toMatch(/\n1 failed, 3 passed \(1 file\)\n$/);
  });

  it('refuses an identity mixing a key with sign-in facts, or an unreadable authTime', async () => {
    const file = join(testDir('warden-step-up-cases-'), 'bad.yaml');
    const request = { method: 'GET', url: 'https://app.example.com/admin/users' };
    writeFileSync(
      file,
      stringify([
        { name: 'key', request, identity: { key: 'k', amr: ['hwk'] }, expect: 'allow' },
        { name: 'time', request, identity: { roles: ['admin'], authTime: 'soon' }, expect: 'allow' },
      ]),
    );
    const r = await runCli(['test', file], policyEnv());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('case [0] "key": identity: an API key has no sign-in');
    expect(r.stderr).toContain('case [1] "time": identity.authTime: authTime is epoch seconds');
  });
});
