import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import type { ZiggyEvent } from '../../src/protocol/event';
import { add, append, bindContext, context, currentContext, merge, set, timeit, timer } from '../../src/client/api';
import { Context } from '../../src/client/context';
import { clientCounters } from '../../src/client/counters';
import { setRandomSource } from '../../src/client/sampling';
import { setRecorder } from '../../src/client/sink';
import { recordedEvents } from '../helpers/client';

describe('client/api', () => {
  const events = recordedEvents();

  describe('outside any context', () => {
    it('set, append, add, merge, timeit and timer do nothing and never throw', async () => {
      expect(currentContext()).to.equal(undefined);
      set('a', 1);
      append('b', 1);
      add('c', 1);
      merge('d', { e: 1 });
      merge({ f: 1 });
      expect(timeit('t', () => 'sync')).to.equal('sync');
      expect(await timeit('t', async () => 'async')).to.equal('async');
      expect(timer('t').stop()).to.be.a('number');
      expect(events).to.have.length(0);
    });
  });

  describe('inside a context', () => {
    it("write to the current context, like the seed's request example", () => {
      context('request', () => {
        set('user_agent', 'curl/8');
        timeit('request_time', () => {
          for (let i = 0; i < 1000; i++) Math.sqrt(i);
        });
        set('response.status', 200);
        set('response.size', 512);
        merge('response', { type: 'text/html' });
        append('events', 'rendered');
        add('db.queries', 2);
      });
      expect(events).to.have.length(1);
      const { type, body } = events[0];
      expect(type).to.equal('request');
      expect(body).to.deep.include({
        user_agent: 'curl/8',
        response: { status: 200, size: 512, type: 'text/html' },
        events: ['rendered'],
        db: { queries: 2 },
      });
      expect(body.request_time).to.be.a('number').and.to.be.at.least(0);
    });

    it('never throw into the application: bad calls are counted instead', () => {
      const before = clientCounters.rejectedCalls;
      const out = context('request', () => {
        set('status', 200);
        set('status.code', 1);
        set('', 1);
        set('__proto__.polluted', true);
        append('status', 1);
        add('status', 'x' as unknown as number);
        merge('status', { a: 1 });
        merge(JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
        return 'finished';
      });
      expect(out).to.equal('finished');
      expect(clientCounters.rejectedCalls - before).to.equal(7);
      expect(events[0].body).to.deep.equal({ status: 200 });
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });

    it('ignore a context that is already finished', async () => {
      let ctx: Context | undefined;
      let late: Promise<void> = Promise.resolve();
      context('request', () => {
        ctx = currentContext();
        // Scheduled inside the request, run after it finished: it still sees it as current.
        late = sleep(2).then(() => {
          expect(currentContext()).to.equal(ctx);
          set('late', 1);
          add('n', 1);
        });
      });
      await late;
      expect(ctx?.finished).to.equal(true);
      expect(ctx?.data).to.deep.equal({});
      expect(events).to.have.length(1);
    });

    it('timeit records sync, async and failing calls, and rethrows unchanged', async () => {
      const boom = new Error('query failed');
      await context('request', async () => {
        timeit('sync', () => 1);
        await timeit('async', () => sleep(10));
        await timeit('lazy', () => ({ then: (ok: (v: number) => void) => setTimeout(() => ok(1), 2) }));
        let caught: unknown;
        try {
          void timeit('throws', () => {
            throw boom;
          });
        } catch (e) {
          caught = e;
        }
        expect(caught).to.equal(boom);
        await timeit('rejects', () => Promise.reject(boom)).catch((e: unknown) => (caught = e));
        expect(caught).to.equal(boom);
      });
      const body = events[0].body as Record<string, number>;
      expect(Object.keys(body).sort()).to.deep.equal(['async', 'lazy', 'rejects', 'sync', 'throws']);
      expect(body.async).to.be.within(0.008, 1);
    });

    it('timer records into the context that was current when it started', async () => {
      let t: { stop(): number } | undefined;
      await context('request', async () => {
        t = timer('render_time');
        await sleep(5);
        context('.other', () => t?.stop());
      });
      expect(events.map((e) => e.type)).to.deep.equal(['request.other', 'request']);
      expect(events[0].body).to.deep.equal({});
      expect(events[1].body.render_time).to.be.within(0.003, 1);
    });
  });

  describe('context()', () => {
    it('opens a sub-context with options and returns what fn returns', async () => {
      const prev = setRandomSource(() => 0.1);
      try {
        const out = await context('request', { id: 'my-id' }, async () => {
          const rows = await context('.sql', async () => {
            set('query', 'select 1');
            return [1];
          });
          context('.memcache', { sample: ['..', 0.25] }, () => set('key', 'k'));
          return rows;
        });
        expect(out).to.deep.equal([1]);
      } finally {
        setRandomSource(prev);
      }
      expect(events.map((e) => [e.type, e.id, e.body])).to.deep.equal([
        ['request.sql', 'my-id', { query: 'select 1' }],
        ['request.memcache', 'my-id', { key: 'k' }],
        ['request', 'my-id', {}],
      ]);
    });

    it('records an error thrown by fn and rethrows it unchanged', () => {
      const boom = new Error('handler failed');
      expect(() =>
        context('request', () => {
          throw boom;
        }),
      ).to.throw(boom);
      expect(events[0].body.exception).to.include({ name: 'Error', message: 'handler failed' });
    });

    it('just calls fn while unconfigured', () => {
      setRecorder(null);
      const out = context('request', () => {
        expect(currentContext()).to.equal(undefined);
        set('a', 1);
        return 'plain';
      });
      expect(out).to.equal('plain');
    });

    it('runs fn without a context, counted, when the name or options are bad', () => {
      const before = clientCounters.rejectedCalls;
      expect(context('bad name', () => currentContext())).to.equal(undefined);
      expect(context('request', { sample: ['..', 7] }, () => currentContext())).to.equal(undefined);
      expect(clientCounters.rejectedCalls - before).to.equal(2);
      expect(events).to.have.length(0);
    });
  });

  describe('bindContext', () => {
    it('carries the context to listeners of an emitter created outside the unit of work', async () => {
      const shared = new EventEmitter();
      await context('request', async () => {
        shared.on(
          'data',
          bindContext((n: number) => add('bytes', n)),
        );
        await sleep(1);
      });
      // Emitted from outside: without binding there would be no current context here,
      // and the request is finished by now, so nothing may be written.
      shared.emit('data', 10);
      expect(events[0].body).to.deep.equal({});

      let release: () => void = () => undefined;
      const done = context('request', async () => {
        shared.removeAllListeners();
        shared.on(
          'data',
          bindContext((n: number) => add('bytes', n)),
        );
        await new Promise<void>((r) => (release = r));
      });
      shared.emit('data', 5);
      shared.emit('data', 7);
      release();
      await done;
      expect(events[1].body).to.deep.equal({ bytes: 12 });
    });

    it('returns fn itself when there is no current context', () => {
      const fn = (): number => 1;
      expect(bindContext(fn)).to.equal(fn);
    });
  });

  describe('concurrency', () => {
    it('keeps 100 interleaved async requests apart, each event with only its own fields and id', async () => {
      const ids = new Map<number, string>();
      await Promise.all(
        Array.from({ length: 100 }, (_, n) =>
          context('request', async () => {
            ids.set(n, (currentContext() as Context).id);
            set('n', n);
            await sleep(n % 7);
            await context('.sql', async () => {
              set('query', `select ${n}`);
              await timeit('query_time', () => sleep((n * 3) % 5));
              set('rows', n);
            });
            await immediate();
            await new Promise<void>((r) => process.nextTick(r));
            await Promise.all(
              [0, 1].map((b) =>
                context('.memcache', async () => {
                  await sleep((n + b) % 3);
                  set('key', `k${n}.${b}`);
                }),
              ),
            );
            await new Promise<void>((r) => setTimeout(r, n % 4));
            set('response.status', 200 + n);
          }),
        ),
      );
      expect(events).to.have.length(400);
      const byId = new Map<string, ZiggyEvent[]>();
      for (const e of events) byId.set(e.id, [...(byId.get(e.id) ?? []), e]);
      expect(byId.size).to.equal(100);
      for (const [n, id] of ids) {
        const mine = byId.get(id) ?? [];
        const request = mine.find((e) => e.type === 'request');
        const sql = mine.find((e) => e.type === 'request.sql');
        const memcache = mine.filter((e) => e.type === 'request.memcache');
        expect(mine).to.have.length(4);
        expect(request?.body).to.deep.equal({ n, response: { status: 200 + n } });
        expect(sql?.body).to.include({ query: `select ${n}`, rows: n });
        expect(Object.keys(sql?.body ?? {}).sort()).to.deep.equal(['query', 'query_time', 'rows']);
        expect(memcache.map((e) => e.body.key).sort()).to.deep.equal([`k${n}.0`, `k${n}.1`]);
      }
    });
  });
});
