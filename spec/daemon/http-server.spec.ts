import 'reflect-metadata';
import { expect } from 'chai';
import { createServer } from 'node:http';
import { container } from 'tsyringe';
import { Daemon, DAEMON_CONFIG, DAEMON_LOGGER } from '../../src/daemon';
import type { DashboardUpdate } from '../../src/daemon/http-server';
import { isZiggyError } from '../../src/errors';
import { httpGet, metric, parseMetrics, SseClient } from '../helpers/http';
import { waitFor } from '../helpers/net';
import { event, MemoryLogger, Pusher, startDaemon, waitForStatus, type TestDaemon } from './harness';

async function scrape(base: string): Promise<ReturnType<typeof parseMetrics>> {
  const reply = await httpGet(`${base}/metrics`);
  expect(reply.status).to.equal(200);
  expect(reply.headers['content-type']).to.equal('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(reply.body);
}

describe('daemon HttpServer', () => {
  let d: TestDaemon;
  let base: string;
  let push: Pusher;

  beforeEach(async () => {
    d = await startDaemon({ config: { http: '127.0.0.1:*', maxTypes: 3 } });
    base = `http://127.0.0.1:${d.daemon.ports.http}`;
    push = new Pusher(d.collectUrl);
  });

  afterEach(async () => {
    push.close();
    await d.cleanup();
  });

  describe('/metrics', () => {
    it('counts what was sent, per type, per reason and per host, as STATUS does', async () => {
      for (let i = 0; i < 3; i++) await push.send(event('request'));
      for (let i = 0; i < 2; i++) await push.send(event('job', { host: 'worker-1' }));
      await push.send(event('bad type!'));
      await push.send(Buffer.from([1, 2, 3]));
      await waitForStatus(d.daemon, (s) => s.totals.received === 5 && s.totals.rejected === 2 && s.totals.written === 5, 'events counted and written');

      const { samples, types } = await scrape(base);
      expect(types.get('ziggyd_events_received_total')).to.equal('counter');
      expect(metric(samples, 'ziggyd_events_received_total', { type: 'request' })).to.equal(3);
      expect(metric(samples, 'ziggyd_events_received_total', { type: 'job' })).to.equal(2);
      expect(metric(samples, 'ziggyd_events_written_total', { type: 'request' })).to.equal(3);
      expect(metric(samples, 'ziggyd_events_written_total', { type: 'job' })).to.equal(2);
      expect(metric(samples, 'ziggyd_events_forwarded_total', { type: 'job' })).to.equal(0);
      expect(metric(samples, 'ziggyd_events_dropped_total', { type: 'job' })).to.equal(0);
      expect(metric(samples, 'ziggyd_events_rejected_total', { reason: 'type' })).to.equal(1);
      expect(metric(samples, 'ziggyd_events_rejected_total', { reason: 'frame' })).to.equal(1);
      expect(metric(samples, 'ziggyd_events_rejected_total', { reason: 'document' })).to.equal(0);
      expect(metric(samples, 'ziggyd_host_events_received_total', { host: 'spec-host' })).to.equal(3);
      expect(metric(samples, 'ziggyd_host_events_received_total', { host: 'worker-1' })).to.equal(2);
      expect(metric(samples, 'ziggyd_last_event_end_seconds')).to.equal(1700000001);
      expect(metric(samples, 'ziggyd_sink_written_total', { sink: 'files' })).to.equal(5);
      expect(metric(samples, 'ziggyd_sink_open', { sink: 'files' })).to.equal(2);
      expect(metric(samples, 'ziggyd_sink_subscriptions', { sink: 'stream' })).to.equal(0);
      expect(metric(samples, 'ziggyd_sink_watching', { sink: 'dashboard' })).to.equal(0);

      // every per-type counter, as STATUS has it
      const status = d.daemon.status();
      for (const [type, c] of Object.entries(status.events)) {
        for (const k of ['received', 'written', 'forwarded', 'published', 'dropped'] as const) {
          expect(metric(samples, `ziggyd_events_${k}_total`, { type }), `${k} ${type}`).to.equal(c[k]);
        }
      }
    });

    it('caps type labels as STATUS does: past maxTypes, types are counted under (other)', async () => {
      for (const type of ['a', 'b', 'c', 'd', 'e']) await push.send(event(type));
      await waitForStatus(d.daemon, (s) => s.totals.received === 5, 'five events');
      const { samples } = await scrape(base);
      const typeLabels = samples.filter((s) => s.name === 'ziggyd_events_received_total').map((s) => s.labels.type);
      expect(typeLabels).to.have.members(['a', 'b', 'c', '(other)']);
      expect(metric(samples, 'ziggyd_events_received_total', { type: '(other)' })).to.equal(2);
    });

    it('escapes label values so any host name reads back as sent', async () => {
      const host = 'we"ird\\host name'; // control characters make a host (unknown), so no line feed here
      await push.send(event('request', { host }));
      await waitForStatus(d.daemon, (s) => s.totals.received === 1, 'one event');
      const reply = await httpGet(`${base}/metrics`);
      expect(reply.body).to.include('host="we\\"ird\\\\host name"');
      expect(metric(parseMetrics(reply.body).samples, 'ziggyd_host_events_received_total', { host })).to.equal(1);
    });
  });

  describe('requests', () => {
    it('serves the page, its script and style from the package, with a strict content policy', async () => {
      const page = await httpGet(`${base}/`);
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).to.include("script-src 'self'");
      expect(page.body).to.include('<script src="dashboard.js"');
      expect(page.body).not.to.match(/https?:\/\//); // nothing from elsewhere
      const js = await httpGet(`${base}/dashboard.js`);
      expect(js.headers['content-type']).to.equal('text/javascript; charset=utf-8');
      expect(js.body).to.include("new EventSource('events?field='");
      expect((await httpGet(`${base}/dashboard.css`)).status).to.equal(200);
      const head = await httpGet(`${base}/metrics`, { method: 'HEAD' });
      expect([head.status, head.body]).to.deep.equal([200, '']);
    });

    it('answers 404 to unknown paths and 405 to other methods', async () => {
      expect((await httpGet(`${base}/nope`)).status).to.equal(404);
      const post = await httpGet(`${base}/metrics`, { method: 'POST' });
      expect(post.status).to.equal(405);
      expect(post.headers.allow).to.equal('GET, HEAD');
    });

    it('on a loopback address, refuses requests naming another host (DNS rebinding)', async () => {
      const evil = await httpGet(`${base}/metrics`, { headers: { host: `evil.example:${d.daemon.ports.http}` } });
      expect(evil.status).to.equal(403);
      for (const host of [`localhost:${d.daemon.ports.http}`, '127.0.0.1', '[::1]:80']) {
        expect((await httpGet(`${base}/metrics`, { headers: { host } })).status, host).to.equal(200);
      }
    });
  });

  describe('/events', () => {
    it('streams updates: rates, latest events and exact percentiles of the chosen field while every event is sampled', async () => {
      const sse = new SseClient(`${base}/events?field=request_time`);
      try {
        const res = await sse.ready;
        expect(res.headers['content-type']).to.equal('text/event-stream; charset=utf-8');
        await waitFor(() => sse.parsed('update').length > 0, 3000, 'a first update');
        // 30 events (fewer than a second's sample), their field in a nested body and shuffled
        const values = Array.from({ length: 30 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
        for (const v of values) await push.send(event('request', { body: { request_time: v, route: '/a' } }));
        await push.send(event('job', { body: { other: 1 } }));
        const last = await waitFor(
          () => sse.parsed<DashboardUpdate>('update').find((u) => u.timings.request?.count === 30 && u.events.job?.received === 1),
          3000,
          'an update with the timings',
        );
        const sorted = [...values].sort((a, b) => a - b);
        const rank = (p: number): number => sorted[Math.ceil(p * sorted.length) - 1];
        expect(last.timings.request).to.deep.equal({ count: 30, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: 30 });
        expect(last.timings).not.to.have.property('job'); // no such field there
        expect(last.field).to.equal('request_time');
        expect(last.events.request.received).to.equal(30);
        const updates = sse.parsed<DashboardUpdate>('update');
        expect(updates.some((u) => u.events.request?.rate > 0)).to.equal(true);
        const latest = updates.flatMap((u) => u.latest);
        expect(latest.length).to.be.above(0);
        expect(latest[0].type).to.equal('request');
        expect(JSON.parse(latest[0].json).body.route).to.equal('/a');
        expect(new Set(latest.map((e) => e.seq)).size).to.equal(latest.length); // each sent once
        expect(metric((await scrape(base)).samples, 'ziggyd_http_dashboards')).to.equal(1);
      } finally {
        sse.close();
      }
      await waitFor(async () => metric((await scrape(base)).samples, 'ziggyd_http_dashboards') === 0, 3000, 'the dashboard to be gone');
    });

    it('says why a field cannot be watched, and streams the rest', async () => {
      const sse = new SseClient(`${base}/events?field=${encodeURIComponent('a..b')}`);
      try {
        await waitFor(() => sse.parsed('update').length > 0, 3000, 'an update');
        expect(sse.parsed<{ error: string }>('problem')[0].error).to.include("field 'a..b' is not a dotted path");
      } finally {
        sse.close();
      }
    });

    it('turns away dashboards past 32 at once', async () => {
      const open = Array.from({ length: 32 }, () => new SseClient(`${base}/events`));
      try {
        await Promise.all(open.map((c) => c.ready));
        const extra = await httpGet(`${base}/events`);
        expect([extra.status, extra.body]).to.deep.equal([503, '32 dashboards are connected already\n']);
      } finally {
        for (const c of open) c.close();
      }
    });

    it('ends the streams when the daemon stops', async () => {
      const sse = new SseClient(`${base}/events`);
      await waitFor(() => sse.parsed('update').length > 0, 3000, 'an update');
      await d.daemon.stop();
      await waitFor(() => sse.ended, 3000, 'the stream to end');
    });
  });
});

describe('daemon HttpServer start', () => {
  it('is off unless configured: no http port', async () => {
    const d = await startDaemon();
    try {
      expect(d.daemon.ports).not.to.have.property('http');
    } finally {
      await d.cleanup();
    }
  });

  it('fails the start with ADDRESS_IN_USE when the port is taken, and counts as stopped', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const c = container.createChildContainer();
    c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', http: `127.0.0.1:${port}` } });
    c.register(DAEMON_LOGGER, { useValue: new MemoryLogger() });
    const daemon = c.resolve(Daemon);
    try {
      const err = await daemon.start().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isZiggyError(err) && err.code).to.equal('ADDRESS_IN_USE');
      expect((err as Error).message).to.equal(`http: cannot bind 127.0.0.1:${port}: address already in use`);
      expect(daemon.running).to.equal(false);
      await daemon.stopped;
    } finally {
      await daemon.stop();
      taken.close();
    }
  });

  it('refuses a non-loopback address without insecure: HTTP has no CURVE', async () => {
    const err = await startDaemon({ config: { http: '0.0.0.0:*' } }).then(
      (t) => t.cleanup().then(() => null),
      (e: unknown) => e,
    );
    expect(isZiggyError(err) && err.code).to.equal('BAD_CONFIG');
    expect((err as Error).message).to.equal(
      'http: 0.0.0.0:* is reachable from the network, and HTTP has no CURVE: anyone there could read the metrics and the events the dashboard shows; give --insecure to serve it anyway',
    );
  });

  it('with insecure, serves every interface, says so once, and takes any Host', async () => {
    const d = await startDaemon({ config: { http: '0.0.0.0:*', insecure: true } });
    try {
      expect(d.logger.lines.filter((l) => l.level === 'warn' && l.message.startsWith('--insecure: http on 0.0.0.0:'))).to.have.length(1);
      const reply = await httpGet(`http://127.0.0.1:${d.daemon.ports.http}/metrics`, { headers: { host: 'ziggy.example:80' } });
      expect(reply.status).to.equal(200);
    } finally {
      await d.cleanup();
    }
  });

  it('refuses a malformed --http endpoint before binding anything', async () => {
    const d = startDaemon({ config: { http: 'localhost:99999' } });
    const err = await d.then(
      (t) => t.cleanup().then(() => null),
      (e: unknown) => e,
    );
    expect(isZiggyError(err) && err.code).to.equal('BAD_ENDPOINT');
    expect((err as Error).message).to.match(/^http: malformed endpoint 'localhost:99999'/);
  });
});
