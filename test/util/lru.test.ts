// Lru: bounded, least recently used first out, a hit on the newest entry keeps the order.
import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/util/lru.js';

const keys = (l: Lru<number>, probe: string[]) => probe.filter((k) => l.get(k) !== undefined);

describe('Lru', () => {
  it('forgets the least recently used entry once full', () => {
    const l = new Lru<number>(2);
    l.set('a', 1);
    l.set('b', 2);
    expect(l.get('a')).toBe(1); // a is now newer than b
    l.set('c', 3);
    expect(l.get('b')).toBeUndefined();
    expect(l.get('a')).toBe(1);
    expect(l.get('c')).toBe(3);
  });

  it('a repeated hit on the newest entry changes nothing', () => {
    const l = new Lru<number>(2);
    l.set('a', 1);
    l.set('b', 2);
    for (let i = 0; i < 3; i++) expect(l.get('b')).toBe(2);
    l.set('c', 3);
    expect(keys(l, ['a', 'b', 'c'])).toEqual(['b', 'c']);
  });

  it('after deleting the newest entry, a hit reorders again', () => {
    const l = new Lru<number>(2);
    l.set('a', 1);
    l.set('b', 2);
    l.delete('b');
    l.set('b', 2);
    expect(l.get('a')).toBe(1); // a becomes the newest
    l.set('c', 3);
    expect(l.get('b')).toBeUndefined();
    expect(l.size).toBe(2);
  });

  it('size 0 remembers nothing', () => {
    const l = new Lru<number>(0);
    l.set('a', 1);
    expect(l.get('a')).toBeUndefined();
    expect(l.size).toBe(0);
  });
});
