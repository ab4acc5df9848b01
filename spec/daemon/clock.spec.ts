import { expect } from 'chai';
import { utcDay, UtcDayCache } from '../../src/daemon/clock';

describe('daemon clock', () => {
  describe('utcDay', () => {
    it('formats the UTC day as YYYYMMDD, zero-padded', () => {
      expect(utcDay(Date.UTC(2012, 2, 5, 12))).to.equal('20120305');
      expect(utcDay(Date.UTC(1999, 11, 31, 23, 59, 59, 999))).to.equal('19991231');
    });

    it('uses UTC, not local time', () => {
      expect(utcDay(Date.UTC(2024, 0, 1, 0, 0, 0, 0))).to.equal('20240101');
      expect(utcDay(Date.UTC(2024, 0, 1, 0, 0, 0, 0) - 1)).to.equal('20231231');
    });
  });

  describe('UtcDayCache', () => {
    it('reports a change only when the day changes', () => {
      const days = new UtcDayCache();
      const midnight = Date.UTC(2024, 5, 1);
      expect(days.update(midnight - 10)).to.equal(true);
      expect(days.day).to.equal('20240531');
      expect(days.update(midnight - 1)).to.equal(false);
      expect(days.update(midnight)).to.equal(true);
      expect(days.day).to.equal('20240601');
      expect(days.update(midnight + 86_399_999)).to.equal(false);
      expect(days.update(midnight + 86_400_000)).to.equal(true);
      expect(days.day).to.equal('20240602');
    });

    it('follows the clock backwards too', () => {
      const days = new UtcDayCache();
      days.update(Date.UTC(2024, 5, 2));
      expect(days.update(Date.UTC(2024, 5, 1, 12))).to.equal(true);
      expect(days.day).to.equal('20240601');
    });
  });
});
