import { expect } from 'chai';
import { BSON } from 'bson';
import { DaemonSettings } from '../../src/daemon/config';
import { OTHER_KEY, Stats, UNKNOWN_HOST_KEY } from '../../src/daemon/stats';

describe('daemon Stats', () => {
  it('snapshots per-type and per-host counters with totals, as plain data', () => {
    const stats = new Stats(new DaemonSettings());
    const t = stats.addType('request')!;
    const h = stats.addHost('web-1')!;
    t.received = 3;
    t.written = 2;
    t.last = 100;
    h.received = 3;
    stats.totals.received = 3;
    const snap = stats.snapshot();
    expect(snap.events.request).to.deep.equal({ last: 100, received: 3, written: 2, forwarded: 0, published: 0, dropped: 0, rejected: 0 });
    expect(snap.hosts['web-1'].received).to.equal(3);
    expect(snap.totals).to.deep.equal({ received: 3, written: 0, forwarded: 0, published: 0, dropped: 0, rejected: 0 });
    t.received = 99;
    expect(snap.events.request.received).to.equal(3);
  });

  it('computes lag as arrival minus end of the latest event', () => {
    const stats = new Stats(new DaemonSettings());
    expect(stats.snapshot()).to.include({ last: 0, lag: 0 });
    stats.last = 1000;
    stats.lastArrival = 1002.5;
    expect(stats.snapshot()).to.include({ last: 1000, lag: 2.5 });
  });

  it('counts rejects by reason, on totals and on the host when known', () => {
    const stats = new Stats(new DaemonSettings());
    const h = stats.addHost('web-1')!;
    stats.reject('frame');
    stats.reject('type', h);
    stats.reject('document', undefined, 2);
    expect(stats.snapshot().rejects).to.deep.equal({ frame: 1, document: 2, type: 1 });
    expect(stats.totals.rejected).to.equal(4);
    expect(h.rejected).to.equal(1);
  });

  it('caps the tables and shows (other) and (unknown) only once used', () => {
    const stats = new Stats(new DaemonSettings({ maxTypes: 1, maxHosts: 1 }));
    expect(stats.addType('a')).to.not.equal(undefined);
    expect(stats.addType('b')).to.equal(undefined);
    expect(stats.addType('a')).to.equal(stats.typeTally('a'));
    expect(stats.snapshot().events).to.have.keys(['a']);
    stats.otherType.received++;
    stats.unknownHost.rejected++;
    const snap = stats.snapshot();
    expect(snap.events).to.have.keys(['a', OTHER_KEY]);
    expect(snap.hosts).to.have.keys([UNKNOWN_HOST_KEY]);
  });

  it('survives names that are special to JavaScript objects, through BSON too', () => {
    const stats = new Stats(new DaemonSettings());
    stats.addType('__proto__')!.received = 1;
    stats.addType('constructor')!.received = 2;
    const snap = stats.snapshot();
    expect(Object.keys(snap.events)).to.deep.equal(['__proto__', 'constructor']);
    const back = BSON.deserialize(BSON.serialize(snap));
    expect(Object.keys(back.events)).to.include('constructor');
    expect(back.events.constructor.received).to.equal(2);
  });
});
