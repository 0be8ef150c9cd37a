// A vitest reporter that ends a run with one line naming the suites skipped for missing software
// (test/e2e/harness/process.ts describeNeeding) and what to install to run them.
import type { UserConsoleLog } from 'vitest';
import type { Reporter } from 'vitest/node';

/** The `apt-get install …` packages a skip message names, or its first word (the missing binary). */
function packagesOf(message: string): string[] {
  const install = /apt-get install ([\w .+-]+)\)/.exec(message)?.[1];
  return install ? install.trim().split(/\s+/) : [message.split(/[\s/]/)[0] ?? message];
}

/** Collects `SKIPPED <suite>: <why>` lines from the workers; prints them as one line at the end. */
export default class SkippedSuites implements Reporter {
  private readonly suites = new Set<string>();
  private readonly packages = new Set<string>();

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line)) {}

  onUserConsoleLog(log: UserConsoleLog): void {
    const m = /^SKIPPED (.+?): (.+)$/m.exec(log.content);
    if (!m) return;
    this.suites.add(m[1]!);
    for (const p of packagesOf(m[2]!)) this.packages.add(p);
  }

  onTestRunEnd(): void {
    if (this.suites.size === 0) return;
    this.write(
      `\nskipped ${this.suites.size} suite${this.suites.size === 1 ? '' : 's'} (${[...this.suites].join(', ')}): ` +
        `apt-get install ${[...this.packages].sort().join(' ')} to run them (with CI=true they fail instead)\n`,
    );
  }
}
