// Sealed cookie values: JWE dir + A256GCM, rotating secrets, expiry, and anything else refused.
import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { Sealer } from '../../src/session/seal.js';

const OLD = 'old-secret-old-secret-old-secret-0001';
const NEW = 'new-secret-new-secret-new-secret-0002';

describe('Sealer', () => {
  it('seals as a compact JWE (dir, A256GCM) that does not show its content', async () => {
    const sealed = await new Sealer([NEW], 'session').seal({ sid: 'abc-session-id' }, Date.now() + 60_000);
    expect(decodeProtectedHeader(sealed)).toMatchObject({ alg: 'dir', enc: 'A256GCM' });
    expect(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1')).not.toContain(
      'abc-session-id',
    );
  });

  it('rotates: the first secret seals, every listed secret unseals; a dropped secret makes the value foreign', async () => {
    const now = Date.now();
    const before = await new Sealer([OLD], 'session').seal({ sid: 'a' }, now + 60_000);
    const rotated = new Sealer([NEW, OLD], 'session');
    expect((await rotated.unseal(before, now))?.sid).toBe('a');
    const after = await rotated.seal({ sid: 'b' }, now + 60_000);
    expect((await new Sealer([NEW], 'session').unseal(after, now))?.sid).toBe('b');
    expect(await new Sealer([NEW], 'session').unseal(before, now)).toBeNull();
    expect(await new Sealer([OLD], 'session').unseal(after, now)).toBeNull();
  });

  it('refuses an expired value, another purpose, and tampered or malformed input', async () => {
    const now = Date.now();
    const s = new Sealer([NEW], 'session');
    const sealed = await s.seal({ sid: 'a' }, now + 1000);
    expect(await s.unseal(sealed, now + 2000)).toBeNull();
    expect(await new Sealer([NEW], 'flow').unseal(sealed, now)).toBeNull();
    const parts = sealed.split('.');
    const tag = parts[4]!;
    parts[4] = (tag[0] === 'A' ? 'B' : 'A') + tag.slice(1);
    expect(await s.unseal(parts.join('.'), now)).toBeNull();
    for (const bad of [
      '',
      'x',
      'a.b.c',
      sealed + '.x',
      sealed.slice(0, -3),
      'e30..AAAA.AAAA.AAAA',
      'x'.repeat(5000),
    ])
      expect(await s.unseal(bad, now)).toBeNull();
  });
});
