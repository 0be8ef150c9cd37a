import { describe, expect, it } from 'vitest';
import SkippedSuites from './helpers/skipped-reporter.js';

describe('the skipped-suites line', () => {
  it('names every skipped suite and the packages to install, once, at the end', () => {
    const out: string[] = [];
    const r = new SkippedSuites((line) => out.push(line));
    const log = (content: string) => r.onUserConsoleLog({ content, type: 'stderr', time: 0, size: 1 });
    log(
      'SKIPPED nginx recipe (e2e): nginx is not installed: the nginx end-to-end tests cannot run (install it, e.g. apt-get install nginx)\n',
    );
    log(
      'SKIPPED Redis store: redis-server/redis-cli are not installed: the Redis tests cannot run (apt-get install redis-server)\n',
    );
    log(
      'SKIPPED browser sign-in: caddy and chromium not installed: the browser sign-in tests cannot run (apt-get install caddy chromium)\n',
    );
    log('an unrelated line\n');
    r.onTestRunEnd();
    expect(out).toEqual([
      '\nskipped 3 suites (nginx recipe (e2e), Redis store, browser sign-in): apt-get install caddy chromium nginx redis-server to run them (with CI=true they fail instead)\n',
    ]);
    const quiet: string[] = [];
    new SkippedSuites((line) => quiet.push(line)).onTestRunEnd();
    expect(quiet).toEqual([]);
  });
});
