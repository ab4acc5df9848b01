// The behaviours every incoming-HTTP integration must show, run against real servers on
// loopback by express.spec.ts, fastify.spec.ts and http.spec.ts. Each of them serves
// the same routes (see Routes) through its framework.
import { expect } from 'chai';
import { Agent, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { configure, stats } from '../../src/client/configure';
import { currentContext, set } from '../../src/client/api';
import { Sample } from '../../src/client/decorators/sample.decorator';
import { Timeit } from '../../src/client/decorators/timeit.decorator';
import { ZiggyContext } from '../../src/client/decorators/ziggy-context.decorator';
import type { ZiggyEvent } from '../../src/protocol/event';
import type { RequestContextOptions } from '../../src/integrations/request-context';
import { waitFor } from '../helpers/net';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A server under test, listening on 127.0.0.1. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port (unless `server` already listens) and wraps it as a
 * TestServer whose close() also ends keep-alive connections, so tests never wait on them.
 */
export async function onLoopback(server: Server): Promise<TestServer> {
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The per-test set-up every server describe block shares: events captured from the start
 * of each test; afterwards the test's server (`t.server`, or `t.app`) closed and Ziggy
 * unconfigured.
 */
export function eachTest<S extends { close(): Promise<void> } = TestServer>(): { cap: Captured; server?: S; app?: S } {
  const t: { cap: Captured; server?: S; app?: S } = { cap: new Captured() };
  beforeEach(() => t.cap.start());
  afterEach(async () => {
    await t.server?.close();
    await t.app?.close();
    t.server = undefined;
    t.app = undefined;
    configure(null);
  });
  return t;
}

/** Starts the framework's server with Ziggy's integration given `options`, serving Routes. */
export type StartServer = (options?: RequestContextOptions) => Promise<TestServer>;

/** A service layer decorated as an application's would be. */
export class Store {
  @ZiggyContext('.sql')
  @Timeit('query_time')
  async query(n: number): Promise<number> {
    set('query', `SELECT * FROM t WHERE n = ${n}`);
    await sleep(Math.random() * 3);
    set('rows', n);
    return n;
  }

  @ZiggyContext('.memcache')
  @Sample('..', 0.25)
  async cached(n: number): Promise<void> {
    set('key', `n:${n}`);
    await sleep(0);
    set('hit', n % 2 === 0);
  }
}

const store = new Store();

/**
 * What each route does, framework-neutral: the framework adapters parse the request,
 * call these, and send the result as JSON.
 */
export const Routes = {
  /** GET /work/:n — awaits, fields, a `.sql` and a sampled `.memcache` sub-event. */
  async work(n: number): Promise<{ n: number; id: string | undefined }> {
    await sleep(Math.random() * 5);
    set('n', n);
    await store.query(n);
    await store.cached(n);
    await new Promise((r) => setImmediate(r));
    set('after', n);
    const ctx = currentContext();
    if (ctx !== undefined) Routes.seen.push(new WeakRef(ctx));
    return { n, id: ctx?.id };
  },
  /** The request contexts /work ran in, as weak references (a spec empties it). */
  seen: [] as WeakRef<object>[],
  /** POST /echo with a JSON body `{ n }` — fields set after the framework parsed the body. */
  async echo(body: { n: number }): Promise<{ n: number; id: string | undefined }> {
    set('echo', body.n);
    await store.query(body.n);
    return { n: body.n, id: currentContext()?.id };
  },
  /** GET /boom — rejects after an await. */
  async boom(): Promise<never> {
    await sleep(1);
    set('before_error', true);
    throw new RangeError('boom');
  },
  /** GET /stream — the route sends headers and this chunk, then never ends the response. */
  chunk: 'x'.repeat(2000),
};

/** The events recorded since the last reset, and what they hold. */
export class Captured {
  readonly events: ZiggyEvent[] = [];

  start(): void {
    this.events.length = 0;
    configure({ recorder: (e) => this.events.push(e) });
  }

  ofType(type: string): ZiggyEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  async waitForType(type: string, count: number, timeoutMs = 5000): Promise<ZiggyEvent[]> {
    await waitFor(() => this.ofType(type).length >= count, timeoutMs, `${count} '${type}' events (have ${this.ofType(type).length})`);
    return this.ofType(type);
  }
}

/**
 * A GET or POST over a fresh connection; resolves with status, headers and body. With
 * `trickle`, the headers go first and the body follows in two later packets, so the
 * server reads it in events emitted by the connection after the request began.
 */
export function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; trickle?: boolean; agent?: Agent } = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.trickle && options.body !== undefined) {
      const text = options.body;
      const half = Math.floor(text.length / 2);
      req.flushHeaders();
      setTimeout(() => {
        req.write(text.slice(0, half));
        setTimeout(() => req.end(text.slice(half)), 10);
      }, 10);
    } else {
      req.end(options.body);
    }
  });
}

function body(e: ZiggyEvent): Record<string, any> {
  return e.body as Record<string, any>;
}

/** The shared behaviours, as a mocha describe block. */
export function describeIncomingHttp(framework: string, start: StartServer): void {
  describe(`${framework}: incoming requests`, () => {
    const t = eachTest<TestServer>();

    it('records one request event with method, uri, headers, remote_addr, response and request_time', async () => {
      t.server = await start();
      const res = await send(`${t.server.url}/work/7?x=1`, { headers: { 'x-trace': 'abc' } });
      expect(res.status).to.equal(200);
      const [ev] = await t.cap.waitForType('request', 1);
      const b = body(ev);
      expect(b.method).to.equal('GET');
      expect(b.uri).to.equal('/work/7?x=1');
      expect(b.headers['x-trace']).to.equal('abc');
      expect(b.headers.host).to.match(/^127\.0\.0\.1:\d+$/);
      expect(b.remote_addr).to.match(/127\.0\.0\.1$/);
      expect(b.response.status).to.equal(200);
      expect(b.response.size).to.equal(Buffer.byteLength(res.body));
      expect(b.request_time).to.be.a('number').that.is.above(0).and.below(5);
      expect(b.n).to.equal(7);
      expect(b.after).to.equal(7);
      expect(b).not.to.have.property('aborted');
      expect(b).not.to.have.property('exception');
      expect(ev.end).to.be.at.least(ev.start);
      expect(JSON.parse(res.body).id).to.equal(ev.id);
    });

    it('on a keep-alive connection, lets each request context go once its request is over', async () => {
      // A request's context is made current on the connection, which outlives it.
      t.server = await start();
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      Routes.seen.length = 0;
      try {
        for (let i = 0; i < 20; i++) expect((await send(`${t.server.url}/work/${i}`, { agent })).status).to.equal(200);
        await t.cap.waitForType('request', 20);
        expect(new Set(t.cap.ofType('request').map((e) => e.id)).size).to.equal(20);
        collectGarbage();
        await new Promise((r) => setImmediate(r));
        collectGarbage();
        const kept = Routes.seen.slice(0, 15).filter((r) => r.deref() !== undefined).length;
        // Held in a chain, all 15 would be; the collector may leave the odd one for later.
        expect(kept, 'contexts of the first 15 requests still reachable').to.be.below(4);
      } finally {
        agent.destroy();
        Routes.seen.length = 0;
      }
    });

    it('keeps 50 concurrent requests apart across awaits: each event holds only its own fields and id', async () => {
      t.server = await start();
      const url = t.server.url;
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => send(`${url}/work/${i}`)));
      const requests = await t.cap.waitForType('request', 50);
      const sqls = await t.cap.waitForType('request.sql', 50);
      expect(requests).to.have.length(50);
      const ids = new Set(requests.map((e) => e.id));
      expect(ids.size).to.equal(50);
      const idOf = new Map<number, string>();
      for (const ev of requests) {
        const b = body(ev);
        expect(b.after, 'fields of one request only').to.equal(b.n);
        expect(b.uri).to.equal(`/work/${b.n}`);
        expect(b).not.to.have.property('rows'); // set in the .sql sub-context, not here
        idOf.set(b.n, ev.id);
      }
      for (const r of replies) {
        const { n, id } = JSON.parse(r.body) as { n: number; id: string };
        expect(id, `reply ${n}`).to.equal(idOf.get(n));
      }
      for (const sql of sqls) {
        const b = body(sql);
        expect(sql.id, 'a sub-event shares its request id').to.equal(idOf.get(b.rows));
        expect(b.query).to.equal(`SELECT * FROM t WHERE n = ${b.rows}`);
        expect(b.query_time).to.be.a('number');
        expect(b).not.to.have.property('n');
      }
      for (const mc of t.cap.ofType('request.memcache')) {
        expect(mc.id).to.equal(idOf.get(Number(String(body(mc).key).slice(2))));
      }
    });

    it('gives each request on one keep-alive connection its own context', async () => {
      t.server = await start();
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const replies: { n: number; id: string }[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await new Promise<string>((resolve, reject) => {
            httpRequest(`${t.server!.url}/work/${i}`, { agent }, (r) => {
              let text = '';
              r.setEncoding('utf8');
              r.on('data', (c: string) => (text += c));
              r.on('end', () => resolve(text));
            })
              .on('error', reject)
              .end();
          });
          replies.push(JSON.parse(res) as { n: number; id: string });
        }
        const events = await t.cap.waitForType('request', 5);
        expect(new Set(events.map((e) => e.id)).size).to.equal(5);
        for (const r of replies) {
          const ev = events.find((e) => e.id === r.id)!;
          expect(body(ev).n).to.equal(r.n);
          expect(body(ev).after).to.equal(r.n);
        }
      } finally {
        agent.destroy();
      }
    });

    it('keeps the context through the framework parsing a request body that arrives later', async () => {
      t.server = await start();
      const text = JSON.stringify({ n: 41, pad: 'p'.repeat(100) });
      const res = await send(`${t.server.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(text.length) },
        body: text,
        trickle: true,
      });
      expect(res.status).to.equal(200);
      const [ev] = await t.cap.waitForType('request', 1);
      const [sql] = await t.cap.waitForType('request.sql', 1);
      expect(body(ev).echo).to.equal(41);
      expect(body(ev).method).to.equal('POST');
      expect(sql.id).to.equal(ev.id);
      expect(JSON.parse(res.body).id).to.equal(ev.id);
    });

    it('redacts authorization, cookie and set-cookie by default', async () => {
      t.server = await start();
      await send(`${t.server.url}/work/1`, { headers: { authorization: 'Bearer secret', cookie: 'sid=secret', 'set-cookie': 'a=b', 'x-ok': 'visible' } });
      const [ev] = await t.cap.waitForType('request', 1);
      const h = body(ev).headers;
      expect(h.authorization).to.equal('[redacted]');
      expect(h.cookie).to.equal('[redacted]');
      expect(h['set-cookie']).to.deep.equal('[redacted]');
      expect(h['x-ok']).to.equal('visible');
      expect(JSON.stringify(ev)).not.to.include('secret');
    });

    it('redacts the configured headers instead, in any case, and names the event as told', async () => {
      t.server = await start({ name: 'api', redactHeaders: ['X-Api-Key'] });
      await send(`${t.server.url}/work/2`, { headers: { authorization: 'Basic abc', 'x-api-key': 'k3y' } });
      const [ev] = await t.cap.waitForType('api', 1);
      expect(body(ev).headers['x-api-key']).to.equal('[redacted]');
      expect(body(ev).headers.authorization).to.equal('Basic abc');
      expect(t.cap.ofType('api.sql')).to.have.length(1);
      expect(t.cap.ofType('request')).to.have.length(0);
    });

    it('records an error that reaches the error handling as exception, and the error response is still sent', async () => {
      t.server = await start();
      const res = await send(`${t.server.url}/boom`);
      expect(res.status).to.equal(500);
      const [ev] = await t.cap.waitForType('request', 1);
      const b = body(ev);
      expect(b.exception.name).to.equal('RangeError');
      expect(b.exception.message).to.equal('boom');
      expect(b.exception.stack).to.include('boom');
      expect(b.before_error).to.equal(true);
      expect(b.response.status).to.equal(500);
    });

    it('finishes an aborted request (client destroys the socket mid-response) with aborted: true', async () => {
      t.server = await start();
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${t.server!.url}/stream`, { agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
        req.end();
      });
      const [ev] = await t.cap.waitForType('request', 1);
      const b = body(ev);
      expect(b.aborted).to.equal(true);
      expect(b.response.status).to.equal(200); // the headers had gone out
      expect(b.uri).to.equal('/stream');
      expect(b.request_time).to.be.a('number');
    });

    it('records nothing, and serves as usual, while Ziggy is unconfigured', async () => {
      configure(null);
      t.server = await start();
      const before = stats().rejectedCalls;
      const ok = await send(`${t.server.url}/work/3`);
      const err = await send(`${t.server.url}/boom`);
      expect(ok.status).to.equal(200);
      expect(JSON.parse(ok.body)).to.deep.equal({ n: 3 }); // no context, so no id
      expect(err.status).to.equal(500);
      expect(t.cap.events).to.have.length(0);
      expect(stats().rejectedCalls).to.equal(before);
    });

    it('samples request contexts with the sample option, dropping their sub-events too', async () => {
      t.server = await start({ sample: ['request', 0.5] });
      const url = t.server.url;
      const total = 200;
      for (let i = 0; i < total; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, j) => send(`${url}/work/${i + j}`)));
      }
      // A request's event follows its sub-events, once its response has finished.
      const parentsIn = (): boolean => {
        const ids = new Set(t.cap.ofType('request').map((e) => e.id));
        return t.cap.events.every((e) => e.type === 'request' || ids.has(e.id));
      };
      await waitFor(parentsIn, 5000, 'a request event for every sub-event (none from a dropped request)');
      const kept = t.cap.ofType('request');
      // Binomial(200, 0.5): sigma ~ 7.1; 5 sigma either side cannot flake.
      expect(kept.length).to.be.within(100 - 36, 100 + 36);
      const keptIds = new Set(kept.map((e) => e.id));
      const subs = t.cap.events.filter((e) => e.type !== 'request');
      expect(subs.length).to.be.at.least(kept.length); // every kept request has its .sql
      for (const s of subs) expect(keptIds.has(s.id), 'no sub-event of a dropped request').to.equal(true);
    });
  });
}

/**
 * `@Sample('..', 0.25)` on `.memcache` over 400 requests: the share of requests with a
 * memcache sub-event is Binomial(400, 0.25): mean 100, sigma ~ 8.7, checked at 5 sigma.
 */
export function describeSampling(framework: string, start: StartServer): void {
  describe(`${framework}: sampled sub-events`, () => {
    const t = eachTest<TestServer>();

    it("keeps about a quarter of the requests' .memcache sub-events (400 requests, 5 sigma)", async function () {
      this.timeout(20_000);
      t.server = await start();
      const url = t.server.url;
      for (let i = 0; i < 400; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, j) => send(`${url}/work/${i + j}`)));
      }
      const requests = await t.cap.waitForType('request', 400);
      const withMemcache = new Set(t.cap.ofType('request.memcache').map((e) => e.id));
      const ids = new Set(requests.map((e) => e.id));
      for (const id of withMemcache) expect(ids.has(id)).to.equal(true);
      expect(withMemcache.size).to.be.within(100 - 44, 100 + 44);
      expect(t.cap.ofType('request.sql')).to.have.length(400);
    });
  });
}
