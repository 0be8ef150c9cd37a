// WARDEN_KEYS_STORE: file by default; redis only with a Redis to store keys in.
import { describe, expect, it } from 'vitest';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadEnv } from '../../src/config/load.js';

describe('WARDEN_KEYS_STORE', () => {
  it('defaults to file', () => {
    expect(loadEnv({}).WARDEN_KEYS_STORE).toBe('file');
  });

  it('accepts redis with REDIS_URL, Sentinels or Cluster nodes', () => {
    expect(
      loadEnv({ WARDEN_KEYS_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' }).WARDEN_KEYS_STORE,
    ).toBe('redis');
    expect(
      loadEnv({ WARDEN_KEYS_STORE: 'redis', WARDEN_REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).WARDEN_KEYS_STORE,
    ).toBe('redis');
  });

  it.each([
    [{ WARDEN_KEYS_STORE: 'redis' }, /WARDEN_KEYS_STORE.*REDIS_URL/],
    [{ WARDEN_KEYS_STORE: 'postgres' }, /WARDEN_KEYS_STORE/],
  ])('refuses %o, naming the variable', (vars, message) => {
    let problems = '';
    try {
      loadEnv(vars);
    } catch (e) {
      problems = (e as ConfigError).problems.map(formatProblem).join('\n');
    }
    expect(problems).toMatch(message);
  });
});
