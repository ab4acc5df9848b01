import { expect } from 'chai';
import { ByteTable } from '../../src/daemon/byte-table';

describe('daemon ByteTable', () => {
  it('finds values by a slice of a larger buffer', () => {
    const t = new ByteTable<number>(10);
    const src = Buffer.from('xxrequestyy');
    t.add(src, 2, 9, 42);
    expect(t.get(Buffer.from('request'), 0, 7)).to.equal(42);
    expect(t.get(Buffer.from('..request..'), 2, 9)).to.equal(42);
    expect(t.get(Buffer.from('requesT'), 0, 7)).to.equal(undefined);
    expect(t.get(Buffer.from('reques'), 0, 6)).to.equal(undefined);
    expect(t.size).to.equal(1);
  });

  it('keeps its own copy of the key', () => {
    const t = new ByteTable<string>(4);
    const src = Buffer.from('host-a');
    t.add(src, 0, src.length, 'A');
    src.write('host-b');
    expect(t.get(Buffer.from('host-a'), 0, 6)).to.equal('A');
    expect(t.get(Buffer.from('host-b'), 0, 6)).to.equal(undefined);
  });

  it('holds up to its capacity, then refuses', () => {
    const t = new ByteTable<number>(300);
    for (let i = 0; i < 300; i++) {
      const k = Buffer.from(`type-${i}`);
      t.add(k, 0, k.length, i);
    }
    expect(t.full).to.equal(true);
    for (let i = 0; i < 300; i++) {
      const k = Buffer.from(`type-${i}`);
      expect(t.get(k, 0, k.length)).to.equal(i);
    }
    expect(() => t.add(Buffer.from('one more'), 0, 8, 1)).to.throw(RangeError);
  });

  it('answers correctly when names share length and first and last bytes (the quick cache)', () => {
    const t = new ByteTable<string>(8);
    const names = ['aXb', 'aYb', 'aZb', 'ab', ''];
    for (const n of names) t.add(Buffer.from(n), 0, n.length, n.toUpperCase());
    for (let round = 0; round < 3; round++) {
      for (const n of names) expect(t.get(Buffer.from(n), 0, n.length)).to.equal(n.toUpperCase());
    }
    expect(t.get(Buffer.from('aWb'), 0, 3)).to.equal(undefined);
  });
});
