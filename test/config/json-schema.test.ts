import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { schemaFiles } from '../../src/config/json-schema.js';
import { keysSchema } from '../../src/config/keys-schema.js';
import { policySchema } from '../../src/config/policy-schema.js';

const RBAC = join(import.meta.dirname, '..', '..', 'rbac');
const read = (name: string) => readFileSync(join(RBAC, name), 'utf8');
const committed = (name: string) => JSON.parse(read(name)) as Record<string, unknown>;

describe('JSON Schemas in rbac/', () => {
  it('are exactly what the zod schemas generate (run `npm run schema` after changing a schema)', () => {
    for (const [name, text] of Object.entries(schemaFiles())) expect(read(name), name).toBe(text);
  });

  it("are draft 2020-12 documents with the files' top-level fields, closed to unknown ones", () => {
    for (const [name, zodSchema] of [
      ['policy.schema.json', policySchema],
      ['keys.schema.json', keysSchema],
    ] as const) {
      const s = committed(name);
      expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(s.type).toBe('object');
      expect(s.additionalProperties).toBe(false);
      expect(Object.keys(s.properties as object).sort()).toEqual(Object.keys(zodSchema.shape).sort());
    }
  });

  it("are referenced from the example files' first line", () => {
    expect(read('dev-users.yaml').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./dev-users.schema.json',
    );
    expect(read('policy.yaml').split('\n')[0]).toBe('# yaml-language-server: $schema=./policy.schema.json');
    expect(read('keys.yaml').split('\n')[0]).toBe('# yaml-language-server: $schema=./keys.schema.json');
  });

  it('accept the example files, as zod does', () => {
    const policy = parse(read('policy.yaml'));
    const keys = parse(read('keys.yaml'));
    expect(policySchema.safeParse(policy).success).toBe(true);
    expect(keysSchema.safeParse(keys).success).toBe(true);
    // The committed JSON Schemas, read back as validators, accept them too.
    expect(z.fromJSONSchema(committed('policy.schema.json')).safeParse(policy).success).toBe(true);
    expect(z.fromJSONSchema(committed('keys.schema.json')).safeParse(keys).success).toBe(true);
    const oneKey = {
      keys: [{ id: 'a', sha256: 'a'.repeat(64), roles: ['viewer'], expires: '2027-06-30T00:00:00Z' }],
    };
    expect(z.fromJSONSchema(committed('keys.schema.json')).safeParse(oneKey).success).toBe(true);
  });

  it('reject what zod rejects: unknown fields, bad durations, bad permissions, bad hashes', () => {
    const policyJson = z.fromJSONSchema(committed('policy.schema.json'));
    const keysJson = z.fromJSONSchema(committed('keys.schema.json'));
    const badPolicies = [
      { rules: [{ match: { path: '/x' }, bogus: true }] },
      { rateLimits: { api: { limit: 1, window: '60 sec' } } },
      { rateLimits: { api: { limit: 0, window: '60s' } } },
      { roles: { dev: ['api read'] } },
      { rules: [{ match: { path: 'no-slash' } }] },
      { default: 'allow' },
    ];
    for (const doc of badPolicies) {
      expect(policySchema.safeParse(doc).success, JSON.stringify(doc)).toBe(false);
      expect(policyJson.safeParse(doc).success, JSON.stringify(doc)).toBe(false);
    }
    for (const doc of [
      { keys: [{ id: 'a', sha256: 'xyz' }] },
      { keys: [{ id: 'a', sha256: 'a'.repeat(64), expires: 'tomorrow' }] },
      { other: 1 },
    ]) {
      expect(keysSchema.safeParse(doc).success, JSON.stringify(doc)).toBe(false);
      expect(keysJson.safeParse(doc).success, JSON.stringify(doc)).toBe(false);
    }
  });
});
