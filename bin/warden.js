#!/usr/bin/env node
// The `warden` bin: runs the built CLI, dist/cli.js. In a source checkout that has not been built yet
// (right after `npm ci`), it builds dist/ first, so `npx warden …` works as the README says.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'cli.js');
if (!existsSync(cli)) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(join(root, 'src')) || !existsSync(tsc)) {
    process.stderr.write(`warden: ${cli} is missing: run \`npm run build\` first\n`);
    process.exit(1);
  }
  process.stderr.write('warden: dist/ is not built yet, building it (npm run build)…\n');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch {
    process.stderr.write('warden: the build failed; fix it and run `npm run build`\n');
    process.exit(1);
  }
}
await import(pathToFileURL(cli).href);
