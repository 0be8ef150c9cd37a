import { defineConfig } from 'vitest/config';

// Suites that measure latency run alone, after everything else: on 2 cores, a parallel suite's
// load would otherwise show up as their latency.
const TIMING = ['test/redis/slow.test.ts', 'test/audit/slow-webhook.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    globalSetup: ['test/global-setup.ts'],
    hookTimeout: 60_000,
    // e2e suites start real nginx, Caddy and Redis on ephemeral ports; keep them from starving each other on 2 cores.
    maxWorkers: 2,
    reporters: [
      'default',
      ['json', { outputFile: 'test-results.json' }],
      './test/helpers/skipped-reporter.ts',
    ],
    // oidc-provider prints development NOTICE blocks (dev interactions, memory adapter) that the test IdP means to use.
    onConsoleLog: (log) => !log.startsWith('oidc-provider NOTICE:'),
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: TIMING, sequence: { groupOrder: 0 } },
      },
      { extends: true, test: { name: 'timing', include: TIMING, sequence: { groupOrder: 1 } } },
    ],
  },
});
