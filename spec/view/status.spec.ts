import { expect } from 'chai';
import type { ControlStatus } from '../../src/protocol/control';
import { duration, formatStatus } from '../../src/view/status';

const counters = (received: number, written: number, rejected = 0) => ({ received, written, forwarded: 0, published: received, dropped: 0, rejected });

const STATUS: ControlStatus = {
  last: 1714557600.5,
  lag: 0.0042,
  events: {
    request: { last: 1714557600.5, ...counters(120, 120) },
    'request.sql': { last: 1714557590, ...counters(480, 470) },
  },
  hosts: { 'web-1': { last: 1714557600.5, ...counters(600, 590, 3) } },
  totals: { received: 600, written: 590, forwarded: 0, published: 600, dropped: 10, rejected: 3 },
  uptime: 7500,
  version: '0.1.0',
  host: 'collector',
  pid: 777,
  ports: { collect: 3514, control: 3513, stream: 40001 },
  logPath: '/var/log/ziggy',
};

describe('formatStatus', () => {
  const text = formatStatus(STATUS, 1714557612.5);
  const lines = text.split('\n');

  it('names the daemon, its ports and log path', () => {
    expect(lines[0]).to.equal('ziggyd 0.1.0 on collector (pid 777) up 2h 05m');
    expect(text).to.include('ports: collect 3514, control 3513, stream 40001');
    expect(text).to.include('log path: /var/log/ziggy');
  });

  it('gives the last event, how long ago, and the lag', () => {
    expect(text).to.include('last event: 2024-05-01 10:00:00 UTC (12.0 s ago)');
    expect(text).to.include('lag: 0.004 s');
  });

  it('lists each host and type with when it was last seen and its counts, then totals', () => {
    const row = (name: string) =>
      lines
        .find((l) => l.trimStart().startsWith(name + ' '))!
        .trim()
        .split(/\s{2,}/);
    expect(
      lines
        .find((l) => l.includes('last seen'))!
        .trim()
        .split(/\s+/),
    ).to.deep.equal(['last', 'seen', 'received', 'written', 'forwarded', 'dropped', 'rejected']);
    expect(row('web-1')).to.deep.equal(['web-1', '12.0 s ago', '600', '590', '0', '0', '3']);
    expect(row('request')).to.deep.equal(['request', '12.0 s ago', '120', '120', '0', '0', '0']);
    expect(row('request.sql')).to.deep.equal(['request.sql', '22.5 s ago', '480', '470', '0', '0', '0']);
    expect(row('total')).to.deep.equal(['total', '600', '590', '0', '10', '3']);
    expect(lines.indexOf('hosts')).to.be.lessThan(lines.indexOf('types'));
  });

  it('says how many types and hosts the daemon left out, and prints a line per sink with whatever it reports', () => {
    const more = formatStatus(
      {
        ...STATUS,
        omitted: { types: 998, hosts: 0 },
        sinks: {
          stream: { published: 600, skipped: 40, subscriptions: 2 },
          files: { written: 590, synced: 580, dropped: 10, repaired: 1, fsync: 'interval' },
          odd: 'x' as unknown as Record<string, number>,
        },
      },
      1714557612.5,
    ).split('\n');
    const sql = more.findIndex((l) => l.trimStart().startsWith('request.sql'));
    expect(more[sql + 1]).to.equal('  (998 more, less busy)');
    expect(more.filter((l) => l.includes('more, less busy'))).to.have.length(1);
    const sinks = more.slice(more.indexOf('sinks'));
    expect(sinks.slice(0, 4)).to.deep.equal([
      'sinks',
      '  files: written 590, synced 580, dropped 10, repaired 1, fsync interval',
      '  odd: -',
      '  stream: published 600, skipped 40, subscriptions 2',
    ]);
  });

  it('copes with a daemon that has seen nothing, or sends only the original keys', () => {
    const empty = formatStatus({ last: 0, lag: 0, events: {}, hosts: {} }, 1000);
    expect(empty).to.include('last event: none yet');
    expect(empty).to.include('(none yet)');
    expect(empty).to.match(/total\s+-\s+-/);
    const original = formatStatus({ last: 990, lag: 0.5, events: { request: { last: 995 } }, hosts: { h: { last: 990 } } } as unknown as ControlStatus, 1000);
    expect(original).to.match(/request\s+5\.0 s ago\s+-/);
  });

  it('prints entries that are not objects (a reply from something else) as unknown', () => {
    const odd = formatStatus({ last: 0, lag: 0, events: { request: null, other: 5 }, hosts: { h: 'x' } } as unknown as ControlStatus, 1000);
    expect(odd).to.match(/request\s+-\s+-/);
    expect(odd).to.match(/h\s+-\s+-/);
  });
});

describe('duration', () => {
  it('reads as people write spans', () => {
    expect([0.42, 59.94, 61, 3725, 90061].map(duration)).to.deep.equal(['0.4 s', '59.9 s', '1m 01s', '1h 02m', '1d 01h']);
  });
});

describe('formatStatus: refused handshakes (CURVE)', () => {
  it('lists the reasons that counted something, and nothing when none did', () => {
    const auth = { rejected: 3, plaintext: 0, crypto: 1, protocol: 0, aborted: 0, other: 0 };
    expect(formatStatus({ ...STATUS, auth }, 1714557612.5)).to.include('refused handshakes: rejected 3, crypto 1\n');
    expect(formatStatus({ ...STATUS, auth: { ...auth, rejected: 0, crypto: 0 } }, 1714557612.5)).not.to.include('refused handshakes');
  });
});

describe('formatStatus with NATS JetStream', () => {
  it('prints the JetStream source as one line (the sink is one of the sinks)', () => {
    const fromJetstream = { from: 'nats://***@n1:4222', consumer: 'writers', acknowledged: 12 };
    const text = formatStatus({ last: 0, lag: 0, events: {}, hosts: {}, fromJetstream } as Partial<ControlStatus>, 1000);
    expect(text).to.include('fromJetstream: from nats://***@n1:4222, consumer writers, acknowledged 12\n');
    expect(formatStatus({ last: 0, lag: 0, events: {}, hosts: {} }, 1000)).not.to.include('fromJetstream');
  });
});
