import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hashKey } from '../src/auth/apikey.js';
import { send } from './helpers/http.js';
import { redisDescribe, startRedis, within, type RedisServer } from './helpers/redis.js';
import { testDir } from './helpers/tmp.js';
import { startWarden, testKey, type TestWarden } from './helpers/warden.js';
import { ifStarted } from './helpers/hooks.js';
import { CLI, NO_KEYS, ROOT, runCli, runNode } from './helpers/cli.js';
import { USAGE } from '../src/tooling/usage.js';

const warden = runCli;

// The CLI is tested as users run it: built JS (dist/ is built once by test/global-setup.ts).

describe('warden CLI', () => {
  it('check lists sign-in (providers, dev users) and refuses dev users in production with exit 2', async () => {
    const env = {
      WARDEN_OIDC_PROVIDERS: JSON.stringify([
        {
          id: 'kc',
          issuer: 'https://sso.example.com/realms/acme',
          clientId: 'warden',
          clientSecret: 'do-not-print-me',
        },
      ]),
      WARDEN_PUBLIC_URL: 'https://auth.example.com',
      WARDEN_SESSION_SECRET: 's'.repeat(40),
      WARDEN_DEV_USERS: 'rbac/dev-users.yaml',
    };
    const ok = await warden(['check'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('sign-in at https://auth.example.com/oauth2/login');
    expect(ok.stdout).toContain('provider kc: https://sso.example.com/realms/acme client warden');
    expect(ok.stdout).toContain('dev user analyst [analyst]');
    expect(ok.stdout + ok.stderr).not.toContain('do-not-print-me');
    const prod = await warden(['check'], { ...env, NODE_ENV: 'production' });
    expect(prod.code).toBe(2);
    expect(prod.stderr).toContain(
      'env WARDEN_DEV_USERS: dev users have published demo passwords and are refused when NODE_ENV=production',
    );
  });

  it('keys create prints a wdn_ key once and an entry whose hash matches it', async () => {
    const r = await warden([
      'keys',
      'create',
      '--id',
      'agent-1',
      '--roles',
      'developer,viewer',
      '--expires',
      '2027-06-30T00:00:00Z',
    ]);
    expect(r.code).toBe(0);
    const key = /key \(shown once, store it now\): (wdn_[A-Za-z0-9_-]{43})\n/.exec(r.stdout)?.[1];
    expect(key).toBeDefined();
    const entry = parse(r.stdout.slice(r.stdout.indexOf('# add to'))) as Record<string, unknown>[];
    expect(entry[0]).toEqual({
      id: 'agent-1',
      sha256: hashKey(key!),
      roles: ['developer', 'viewer'],
      expires: '2027-06-30T00:00:00.000Z',
    });
  });

  it('keys hash hashes an existing key', async () => {
    const r = await warden(['keys', 'hash', 'my-old-key']);
    expect(r.stdout.trim()).toBe(`sha256: ${hashKey('my-old-key')}`);
  });

  it('check prints a summary of the example policy', async () => {
    const r = await warden(['check'], {}, undefined);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/rules \(8\), first match wins; default: deny/);
    expect(r.stdout).toContain('configuration OK');
  });

  it('check lists keys with their expiry', async () => {
    const dir = testDir('warden-cli-');
    writeFileSync(
      join(dir, 'keys.yaml'),
      `keys:\n  - id: old\n    sha256: ${'a'.repeat(64)}\n    roles: [viewer]\n    expires: 2020-01-01T00:00:00Z\n`,
    );
    const r = await warden(['check'], { WARDEN_API_KEYS: join(dir, 'keys.yaml') });
    expect(r.stdout).toMatch(/old roles \[viewer\] EXPIRED 2020-01-01/);
  });

  it('exits 2 listing every problem with its source and path, no stack trace', async () => {
    const dir = testDir('warden-cli-');
    writeFileSync(
      join(dir, 'policy.yaml'),
      'rules:\n  - match: { path: /a }\n    rateLimit: nope\n  - match: { path: /b }\n    require: 7\n',
    );
    for (const cmd of [['check'], ['serve']]) {
      const r = await warden(cmd, {
        WARDEN_POLICY: join(dir, 'policy.yaml'),
        PORT: 'x',
        WARDEN_API_KEYS: join(dir, 'missing.yaml'),
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('env PORT: must be a port number (0–65535), got "x"');
      expect(r.stderr).toMatch(/policy\.yaml \(WARDEN_POLICY\): rules\[0\]\.rateLimit: /);
      expect(r.stderr).toMatch(/policy\.yaml \(WARDEN_POLICY\): rules\[1\]\.require: /);
      expect(r.stderr).toMatch(/missing\.yaml \(WARDEN_API_KEYS\): file not found/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("recipe prints the proxy lines for the policy's header names", async () => {
    const policy = JSON.stringify({ headers: { preset: 'authelia', extra: { 'X-Tenant': 'tenant_id' } } });
    const traefik = await warden(['recipe', 'traefik'], { WARDEN_POLICY: policy });
    expect(traefik.stdout).toContain(
      'authResponseHeaders:\n  - Remote-User\n  - Remote-Groups\n  - Remote-Name\n  - Remote-Email\n  - X-Auth-Method\n  - X-Tenant\n  - X-Warden-Assertion\n',
    );
    const ingress = await warden(['recipe', 'ingress-nginx'], { WARDEN_POLICY: policy });
    expect(ingress.stdout).toBe(
      'nginx.ingress.kubernetes.io/auth-response-headers: Remote-User,Remote-Groups,Remote-Name,Remote-Email,X-Auth-Method,X-Tenant,X-Warden-Assertion\n',
    );
    const caddy = await warden(['recipe', 'caddy'], { WARDEN_POLICY: policy });
    expect(caddy.stdout).toContain(
      'copy_headers Remote-User Remote-Groups Remote-Name Remote-Email X-Auth-Method X-Tenant\n',
    );
    const nginx = await warden(['recipe', 'nginx'], { WARDEN_POLICY: policy });
    expect(nginx.stdout).toMatch(/^auth_request_set \$warden_user_id +\$upstream_http_remote_user;$/m);
    expect(nginx.stdout).toMatch(/^proxy_set_header X-User-ID +"";$/m);
    expect((await warden(['recipe', 'haproxy'])).code).toBe(2);
  });

  it('prints its version, and help for every command without running it', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await warden(['--version'])).toEqual({ code: 0, stdout: `warden ${version}\n`, stderr: '' });
    const commands = [
      ['serve'],
      ['check'],
      ['explain'],
      ['test'],
      ['recipe'],
      ['schema'],
      ['keys', 'create'],
      ['keys', 'rotate'],
      ['keys', 'hash'],
      ['keys', 'revoke'],
      ['keys', 'unrevoke'],
      ['keys', 'revocations'],
      ['audit', 'verify'],
    ];
    for (const cmd of commands) {
      // serve --help returns at once: a server would print its port on stderr and never exit.
      const r = await warden([...cmd, '--help'], { PORT: '0' });
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^usage: warden ${cmd.join(' ')}`));
    }
    expect((await warden(['keys', 'hash', '-h'])).stdout).not.toMatch(/^sha256: /m);
    expect((await warden(['keys', 'hash', '--', '--help'])).stdout).toBe(`sha256: ${hashKey('--help')}\n`);
    expect((await warden(['help'])).stdout).toMatch(/^usage: warden <command>/);
  }, 120_000);

  it('refuses unknown arguments to every command with exit 2, naming them', async () => {
    const wrong: [string[], string][] = [
      [['serve', '--port', '9'], "Unknown option '--port'"],
      [['serve', 'now'], "Unexpected argument 'now'"],
      [['check', '--strcit'], "Unknown option '--strcit'"],
      [['explain', '--url', 'https://a.example/', '--rolse', 'x'], "Unknown option '--rolse'"],
      [['test', '--verbose'], 'unknown option --verbose'],
      [['recipe', 'nginx', 'extra'], 'usage: warden recipe'],
      [['schema', 'rbac'], "Unexpected argument 'rbac'"],
      [['keys', 'create', '--id', 'a', '--role', 'x'], "Unknown option '--role'"],
      [['keys', 'hash', 'a', 'b'], 'give one key'],
      [['keys', 'revocations', 'all'], 'takes no argument'],
      [['keys', 'list'], 'unknown command "keys list"'],
      [['audit', 'verify', '--jwsk', 'x'], "Unknown option '--jwsk'"],
      [['audit', 'verify'], 'name at least one audit file'],
      [['audit', 'list'], 'unknown command "audit list"'],
    ];
    for (const [args, message] of wrong) {
      const r = await warden(args, { PORT: '0' });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(message);
    }
  }, 120_000);

  it('runs as the package bin, and says how to build when dist/ is missing', async () => {
    const bin = join(ROOT, 'bin', 'warden.js');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { warden: string } };
    expect(pkg.bin.warden).toBe('bin/warden.js');
    const r = await runNode([bin, '--version'], ROOT);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^warden \d/) });
    // An install without sources (a package): no build possible, so it says what to run.
    const dir = testDir('warden-bin-');
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const missing = await runNode([join(dir, 'bin', 'warden.js'), '--version'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('is missing: run `npm run build` first');
  }, 60_000);

  it('keys create refuses roles and limits the policy lacks, bad networks, and an id already taken', async () => {
    const dir = testDir('warden-cli-');
    writeFileSync(
      join(dir, 'keys.yaml'),
      `keys:\n  - { id: agent-1, sha256: ${'a'.repeat(64)}, roles: [viewer] }\n`,
    );
    const env = { WARDEN_API_KEYS: join(dir, 'keys.yaml') };
    const r = await warden(
      [
        'keys',
        'create',
        '--id',
        'agent-1',
        '--roles',
        'develper,viewer',
        '--rate-limit',
        'apii',
        '--networks',
        '10.0.0.0/33',
      ],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'warden keys create: --roles: "develper" is not a role of the policy (did you mean developer?); roles: admin, developer, analyst, viewer\n',
    );
    expect(r.stderr).toContain('--rate-limit: "apii" is not a rate limit of the policy (did you mean api?)');
    expect(r.stderr).toContain('--networks: "10.0.0.0/33"');
    expect(r.stderr).toContain(`--id: "agent-1" is already in ${join(dir, 'keys.yaml')}`);
    expect((await warden(['keys', 'create', '--id', 'agent-2', '--roles', 'developer'], env)).code).toBe(0);
  }, 60_000);

  it('keys rotate prints a new key for the same id, keeping the old one until the grace ends', async () => {
    const dir = testDir('warden-cli-');
    const old = hashKey('wdn_the_old_key');
    writeFileSync(
      join(dir, 'keys.yaml'),
      `keys:\n  - { id: agent-1, name: Agent One, sha256: ${old}, roles: [developer], rateLimit: api }\n`,
    );
    const env = { WARDEN_API_KEYS: join(dir, 'keys.yaml') };
    const before = Date.now();
    const r = await warden(['keys', 'rotate', '--id', 'agent-1', '--grace', '24h'], env);
    expect(r.code, r.stderr).toBe(0);
    const key = /key \(shown once, store it now\): (wdn_[A-Za-z0-9_-]{43})\n/.exec(r.stdout)?.[1];
    expect(key).toBeDefined();
    expect(r.stdout).toMatch(
      /# replace the entry of agent-1 in .*keys\.yaml with this one: the old key works until /,
    );
    const [entry] = parse(r.stdout.slice(r.stdout.indexOf('# replace'))) as Record<string, unknown>[];
    expect(entry).toMatchObject({
      id: 'agent-1',
      name: 'Agent One',
      sha256: hashKey(key!),
      roles: ['developer'],
      rateLimit: 'api',
      previous: [{ sha256: old }],
    });
    const ends = Date.parse((entry!.previous as { expires: string }[])[0]!.expires);
    expect(ends - before).toBeGreaterThanOrEqual(24 * 3_600_000);
    expect(ends - before).toBeLessThan(24 * 3_600_000 + 60_000);
    // The printed entry is a valid keys file entry: pasted in place of the old one, check lists it.
    writeFileSync(
      join(dir, 'keys.yaml'),
      `keys:\n${r.stdout.slice(r.stdout.indexOf('- id:')).replace(/^/gm, '  ')}`,
    );
    const check = await warden(['check'], env);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/agent-1 roles \[developer\] no expiry previous key until /);
    const unknown = await warden(['keys', 'rotate', '--id', 'agent-9'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no key "agent-9"');
    expect((await warden(['keys', 'rotate', '--id', 'agent-1', '--grace', 'soon'], env)).code).toBe(2);
  }, 60_000);

  it('check warns about unknown WARDEN_* variables with the closest known name', async () => {
    const r = await warden(['check'], { WARDEN_TRUSTED_PROXY: '10.0.0.0/8' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '  warning: env WARDEN_TRUSTED_PROXY: not a warden variable, ignored (did you mean WARDEN_TRUSTED_PROXIES?)\n',
    );
    const strict = await warden(['check', '--strict'], { WARDEN_TRUSTED_PROXY: '10.0.0.0/8' });
    expect(strict.code).toBe(1);
  });

  it("README's command list names every command and option of the usage", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const list = /## Commands\n\n```\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    const commands = [...USAGE.matchAll(/^ {2}((?:keys )?[a-z]+)\b/gm)].map((m) => m[1]!);
    expect(commands).toContain('keys rotate');
    for (const c of commands) expect(list, c).toContain(`warden ${c}`);
    for (const option of new Set(USAGE.match(/--[a-z-]+/g))) expect(readme, option).toContain(option);
  });

  it('check and explain write a rule the same way', async () => {
    const check = await warden(['check']);
    const explain = await warden(['explain', '--url', 'https://api.example.com/nowhere', '--roles', 'admin']);
    const checked = [...check.stdout.matchAll(/^ {2}(\[\d+\] .+?)(?: networks \S+)?(?: limit \S+)?$/gm)].map(
      (m) => m[1],
    );
    const traced = [...explain.stdout.matchAll(/^ {2}(\[\d+\] .+?): [✓✗]/gm)].map((m) => m[1]);
    expect(checked).toHaveLength(8);
    expect(traced).toEqual(checked);
  }, 60_000);

  it('refuses unknown commands with usage and exit 2', async () => {
    const r = await warden(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage: warden');
  });
});

/**
 * `warden serve` as a child process on an ephemeral port; resolves once it listens. Its state dir is
 * the test's own (the default, ./.state, would be left in the working tree).
 */
async function serveCli(env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      WARDEN_API_KEYS: NO_KEYS,
      WARDEN_STATE_DIR: testDir('warden-cli-state-'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /"port":(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(err)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, port, exited, stderr: () => err };
}

describe('warden serve', () => {
  it('serves, then on SIGTERM stops accepting, finishes and exits 0', async () => {
    const w = await serveCli({});
    const health = await fetch(`http://127.0.0.1:${w.port}/healthz`);
    expect(health.status).toBe(200);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.stderr()).toContain('"event":"stopped"');
  });

  it('on SIGHUP re-reads the assertion key file and keeps serving', async () => {
    const pem = (curve: string) =>
      generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      }) as string;
    const dir = testDir('warden-cli-hup-');
    const keyFile = join(dir, 'assertion.pem');
    writeFileSync(keyFile, pem('prime256v1'));
    const w = await serveCli({ WARDEN_ASSERTION_KEY: keyFile });
    const algs = async () =>
      (
        (await (await fetch(`http://127.0.0.1:${w.port}/.well-known/jwks.json`)).json()) as {
          keys: { alg: string }[];
        }
      ).keys.map((k) => k.alg);
    try {
      expect(await algs()).toEqual(['ES256']);
      writeFileSync(keyFile, pem('secp384r1'));
      w.child.kill('SIGHUP');
      await within(5000, async () => (await algs())[0] === 'ES384');
      expect(await algs()).toEqual(['ES384', 'ES256']); // the old key stays published until its tokens expire
      expect(w.stderr()).toContain('"event":"assertion_key_rotated"');
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
    } finally {
      w.child.kill('SIGTERM');
    }
  });
});

describe('warden keys revoke', () => {
  const policy = {
    roles: { dev: ['api:read'] },
    rules: [{ match: { path: '/api/**' }, require: ['api:read'] }],
  };
  const victim = testKey('victim-1', ['dev']);
  const ask = (w: TestWarden) =>
    send(`${w.url}/verify/traefik`, {
      headers: {
        'X-Forwarded-Method': 'GET',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'a',
        'X-Forwarded-Uri': '/api/x',
        'X-Forwarded-For': '203.0.113.1',
        'X-API-Key': victim.key,
      },
    }).then((r) => r.status);

  it('without Redis: writes the state dir, the running server refuses the key, and a restart keeps it revoked', async () => {
    // The second warden restarts from the first one's state dir: the test owns the dir, not the first warden.
    const w = await startWarden({ policy, keys: [victim.entry], dir: testDir('warden-cli-') });
    const stateDir = join(w.dir, 'state');
    try {
      expect(await ask(w)).toBe(200);
      const r = await warden(['keys', 'revoke', 'victim-1', '--reason', 'laptop stolen'], {
        WARDEN_STATE_DIR: stateDir,
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('key victim-1 revoked');
      await within(3000, async () => (await ask(w)) === 401);
      expect(w.audit.at(-1)).toMatchObject({ cause: 'revoked', keyId: 'victim-1' });
      const list = await warden(['keys', 'revocations'], { WARDEN_STATE_DIR: stateDir });
      expect(list.stdout).toMatch(/key victim-1 reason="laptop stolen"/);
    } finally {
      await w.close();
    }
    const again = await startWarden({ policy, keys: [victim.entry], env: { WARDEN_STATE_DIR: stateDir } });
    try {
      expect(await ask(again)).toBe(401);
      expect(
        (await warden(['keys', 'unrevoke', 'victim-1'], { WARDEN_STATE_DIR: stateDir })).stdout,
      ).toContain('lifted');
      await within(3000, async () => (await ask(again)) === 200);
    } finally {
      await again.close();
    }
  });

  it('revokes a token id and a subject with --type; check lists the JWT issuers', async () => {
    const stateDir = testDir('warden-cli-');
    const t = await warden(['keys', 'revoke', 'tok-9', '--type', 'token', '--reason', 'leaked'], {
      WARDEN_STATE_DIR: stateDir,
    });
    expect(t.stdout).toContain('token id (jti) tok-9 revoked');
    const s = await warden(['keys', 'revoke', 'mallory', '--type', 'subject'], {
      WARDEN_STATE_DIR: stateDir,
    });
    expect(s.stdout).toContain('subject mallory (its tokens issued until now) revoked');
    const list = await warden(['keys', 'revocations'], { WARDEN_STATE_DIR: stateDir });
    expect(list.stdout).toMatch(/^token tok-9 reason="leaked"/m);
    expect(list.stdout).toMatch(/^subject mallory since/m);
    expect(
      (await warden(['keys', 'revoke', 'x', '--type', 'session'], { WARDEN_STATE_DIR: stateDir })).code,
    ).toBe(2);
    const issuers = JSON.stringify([
      { issuer: 'https://login.example.com/realms/acme', audience: 'api', rolesClaim: 'realm_access.roles' },
    ]);
    const c = await warden(['check'], { WARDEN_JWT_ISSUERS: issuers });
    expect(c.stdout).toContain('JWT issuers (1), roles from claim groups:');
    expect(c.stdout).toContain(
      '  https://login.example.com/realms/acme audience api keys by discovery algorithms any asymmetric roles from realm_access.roles tolerance 30s',
    );
  });

  it('refuses a past --expires and a missing id', async () => {
    const stateDir = testDir('warden-cli-');
    expect(
      (
        await warden(['keys', 'revoke', 'x', '--expires', '2001-01-01T00:00:00Z'], {
          WARDEN_STATE_DIR: stateDir,
        })
      ).code,
    ).toBe(2);
    expect((await warden(['keys', 'revoke'], { WARDEN_STATE_DIR: stateDir })).code).toBe(2);
  });

  redisDescribe('with Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => ifStarted(redis)?.stop());

    it('reaches every running replica', async () => {
      const w = await startWarden({ policy, keys: [victim.entry], env: { REDIS_URL: redis.url } });
      try {
        expect(await ask(w)).toBe(200);
        const r = await warden(['keys', 'revoke', 'victim-1', '--expires', '1h'], { REDIS_URL: redis.url });
        expect(r.stdout).toContain('every replica sharing this Redis');
        await within(1000, async () => (await ask(w)) === 401);
      } finally {
        await w.close();
      }
    });
  });
});
