// Run the built `warden` CLI (dist/cli.js) as a user does, with its exit code and both outputs.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

/**
 * An empty keys file. The CLI's default, rbac/keys.yaml, is the user's to edit (the README walkthrough
 * pastes a key into it), so every CLI run points WARDEN_API_KEYS here unless the test names its own.
 */
export const NO_KEYS = join(ROOT, 'test', 'fixtures', 'no-keys.yaml');

/** What a finished command gave. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `node <args>` in `cwd` with only PATH, `WARDEN_API_KEYS` ({@link NO_KEYS}) and `env` set. */
export function runNode(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      args,
      { cwd, env: { PATH: process.env.PATH, WARDEN_API_KEYS: NO_KEYS, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

/** Run `warden <args>` in the repository root; see {@link runNode}. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return runNode([CLI, ...args], ROOT, env, input);
}
