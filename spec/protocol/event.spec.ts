import { expect } from 'chai';
import { idTimestamp, isValidEventType, MAX_TYPE_LENGTH, newEventId } from '../../src/protocol/event';

describe('protocol/event', () => {
  describe('newEventId', () => {
    it('is 32 lowercase hex chars led by the big-endian unix second', () => {
      const id = newEventId(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
      expect(id).to.match(/^[0-9a-f]{32}$/);
      expect(id.slice(0, 8)).to.equal((Date.UTC(2026, 0, 2, 3, 4, 5) / 1000).toString(16).padStart(8, '0'));
      expect(idTimestamp(id)).to.equal(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    });

    it('does not repeat across many ids, including pool refills', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 5000; i++) seen.add(newEventId(0).slice(8));
      expect(seen.size).to.equal(5000);
    });

    it('carries the second it is asked for when the second changes within a pool, back and forth', () => {
      const seen = new Set<string>();
      for (let i = 0; i < 600; i++) {
        const second = 1_700_000_000 + (i % 3 === 2 ? 0 : Math.floor(i / 7));
        const id = newEventId(second * 1000 + 999);
        expect(idTimestamp(id), `id ${i}`).to.equal(second);
        expect(id).to.match(/^[0-9a-f]{32}$/);
        seen.add(id.slice(8));
      }
      expect(seen.size).to.equal(600);
    });

    it('sorts by creation second', () => {
      const a = newEventId(1_000_000_000_000);
      const b = newEventId(1_000_000_001_000);
      expect(a < b).to.equal(true);
    });
  });

  describe('isValidEventType', () => {
    for (const ok of ['request', 'request.sql', 'a', 'A-b_c.d', '0', 'x'.repeat(MAX_TYPE_LENGTH)]) {
      it(`accepts '${ok.length > 20 ? `${ok.length} chars` : ok}'`, () => expect(isValidEventType(ok)).to.equal(true));
    }
    for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '.hidden', '-rf', '-', 'a b', 'a\0b', 'é', 'x'.repeat(MAX_TYPE_LENGTH + 1)]) {
      it(`rejects ${JSON.stringify(bad.length > 20 ? `${bad.length} chars` : bad)}`, () => expect(isValidEventType(bad)).to.equal(false));
    }
    it('rejects non-strings', () => {
      for (const v of [undefined, null, 5, {}, ['request']]) expect(isValidEventType(v)).to.equal(false);
    });
  });
});
