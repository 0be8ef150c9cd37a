// Build dist/ once before any test: the CLI, shutdown and tooling suites run the built JS as users do.
// (Each suite building it in its own beforeAll raced: one tsc rewrote dist/ while another suite ran it.)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  if (process.env.WARDEN_TEST_BUILT === '1') return;
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], {
    cwd: join(import.meta.dirname, '..'),
    stdio: 'inherit',
  });
  process.env.WARDEN_TEST_BUILT = '1';
}
