// Start a real warden in-process on an ephemeral port, with temp policy/keys files and captured logs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { hashKey } from '../../src/auth/apikey.js';
import { start, type Running } from '../../src/main.js';
import type { Clock } from '../../src/util/clock.js';
import { makeDir, removeDir } from './tmp.js';

/** One parsed JSON log line (audit or ops): untyped, so each test reads the fields it expects. */
export type LogLine = Record<string, unknown>;

/** A running warden for tests. */
export interface TestWarden extends Running {
  url: string;
  /** Where policy.yaml, keys.yaml and state/ are; removed by close() unless the test passed it in. */
  dir: string;
  policyPath: string;
  keysPath: string;
  /** Parsed audit lines so far. */
  audit: LogLine[];
  ops: LogLine[];
  /** Replace the policy file (hot reload picks it up). */
  writePolicy(policy: unknown): void;
}

/** A key and its entry for the keys file. */
export function testKey(
  id: string,
  roles: string[],
  extra: Record<string, unknown> = {},
): { key: string; entry: Record<string, unknown> } {
  const key = `wdn_test_${id}_${'x'.repeat(20)}`;
  return { key, entry: { id, sha256: hashKey(key), roles, ...extra } };
}

function lines(into: LogLine[]): Writable {
  let buf = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) into.push(JSON.parse(line));
      }
      cb();
    },
  });
}

/**
 * Start warden with the given policy and key entries; env overrides are merged; `clock` for a FakeClock.
 * `close()` stops it, then removes the temp dir it made. A test that uses the dir after close (a restart
 * from the same state dir, a file read afterwards) passes its own `dir`, which warden leaves for it to remove.
 */
export async function startWarden(opts: {
  policy: unknown;
  keys?: Record<string, unknown>[];
  env?: Record<string, string>;
  clock?: Clock;
  dir?: string;
}): Promise<TestWarden> {
  const dir = opts.dir ?? makeDir('warden-test-');
  const cleanUp = () => {
    if (opts.dir === undefined) removeDir(dir);
  };
  const policyPath = join(dir, 'policy.yaml');
  const keysPath = join(dir, 'keys.yaml');
  const audit: LogLine[] = [];
  const ops: LogLine[] = [];
  let running: Running;
  try {
    writeFileSync(policyPath, stringify(opts.policy));
    writeFileSync(keysPath, stringify({ keys: opts.keys ?? [] }));
    running = await start(
      {
        HOST: '127.0.0.1',
        PORT: '0',
        WARDEN_POLICY: policyPath,
        WARDEN_API_KEYS: keysPath,
        WARDEN_STATE_DIR: join(dir, 'state'),
        LOG_LEVEL: 'info',
        ...opts.env,
      },
      { auditDestination: lines(audit), opsDestination: lines(ops), clock: opts.clock },
    );
  } catch (e) {
    cleanUp();
    throw e;
  }
  return {
    ...running,
    async close() {
      try {
        await running.close();
      } finally {
        cleanUp();
      }
    },
    url: `http://127.0.0.1:${running.port}`,
    dir,
    policyPath,
    keysPath,
    audit,
    ops,
    writePolicy: (p) => writeFileSync(policyPath, typeof p === 'string' ? p : stringify(p)),
  };
}
