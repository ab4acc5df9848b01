import { expect } from 'chai';
import { DaemonSettings } from '../../src/daemon/config';
import { MAX_HOST_LENGTH, Router } from '../../src/daemon/router';
import { Stats } from '../../src/daemon/stats';

function setup(maxTypes = 100, maxHosts = 100): { stats: Stats; router: Router } {
  const stats = new Stats(new DaemonSettings({ maxTypes, maxHosts }));
  return { stats, router: new Router(stats, maxTypes, maxHosts) };
}

const route = (router: Router, type: string | Buffer) => {
  const b = Buffer.isBuffer(type) ? type : Buffer.from(type);
  return router.route(b, 0, b.length);
};
const host = (router: Router, name: string | Buffer) => {
  const b = Buffer.isBuffer(name) ? name : Buffer.from(name);
  return router.host(b, 0, b.length);
};

describe('daemon Router', () => {
  describe('event types', () => {
    it('gives each valid type one route, with a dense id, its topic bytes and its own tally', () => {
      const { stats, router } = setup();
      const a = route(router, 'request')!;
      const b = route(router, 'request.sql')!;
      expect(a).to.include({ id: 0, type: 'request' });
      expect(b).to.include({ id: 1, type: 'request.sql' });
      expect(a.topic.equals(Buffer.from('request'))).to.equal(true);
      expect(route(router, 'request')).to.equal(a);
      expect(stats.typeTally('request')).to.equal(a.tally);
      expect(a.tally).to.not.equal(b.tally);
    });

    for (const bad of ['../x', 'a/b', '..', '.', '.hidden', '', 'a b', 'a\\b', 'x\u0000y', 'caf\u00e9', 'x'.repeat(201), '/etc/passwd', 'a\nb']) {
      it(`refuses ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 10)}...(${bad.length})` : bad)}, which could not be a safe file name`, () => {
        const { stats, router } = setup();
        expect(route(router, bad)).to.equal(null);
        expect(stats.snapshot().events).to.deep.equal({});
      });
    }

    it('accepts the longest allowed type, 200 characters', () => {
      const { router } = setup();
      expect(route(router, 'x'.repeat(200))?.type).to.have.length(200);
    });

    it('counts types past the cap under (other), still routing them by name', () => {
      const { stats, router } = setup(2);
      route(router, 't1');
      route(router, 't2');
      const third = route(router, 't3')!;
      expect(third).to.include({ id: -1, type: 't3' });
      expect(third.tally).to.equal(stats.otherType);
      expect(route(router, 't4')!.type).to.equal('t4');
      expect(stats.typeTally('t3')).to.equal(undefined);
    });
  });

  describe('hosts', () => {
    it('gives each host one tally', () => {
      const { stats, router } = setup();
      const a = host(router, 'web-1');
      expect(host(router, 'web-1')).to.equal(a);
      expect(host(router, 'web-2')).to.not.equal(a);
      expect(stats.hostTally('web-1')).to.equal(a);
    });

    it('counts unprintable, empty or overlong hosts as unknown', () => {
      const { stats, router } = setup();
      expect(host(router, 'evil\u0000host')).to.equal(stats.unknownHost);
      expect(host(router, 'line\nbreak')).to.equal(stats.unknownHost);
      expect(host(router, '')).to.equal(stats.unknownHost);
      expect(host(router, 'h'.repeat(MAX_HOST_LENGTH + 1))).to.equal(stats.unknownHost);
      expect(host(router, 'h'.repeat(MAX_HOST_LENGTH))).to.not.equal(stats.unknownHost);
    });

    it('counts hosts past the cap under (other)', () => {
      const { stats, router } = setup(10, 2);
      host(router, 'a');
      host(router, 'b');
      expect(host(router, 'c')).to.equal(stats.otherHost);
      expect(host(router, 'a')).to.equal(stats.hostTally('a'));
    });

    it('shares one tally between byte strings that decode to the same name', () => {
      const { router } = setup();
      // two different invalid UTF-8 sequences both decode to U+FFFD
      const x = host(router, Buffer.from([0x68, 0xff]));
      const y = host(router, Buffer.from([0x68, 0xfe]));
      expect(x).to.equal(y);
    });
  });
});
