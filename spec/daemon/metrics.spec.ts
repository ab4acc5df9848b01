import { expect } from 'chai';
import type { DaemonStatus } from '../../src/daemon/control-server';
import { escapeLabelValue, renderMetrics } from '../../src/daemon/metrics';
import { metric, parseMetrics } from '../helpers/http';

const counters = { received: 0, written: 0, forwarded: 0, published: 0, dropped: 0, rejected: 0 };

function status(over: Partial<DaemonStatus> = {}): DaemonStatus {
  return {
    last: 0,
    lag: 0,
    events: {},
    hosts: {},
    totals: { ...counters },
    rejects: { frame: 0, document: 0, type: 0 },
    auth: { rejected: 2, plaintext: 0, crypto: 0, protocol: 0, aborted: 0, other: 0 },
    omitted: { types: 0, hosts: 0 },
    sinks: {
      files: { written: 7, dropped: 1, buffered: 10, fsync: 'interval' },
      forward: { to: 'up:3514', queued: 3, queuedBytes: 300, forwarded: 5, dropped: 2 },
      mine: { 'odd-key': 4 },
    },
    uptime: 1.5,
    version: '1.2.3',
    host: 'h',
    pid: 1,
    ports: { collect: 1, control: 2, stream: 3 },
    ...over,
  };
}

describe('daemon metrics', () => {
  it('escapes backslash, double quote and line feed in label values, and nothing else', () => {
    expect(escapeLabelValue('a\\b"c\nd\te')).to.equal('a\\\\b\\"c\\nd\te');
  });

  it('renders every family with HELP and TYPE, even with no sample yet', () => {
    const { samples, types } = parseMetrics(renderMetrics(status(), 0));
    for (const name of [
      'ziggyd_events_received_total',
      'ziggyd_events_written_total',
      'ziggyd_events_forwarded_total',
      'ziggyd_events_published_total',
      'ziggyd_events_dropped_total',
      'ziggyd_events_rejected_total',
    ]) {
      expect(types.get(name), name).to.equal('counter');
    }
    expect(samples.filter((s) => s.name === 'ziggyd_events_received_total')).to.deep.equal([]);
    expect(metric(samples, 'ziggyd_info', { version: '1.2.3', host: 'h' })).to.equal(1);
    expect(metric(samples, 'ziggyd_handshakes_refused_total', { reason: 'rejected' })).to.equal(2);
  });

  it("turns each sink's numbers into one family per key, labelled by sink, and leaves its strings to STATUS", () => {
    const { samples, types } = parseMetrics(renderMetrics(status(), 0));
    expect(metric(samples, 'ziggyd_sink_written_total', { sink: 'files' })).to.equal(7);
    expect(metric(samples, 'ziggyd_sink_dropped_total', { sink: 'files' })).to.equal(1);
    expect(metric(samples, 'ziggyd_sink_dropped_total', { sink: 'forward' })).to.equal(2);
    expect(metric(samples, 'ziggyd_sink_queued_bytes', { sink: 'forward' })).to.equal(300);
    expect(metric(samples, 'ziggyd_sink_odd_key', { sink: 'mine' })).to.equal(4);
    expect([types.get('ziggyd_sink_dropped_total'), types.get('ziggyd_sink_queued'), types.get('ziggyd_sink_odd_key')]).to.deep.equal([
      'counter',
      'gauge',
      'untyped',
    ]);
    expect(samples.filter((s) => s.name === 'ziggyd_sink_fsync' || s.name === 'ziggyd_sink_to')).to.deep.equal([]);
  });

  it('names types such as __proto__ and (other) as they are', () => {
    const events = Object.create(null) as DaemonStatus['events'];
    events.__proto__ = { ...counters, received: 4, last: 0 };
    events['(other)'] = { ...counters, received: 5, dropped: 1, last: 0 };
    const { samples } = parseMetrics(renderMetrics(status({ events }), 0));
    expect(metric(samples, 'ziggyd_events_received_total', { type: '__proto__' })).to.equal(4);
    expect(metric(samples, 'ziggyd_events_dropped_total', { type: '(other)' })).to.equal(1);
  });
});
