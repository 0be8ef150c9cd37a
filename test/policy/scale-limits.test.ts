// Policies too large or too pathological to judge cheaply get a clear refusal naming the limit.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configProblems } from '../helpers/config.js';
import { testDir } from '../helpers/tmp.js';

function policyFile(policy: unknown): Record<string, string> {
  const file = join(testDir('warden-scale-limits-'), 'policy.json');
  writeFileSync(file, JSON.stringify(policy));
  return { WARDEN_POLICY: file };
}

const rule = (match: Record<string, unknown>) => ({ match, public: true });

describe('policy size and shape limits', () => {
  it('a policy of 100 000 rules is refused as larger than 4 MiB', async () => {
    const rules = Array.from({ length: 100_000 }, (_, i) =>
      rule({ host: `tenant${i}.example.com`, path: '/**' }),
    );
    expect(await configProblems(policyFile({ rules }))).toEqual([
      expect.stringMatching(/\(WARDEN_POLICY\): document larger than 4 MiB$/),
    ]);
  });

  it('a path pattern with more than 8 ** is refused, naming the limit', async () => {
    const problems = await configProblems(
      policyFile({ rules: [rule({ path: '/' + Array(1000).fill('**').join('/') })] }),
    );
    expect(problems.join('\n')).toContain('rules[0].match.path: at most 8 "**" in a path pattern');
    expect(await configProblems(policyFile({ rules: [rule({ path: '/**/a/**/b/**' })] }))).toEqual([]);
  });

  it('a host pattern of 10 KB is refused as no DNS name', async () => {
    const problems = await configProblems(
      policyFile({ rules: [rule({ host: 'a'.repeat(10_000) + '.example.com' })] }),
    );
    expect(problems.join('\n')).toContain(
      'rules[0].match.host: a host is a DNS name (at most 253 characters)',
    );
  });
});
