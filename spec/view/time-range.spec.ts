import { expect } from 'chai';
import { isZiggyError } from '../../src/errors';
import { daysOf, parseTime, parseTimeRange } from '../../src/view/time-range';

const NOW = new Date('2024-05-02T00:10:00Z');
const s = (iso: string): number => Date.parse(iso) / 1000;

describe('--since / --until (time-range)', () => {
  it('takes durations before now', () => {
    expect(parseTime('15m', '--since', NOW)).to.equal(s('2024-05-01T23:55:00Z'));
    expect(parseTime('2h', '--since', NOW)).to.equal(s('2024-05-01T22:10:00Z'));
    expect(parseTime('3d', '--since', NOW)).to.equal(s('2024-04-29T00:10:00Z'));
    expect(parseTime('30s', '--since', NOW)).to.equal(s('2024-05-02T00:09:30Z'));
  });

  it('takes ISO-8601 dates and times (UTC without a zone), and unix seconds', () => {
    expect(parseTime('2024-05-01', '--since', NOW)).to.equal(s('2024-05-01T00:00:00Z'));
    expect(parseTime('2024-05-01T10:00', '--since', NOW)).to.equal(s('2024-05-01T10:00:00Z'));
    expect(parseTime('2024-05-01 10:00:00.250', '--since', NOW)).to.equal(s('2024-05-01T10:00:00.250Z'));
    expect(parseTime('2024-05-01T10:00:00+02:00', '--since', NOW)).to.equal(s('2024-05-01T08:00:00Z'));
    expect(parseTime('1714557600', '--since', NOW)).to.equal(1714557600);
  });

  it('refuses anything else, naming the flag', () => {
    for (const bad of ['yesterday', '15', '2024-13-45', '5 minutes', '']) {
      expect(() => parseTime(bad, '--until', NOW), bad)
        .to.throw()
        .that.satisfies((e: unknown) => isZiggyError(e, 'BAD_CONFIG') && e.message.startsWith(`bad --until '${bad}'`));
    }
    expect(() => parseTimeRange('1h', '2h', NOW)).to.throw(/--since 1h is not before --until 2h/);
  });

  it('picks the day files across midnight, with slack for late arrivals, never after today', () => {
    expect(daysOf({ since: parseTime('15m', '--since', NOW) }, NOW)).to.deep.equal({ startDay: '20240501', endDay: '20240502' });
    expect(daysOf({ since: s('2024-04-28T12:00:00Z'), until: s('2024-04-29T23:58:00Z') }, NOW)).to.deep.equal({ startDay: '20240428', endDay: '20240430' });
    expect(daysOf({ since: s('2024-04-28T12:00:00Z'), until: s('2024-04-29T12:00:00Z') }, NOW)).to.deep.equal({ startDay: '20240428', endDay: '20240429' });
    expect(daysOf({ until: s('2024-04-29T12:00:00Z') }, NOW).startDay).to.equal('00000000');
    expect(daysOf({ since: s('2024-05-01T00:00:00Z'), until: s('2030-01-01T00:00:00Z') }, NOW).endDay).to.equal('20240502');
  });
});
