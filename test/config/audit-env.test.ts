import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';

function problems(vars: Record<string, string>): string[] {
  try {
    loadEnv(vars);
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message.split('\n');
  }
}

describe('audit and metrics variables', () => {
  it('defaults: stdout only, every allow, metrics on the main port', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      WARDEN_AUDIT_SINKS: ['stdout'],
      WARDEN_AUDIT_ALLOW_SAMPLE: 1,
      WARDEN_AUDIT_FILE_MAX_SIZE: 100 * 1024 * 1024,
      WARDEN_AUDIT_FILE_KEEP: 5,
      WARDEN_AUDIT_WEBHOOK_BATCH: 500,
      WARDEN_AUDIT_WEBHOOK_INTERVAL: 1,
      WARDEN_METRICS: true,
    });
    expect(env.WARDEN_METRICS_PORT).toBeUndefined();
  });

  it('parses sink lists, none, sizes and durations', () => {
    expect(loadEnv({ WARDEN_AUDIT_SINKS: 'none' }).WARDEN_AUDIT_SINKS).toEqual([]);
    const env = loadEnv({
      WARDEN_AUDIT_SINKS: ' file , webhook,file',
      WARDEN_AUDIT_FILE: '/var/log/a.jsonl',
      WARDEN_AUDIT_FILE_MAX_SIZE: '64MiB',
      WARDEN_AUDIT_WEBHOOK_URL: 'https://siem.example.com/in',
      WARDEN_AUDIT_WEBHOOK_INTERVAL: '250ms',
      WARDEN_AUDIT_WEBHOOK_AUTH_HEADER: 'Authorization: Splunk abc',
    });
    expect(env.WARDEN_AUDIT_SINKS).toEqual(['file', 'webhook']);
    expect(env.WARDEN_AUDIT_FILE_MAX_SIZE).toBe(64 * 1024 * 1024);
    expect(env.WARDEN_AUDIT_WEBHOOK_INTERVAL).toBe(0.25);
  });

  it('reports every bad value at once, each with its variable', () => {
    const p = problems({
      WARDEN_AUDIT_SINKS: 'stdout,syslog',
      WARDEN_AUDIT_ALLOW_SAMPLE: '1.5',
      WARDEN_AUDIT_FILE_MAX_SIZE: '12 parsecs',
      WARDEN_AUDIT_WEBHOOK_URL: 'ftp://x',
      WARDEN_AUDIT_WEBHOOK_AUTH_HEADER: 'Authorization: a\nb',
    });
    expect(p.map((l) => l.split(':')[0])).toEqual([
      'env WARDEN_AUDIT_SINKS',
      'env WARDEN_AUDIT_ALLOW_SAMPLE',
      'env WARDEN_AUDIT_FILE_MAX_SIZE',
      'env WARDEN_AUDIT_WEBHOOK_URL',
      'env WARDEN_AUDIT_WEBHOOK_AUTH_HEADER',
    ]);
  });

  it('requires the variable a sink needs, and a metrics port other than PORT', () => {
    expect(
      problems({ WARDEN_AUDIT_SINKS: 'file,webhook', PORT: '9000', WARDEN_METRICS_PORT: '9000' }),
    ).toEqual([
      'env WARDEN_AUDIT_FILE: required with the file sink (WARDEN_AUDIT_SINKS)',
      'env WARDEN_AUDIT_WEBHOOK_URL: required with the webhook sink (WARDEN_AUDIT_SINKS)',
      'env WARDEN_METRICS_PORT: must differ from PORT (leave it unset to serve /metrics on PORT)',
    ]);
  });

  it('checkpoints by count, duration or both; rotation, compression and retention of the file', () => {
    expect(loadEnv({}).WARDEN_AUDIT_CHECKPOINT).toEqual({ lines: 1000, ms: 60_000 });
    expect(loadEnv({ WARDEN_AUDIT_CHECKPOINT: '50' }).WARDEN_AUDIT_CHECKPOINT).toEqual({
      lines: 50,
      ms: null,
    });
    expect(loadEnv({ WARDEN_AUDIT_CHECKPOINT: '5m' }).WARDEN_AUDIT_CHECKPOINT).toEqual({
      lines: null,
      ms: 300_000,
    });
    expect(loadEnv({ WARDEN_AUDIT_CHECKPOINT: '10s, 200' }).WARDEN_AUDIT_CHECKPOINT).toEqual({
      lines: 200,
      ms: 10_000,
    });
    for (const bad of ['', '0', '60s,120s', 'hourly', '1000,60'])
      expect(problems({ WARDEN_AUDIT_CHECKPOINT: bad })[0], bad).toMatch(
        /^env WARDEN_AUDIT_CHECKPOINT: .* is not a line count, a duration with its unit, or both, like 1000,60s/,
      );
    const env = loadEnv({
      WARDEN_AUDIT_FILE_ROTATE: 'daily',
      WARDEN_AUDIT_FILE_COMPRESS: 'gzip',
      WARDEN_AUDIT_RETENTION: '90d',
    });
    expect(env).toMatchObject({
      WARDEN_AUDIT_FILE_ROTATE: 'daily',
      WARDEN_AUDIT_FILE_COMPRESS: 'gzip',
      WARDEN_AUDIT_RETENTION: 90 * 86_400,
    });
    expect(loadEnv({})).toMatchObject({
      WARDEN_AUDIT_FILE_ROTATE: 'size',
      WARDEN_AUDIT_FILE_COMPRESS: 'none',
    });
    expect(problems({ WARDEN_AUDIT_FILE_ROTATE: 'weekly' })[0]).toMatch(/^env WARDEN_AUDIT_FILE_ROTATE/);
  });

  it('the redis sink: a cap of 1 000 000 lines by default, and a Redis to write to', () => {
    const env = loadEnv({ WARDEN_AUDIT_SINKS: 'stdout,redis', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(env.WARDEN_AUDIT_SINKS).toEqual(['stdout', 'redis']);
    expect(env.WARDEN_AUDIT_REDIS_MAXLEN).toBe(1_000_000);
    expect(loadEnv({ WARDEN_AUDIT_REDIS_MAXLEN: '50000' }).WARDEN_AUDIT_REDIS_MAXLEN).toBe(50_000);
    expect(problems({ WARDEN_AUDIT_SINKS: 'redis' })).toEqual([
      'env WARDEN_AUDIT_SINKS: the redis sink needs a Redis: set REDIS_URL (or WARDEN_REDIS_SENTINELS, WARDEN_REDIS_CLUSTER_NODES)',
    ]);
    expect(problems({ WARDEN_AUDIT_REDIS_MAXLEN: '0' }).map((l) => l.split(':')[0])).toEqual([
      'env WARDEN_AUDIT_REDIS_MAXLEN',
    ]);
  });
});
