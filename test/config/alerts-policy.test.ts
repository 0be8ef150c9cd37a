// The policy's `alerts`: every problem named with its path, like the rest of the policy.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { configProblems, ownKeys } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

function policyFile(policy: unknown): Record<string, string> {
  const dir = testDir('warden-alerts-');
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  return { WARDEN_POLICY: join(dir, 'policy.yaml') };
}

describe('policy alerts', () => {
  it('reads alerts with their window in seconds', async () => {
    const c = await loadConfig(
      ownKeys(
        policyFile({ alerts: [{ name: 'auth', on: 'auth_failures', by: 'ip', threshold: 5, window: '1m' }] }),
      ),
      { fetch },
    );
    expect(c.policy.alerts).toEqual([
      { name: 'auth', on: 'auth_failures', by: 'ip', threshold: 5, window: 60 },
    ]);
  });

  it('names every bad alert field at once', async () => {
    const problems = await configProblems(
      policyFile({
        alerts: [
          { name: 'a b', on: 'logins', by: 'host', threshold: 0, window: '2d' },
          { name: 'ok', on: 'denials', by: 'identity', threshold: 1.5, window: '1m', extra: true },
          { name: 'ok', on: 'requests', by: 'ip', threshold: 10, window: '1m' },
          { name: 'missing' },
        ],
      }),
    );
    const text = problems.join('\n');
    const expected: [string, string][] = [
      ['alerts[0].name', '1-64 characters'],
      ['alerts[0].on', '"logins" is not one of auth_failures, denials, requests'],
      ['alerts[0].by', '"host" is not ip or identity'],
      ['alerts[0].threshold', 'at least 1'],
      ['alerts[0].window', 'between 1s and 24h'],
      ['alerts[1].threshold', 'whole number'],
      ['alerts[1]', 'extra'],
      ['alerts[2].name', '"ok" is already the name of alerts[1]'],
      ['alerts[3].on', 'required'],
      ['alerts[3].by', 'required'],
      ['alerts[3].threshold', 'required'],
    ];
    for (const [path, message] of expected)
      expect(text).toMatch(
        new RegExp(`${path.replace(/[[\].]/g, '\\$&')}[^\\n]*${message.replace(/[[\]]/g, '\\$&')}`),
      );
  });
});
