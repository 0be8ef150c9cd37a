import { describe, expect, it } from 'vitest';
import { compileGrants, grants } from '../../src/policy/permissions.js';

describe('permission wildcards', () => {
  it('* grants everything', () => {
    expect(grants(compileGrants(['*']), 'anything:at:all')).toBe(true);
  });
  it('a trailing * grants whole-segment prefixes only', () => {
    const g = compileGrants(['nodes:*']);
    expect(grants(g, 'nodes:read')).toBe(true);
    expect(grants(g, 'nodes:a:b')).toBe(true);
    expect(grants(g, 'nodesx:read')).toBe(false);
    expect(grants(g, 'nodes')).toBe(false);
    expect(grants(g, 'nodes:')).toBe(false);
  });
  it('is exact and case-sensitive otherwise', () => {
    const g = compileGrants(['api:read', 'a:b:*']);
    expect(grants(g, 'api:read')).toBe(true);
    expect(grants(g, 'API:read')).toBe(false);
    expect(grants(g, 'api:readx')).toBe(false);
    expect(grants(g, 'api')).toBe(false);
    expect(grants(g, 'a:b:c:d')).toBe(true);
    expect(grants(g, 'a:bc:d')).toBe(false);
  });
  it('an empty role grants nothing', () => {
    expect(grants(compileGrants([]), 'x')).toBe(false);
  });
});
