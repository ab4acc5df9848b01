import { expect } from 'chai';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { idTimestamp } from '../../src/protocol/event';
import { Context, describeError } from '../../src/client/context';
import { clientCounters } from '../../src/client/counters';
import { setRandomSource, type RandomSource } from '../../src/client/sampling';
import { current } from '../../src/client/scope';
import { setRecorder } from '../../src/client/sink';
import { add, append, context, merge, set, timeit } from '../../src/client/api';
import { codeOf, recordedEvents } from '../helpers/client';

/** Cycles through the given draws forever. */
function cycling(...values: number[]): RandomSource {
  let i = 0;
  return () => values[i++ % values.length];
}

describe('client/context', () => {
  const events = recordedEvents();

  describe('naming and ids', () => {
    it('names a top-level context by its type and gives it a new time-ordered id', () => {
      const before = Math.floor(Date.now() / 1000);
      const ctx = new Context('request');
      expect(ctx.name).to.equal('request');
      expect(ctx.parent).to.equal(null);
      expect(ctx.id).to.match(/^[0-9a-f]{32}$/);
      expect(idTimestamp(ctx.id)).to.be.within(before, before + 2);
      expect(new Context('request').id).to.not.equal(ctx.id);
    });

    it("names '.sql' inside request 'request.sql', sharing the parent's id", () => {
      const request = new Context('request');
      request.run(() => {
        const sql = new Context('.sql');
        expect(sql.name).to.equal('request.sql');
        expect(sql.id).to.equal(request.id);
        expect(sql.parent).to.equal(request);
        sql.run(() => {
          const row = new Context('.row');
          expect(row.name).to.equal('request.sql.row');
          expect(row.id).to.equal(request.id);
        });
      });
    });

    it("names '.sql' with no open parent 'sql'", () => {
      const sql = new Context('.sql');
      expect(sql.name).to.equal('sql');
      expect(sql.parent).to.equal(null);
      expect(sql.id).to.match(/^[0-9a-f]{32}$/);
    });

    it("names '^.db' after the top-level context, wherever it is opened", () => {
      new Context('request').run(() => {
        new Context('.handler').run(() => {
          const db = new Context('^.db');
          expect(db.name).to.equal('request.db');
          expect(db.id).to.equal(current<Context>()?.id);
          expect(db.parent?.name).to.equal('request.handler');
        });
      });
      expect(new Context('^.db').name).to.equal('db');
    });

    it('starts a new top-level event for an absolute name opened inside another', () => {
      const request = new Context('request');
      request.run(() => {
        const job = new Context('job');
        expect(job.name).to.equal('job');
        expect(job.parent).to.equal(null);
        expect(job.id).to.not.equal(request.id);
      });
    });

    it('uses an explicit id, for top-level and sub-contexts alike', () => {
      const request = new Context('request', { id: 'abc' });
      expect(request.id).to.equal('abc');
      request.run(() => {
        expect(new Context('.sql').id).to.equal('abc');
        expect(new Context('.sql', { id: 'other' }).id).to.equal('other');
      });
    });

    it('refuses malformed type names with BAD_TYPE and bad options with BAD_CONFIG', () => {
      for (const bad of ['', '.', '^', '^.', '..sql', 'a..b', 'a.', 'a/b', '../etc', 'a b', 'x'.repeat(201)]) {
        expect(
          codeOf(() => new Context(bad)),
          bad,
        ).to.equal('BAD_TYPE');
      }
      expect(codeOf(() => new Context(42 as unknown as string))).to.equal('BAD_TYPE');
      expect(codeOf(() => new Context('request', { id: '' }))).to.equal('BAD_CONFIG');
      expect(codeOf(() => new Context('request', { sample: ['..', 3] }))).to.equal('BAD_CONFIG');
      expect(codeOf(() => new Context('request', 'x' as never))).to.equal('BAD_CONFIG');
    });

    it('checks every name, also right after a valid one was accepted', () => {
      for (const bad of ['', 'a b', '..x', 'request.']) {
        expect(
          codeOf(() => new Context('request')),
          'valid first',
        ).to.equal('no error');
        expect(
          codeOf(() => new Context(bad)),
          bad,
        ).to.equal('BAD_TYPE');
        expect(
          codeOf(() => new Context(undefined as unknown as string)),
          'undefined',
        ).to.equal('BAD_TYPE');
      }
      expect(new Context('request').name).to.equal('request');
    });

    it('refuses a sub-context whose full name grows past 200 characters', () => {
      const long = 'x'.repeat(150);
      new Context(long).run(() => {
        expect(codeOf(() => new Context(`.${'y'.repeat(60)}`))).to.equal('BAD_TYPE');
      });
    });
  });

  describe('run()', () => {
    it('records a sync context before returning its value', () => {
      const ctx = new Context('request');
      const t0 = Date.now() / 1000;
      const out = ctx.run(() => {
        ctx.set('a', 1);
        expect(current()).to.equal(ctx);
        expect(events).to.have.length(0);
        return 'value';
      });
      expect(out).to.equal('value');
      expect(current()).to.equal(undefined);
      expect(ctx.finished).to.equal(true);
      expect(events).to.have.length(1);
      const [e] = events;
      expect(e).to.include({ id: ctx.id, type: 'request', host: hostname(), pid: process.pid });
      expect(e.body).to.deep.equal({ a: 1 });
      expect(e.start).to.be.within(t0 - 0.01, t0 + 1);
      expect(e.end).to.be.at.least(e.start);
      expect(Object.keys(e).sort()).to.deep.equal(['body', 'end', 'host', 'id', 'pid', 'start', 'type']);
    });

    it('records an async context when its promise settles, with start and end around the work', async () => {
      const ctx = new Context('request');
      const p = ctx.run(async () => {
        await sleep(20);
        ctx.set('done', true);
        return 7;
      });
      expect(p).to.be.instanceOf(Promise);
      expect(events).to.have.length(0);
      expect(await p).to.equal(7);
      expect(events).to.have.length(1);
      expect(events[0].body).to.deep.equal({ done: true });
      expect(events[0].end - events[0].start).to.be.at.least(0.015);
    });

    it('records a sync error as exception and rethrows the very same error', () => {
      const boom = new TypeError('bad input');
      const ctx = new Context('request');
      let caught: unknown;
      try {
        void ctx.run(() => {
          ctx.set('step', 1);
          throw boom;
        });
      } catch (e) {
        caught = e;
      }
      expect(caught).to.equal(boom);
      expect(events).to.have.length(1);
      expect(events[0].body.step).to.equal(1);
      expect(events[0].body.exception).to.deep.equal({ name: 'TypeError', message: 'bad input', stack: boom.stack });
    });

    it('records a rejection as exception and rejects with the very same error', async () => {
      const boom = new RangeError('late');
      const p = new Context('request').run(async () => {
        await sleep(1);
        throw boom;
      });
      let caught: unknown;
      await p.catch((e: unknown) => (caught = e));
      expect(caught).to.equal(boom);
      expect(events[0].body.exception).to.include({ name: 'RangeError', message: 'late' });
    });

    it('handles a promise returned by a non-async function', async () => {
      const out = new Context('job').run(() => Promise.resolve(5));
      expect(events).to.have.length(0);
      expect(await out).to.equal(5);
      expect(events.map((e) => e.type)).to.deep.equal(['job']);
    });

    it('chains a lazy thenable exactly once and finishes when it settles', async () => {
      let thenCalls = 0;
      let started = 0;
      const lazy = {
        then<R1, R2>(ok: (v: number) => R1, fail: (e: unknown) => R2) {
          thenCalls++;
          started++;
          return new Promise<number>((resolve) => setTimeout(() => resolve(42), 5)).then(ok, fail);
        },
      };
      const out = new Context('query').run(() => lazy);
      expect(events).to.have.length(0);
      expect(await out).to.equal(42);
      expect(thenCalls).to.equal(1);
      expect(started).to.equal(1);
      expect(events.map((e) => e.type)).to.deep.equal(['query']);
    });

    it('treats a thenable whose then() throws as a rejection', async () => {
      const boom = new Error('then broke');
      const broken = {
        then(): never {
          throw boom;
        },
      };
      let caught: unknown;
      await new Context('query').run(() => broken as unknown as PromiseLike<number>).catch((e: unknown) => (caught = e));
      expect(caught).to.equal(boom);
      expect(events[0].body.exception).to.include({ message: 'then broke' });
    });

    it('records a thrown non-Error value too', () => {
      expect(() =>
        new Context('request').run(() => {
          throw 'just a string';
        }),
      ).to.throw();
      expect(events[0].body.exception).to.deep.equal({ name: 'string', message: 'just a string' });
    });

    it('refuses to run a finished context', () => {
      const ctx = new Context('request');
      ctx.run(() => 1);
      expect(codeOf(() => ctx.run(() => 2))).to.equal('BAD_STATE');
      expect(events).to.have.length(1);
    });

    it('records sub-contexts as separate events sharing the id, children first', () => {
      const request = new Context('request');
      request.run(() => {
        request.set('path', '/');
        for (const q of ['select 1', 'select 2']) new Context('.sql').run(() => current<Context>()?.set('query', q));
      });
      expect(events.map((e) => [e.type, e.id, e.body])).to.deep.equal([
        ['request.sql', request.id, { query: 'select 1' }],
        ['request.sql', request.id, { query: 'select 2' }],
        ['request', request.id, { path: '/' }],
      ]);
    });
  });

  describe('data operations', () => {
    it('set, append, add and merge write deep keys and chain', () => {
      const ctx = new Context('request');
      ctx.run(() => {
        ctx
          .set('response.status', 200)
          .append('tags', 'a')
          .append('tags', 'b')
          .add('db.queries')
          .add('db.queries', 2)
          .merge('response', { size: 512 })
          .merge({ user: { id: 'u1' } });
      });
      expect(events[0].body).to.deep.equal({
        response: { status: 200, size: 512 },
        tags: ['a', 'b'],
        db: { queries: 3 },
        user: { id: 'u1' },
      });
      expect(ctx.data).to.equal(events[0].body);
    });

    it('throws BAD_KEY for a set through a non-object, keeping the field', () => {
      const ctx = new Context('request').start();
      try {
        ctx.set('status', 200);
        expect(codeOf(() => ctx.set('status.code', 1))).to.equal('BAD_KEY');
        expect(codeOf(() => ctx.set('__proto__.polluted', 1))).to.equal('BAD_KEY');
        expect(codeOf(() => ctx.add('status', Number.NaN))).to.equal('BAD_VALUE');
        expect(ctx.data).to.deep.equal({ status: 200 });
      } finally {
        ctx.done();
      }
    });

    it('throws BAD_STATE for writes after done', () => {
      const ctx = new Context('request');
      ctx.done();
      expect(codeOf(() => ctx.set('late', 1))).to.equal('BAD_STATE');
      expect(codeOf(() => ctx.merge({ late: 1 }))).to.equal('BAD_STATE');
      expect(codeOf(() => ctx.timeit('late', () => 1))).to.equal('BAD_STATE');
    });

    it('timeit and timer record elapsed seconds as doubles', async () => {
      const ctx = new Context('request');
      await ctx.run(async () => {
        const sync = ctx.timeit('sync_time', () => 'v');
        expect(sync).to.equal('v');
        expect(await ctx.timeit('async_time', () => sleep(15).then(() => 'w'))).to.equal('w');
        const t = ctx.timer('timer_time');
        await sleep(10);
        const s = t.stop();
        expect(t.stop()).to.equal(s);
      });
      const body = events[0].body as Record<string, number>;
      expect(body.sync_time).to.be.a('number').and.be.within(0, 0.01);
      expect(body.async_time).to.be.within(0.012, 1);
      expect(body.timer_time).to.be.within(0.008, 1);
      expect(Number.isInteger(body.async_time)).to.equal(false);
    });
  });

  describe('start(), stop() and done()', () => {
    it('makes the context current for callback-style code, and stop() restores the parent', async () => {
      const request = new Context('request');
      await new Promise<void>((resolve) => {
        request.start();
        expect(current()).to.equal(request);
        const sql = new Context('.sql').start();
        expect(current()).to.equal(sql);
        setTimeout(() => {
          // Scheduled while .sql was current: it still is here.
          expect(current()).to.equal(sql);
          sql.set('rows', 3);
          sql.done();
          expect(current()).to.equal(request);
          request.set('status', 200);
          request.done();
          expect(current()).to.equal(undefined);
          resolve();
        }, 2);
        sql.stop();
        expect(current()).to.equal(request);
        request.stop();
        expect(current()).to.equal(undefined);
      });
      expect(events.map((e) => [e.type, e.body])).to.deep.equal([
        ['request.sql', { rows: 3 }],
        ['request', { status: 200 }],
      ]);
      expect(events[0].id).to.equal(events[1].id);
    });

    it('start() again resumes a stopped context; stop() of a non-current context changes nothing', () => {
      const a = new Context('a');
      a.start();
      a.stop();
      expect(current()).to.equal(undefined);
      a.start();
      expect(current()).to.equal(a);
      const b = new Context('b');
      b.stop();
      expect(current()).to.equal(a);
      a.done();
      expect(current()).to.equal(undefined);
      expect(events.map((e) => e.type)).to.deep.equal(['a']);
    });

    it('done(error) records the error; done twice and start after done are BAD_STATE', () => {
      const ctx = new Context('request').start();
      ctx.done(new Error('callback failed'));
      expect(events[0].body.exception).to.include({ name: 'Error', message: 'callback failed' });
      expect(codeOf(() => ctx.done())).to.equal('BAD_STATE');
      expect(codeOf(() => ctx.start())).to.equal('BAD_STATE');
      expect(events).to.have.length(1);
      expect(current()).to.equal(undefined);
    });

    it('done() inside run() records once', () => {
      const ctx = new Context('request');
      ctx.run(() => {
        ctx.set('a', 1);
        ctx.done();
      });
      expect(events).to.have.length(1);
    });
  });

  describe('sampling', () => {
    let restore: RandomSource;
    afterEach(() => setRandomSource(restore));

    it("['..', r]: keeps all of a request's memcache contexts, or none", () => {
      // Draws: request 1 keeps (0.1), request 2 drops (0.9).
      restore = setRandomSource(cycling(0.1, 0.9));
      for (let r = 0; r < 2; r++) {
        new Context('request').run(() => {
          for (let i = 0; i < 3; i++) new Context('.memcache', { sample: ['..', 0.25] }).run(() => 0);
        });
      }
      expect(events.map((e) => e.type)).to.deep.equal(['request.memcache', 'request.memcache', 'request.memcache', 'request', 'request']);
    });

    it("['memcache', r]: decides for every context", () => {
      restore = setRandomSource(cycling(0.1, 0.9));
      new Context('request').run(() => {
        for (let i = 0; i < 4; i++) new Context('.memcache', { sample: ['memcache', 0.25] }).run(() => 0);
      });
      expect(events.map((e) => e.type)).to.deep.equal(['request.memcache', 'request.memcache', 'request']);
    });

    it('a disabled context records nothing, keeps no fields and disables its descendants', () => {
      restore = setRandomSource(cycling(0.9));
      const request = new Context('request', { sample: ['.', 0.5] });
      expect(request.enabled).to.equal(false);
      request.run(() => {
        request.set('a', 1);
        const sql = new Context('.sql');
        expect(sql.enabled).to.equal(false);
        sql.run(() => sql.set('b', 2));
      });
      expect(request.data).to.deep.equal({});
      expect(events).to.have.length(0);
    });

    it('sampling is decided at creation and is visible through enabled', () => {
      restore = setRandomSource(cycling(0.1));
      expect(new Context('request', { sample: ['.', 0.5] }).enabled).to.equal(true);
      expect(new Context('request', { sample: ['.', 0] }).enabled).to.equal(false);
    });
  });

  describe('recording', () => {
    it('records nothing while unconfigured, yet runs normally', () => {
      setRecorder(null);
      const ctx = new Context('request');
      expect(ctx.run(() => (ctx.set('a', 1), 'ok'))).to.equal('ok');
      expect(ctx.data).to.deep.equal({ a: 1 });
      expect(events).to.have.length(0);
    });

    it('hands an event over frozen only when nothing in it can change any more', () => {
      const frozen: Record<string, boolean> = {};
      setRecorder((e, f) => (frozen[e.type] = f));
      const imports = { format: 'csv' };
      new Context('primitives').run(() => {
        set('a', 1);
        set('b.c', 'text');
        append('list', 2);
        add('n', 3);
        timeit('t', () => undefined);
      });
      new Context('failed').run(() => {
        try {
          void context('.inner', () => {
            throw new Error('boom');
          });
        } catch {
          // recorded as the sub-event's exception, which the context made itself
        }
      });
      new Context('object_value').run(() => set('import', imports));
      new Context('appended_object').run(() => append('imports', imports));
      new Context('merged').run(() => merge('import', imports));
      const exposed = new Context('exposed');
      exposed.run(() => void exposed.data);
      expect(frozen).to.deep.equal({
        primitives: true,
        'failed.inner': true,
        failed: true,
        object_value: false,
        appended_object: false,
        merged: false,
        exposed: false,
      });
    });

    it('swallows and counts a recorder that throws', () => {
      const before = clientCounters.recorderErrors;
      setRecorder(() => {
        throw new Error('recorder broke');
      });
      expect(new Context('request').run(() => 'still fine')).to.equal('still fine');
      expect(clientCounters.recorderErrors).to.equal(before + 1);
    });
  });

  describe('describeError', () => {
    it('describes errors and anything else thrown', () => {
      const e = new SyntaxError('x');
      expect(describeError(e)).to.deep.equal({ name: 'SyntaxError', message: 'x', stack: e.stack });
      expect(describeError(42)).to.deep.equal({ name: 'number', message: '42' });
      expect(describeError(undefined)).to.deep.equal({ name: 'undefined', message: 'undefined' });
    });
  });
});
