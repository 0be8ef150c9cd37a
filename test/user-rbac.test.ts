// The suite does not depend on the user's rbac/ files: the suites that read rbac/ pass in a copy of the
// repository whose rbac/keys.yaml holds the key the README walkthrough has users paste.
import { execFile } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { makeDir, removeDir } from './helpers/tmp.js';

/** Suites that load configuration with a default (rbac/…) file or run the CLI in the repository. */
const SUITES = [
  'test/cli.test.ts',
  'test/policy-tooling.test.ts',
  'test/config/load.test.ts',
  'test/config/issuers.test.ts',
  'test/oauth2/config.test.ts',
  'test/http/claim-headers.test.ts',
];

/** What those suites read: sources, tests, the built CLI, the example files, the README they compare with. */
const NEEDED = [
  'bin',
  'src',
  'test',
  'dist',
  'rbac',
  'deploy/nginx',
  'README.md',
  'package.json',
  'tsconfig.json',
  'vitest.config.ts',
];

function node(args: string[], cwd: string, timeout: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // WARDEN_TEST_BUILT: the copy's dist/ is this run's build, so its global setup does not rebuild.
    const env = { ...process.env, WARDEN_TEST_BUILT: '1' };
    execFile(process.execPath, args, { cwd, env, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
        out: stdout + stderr,
      });
    });
  });
}

/** Apply the walkthrough's step: run its `npx warden keys create …` and paste the entry below `keys:`. */
async function pasteReadmeKey(dir: string): Promise<void> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const command = /^npx warden (keys create .+)$/m.exec(readme)?.[1];
  expect(command, 'the README walkthrough creates a key').toBeDefined();
  const created = await node([join('dist', 'cli.js'), ...command!.split(/\s+/)], dir, 20_000);
  expect(created.code, created.out).toBe(0);
  const entry = created.out.slice(created.out.indexOf('- id:'));
  const keysFile = join(dir, 'rbac', 'keys.yaml');
  const indented = entry.replace(/^(?=.)/gm, '  ');
  writeFileSync(keysFile, readFileSync(keysFile, 'utf8').replace(/^keys:.*\n/m, `keys:\n${indented}`));
}

describe("the user's rbac/ files", () => {
  it('do not change the outcome of the suites that read rbac/', async () => {
    const dir = makeDir('warden-user-rbac-');
    try {
      for (const path of NEEDED) cpSync(join(ROOT, path), join(dir, path), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      await pasteReadmeKey(dir);
      const check = await node([join('dist', 'cli.js'), 'check'], dir, 20_000);
      expect(check.out).toMatch(/^ {2}agent-1 roles \[developer\] no expiry$/m);
      const vitest = join('node_modules', 'vitest', 'vitest.mjs');
      const r = await node([vitest, 'run', '--reporter=dot', '--maxWorkers=1', ...SUITES], dir, 280_000);
      expect(r.code, r.out.slice(-6000)).toBe(0);
    } finally {
      removeDir(dir);
    }
  }, 300_000);
});
