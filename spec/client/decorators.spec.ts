import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { isZiggyError } from '../../src/errors';
import { context, currentContext, set } from '../../src/client/api';
import { Context } from '../../src/client/context';
import { clientCounters } from '../../src/client/counters';
import { ORIGINAL, SAMPLE, TIMEIT, ZIGGY_CONTEXT } from '../../src/client/decorators/metadata-keys';
import { Sample, withSample } from '../../src/client/decorators/sample.decorator';
import { Timeit, withTimeit } from '../../src/client/decorators/timeit.decorator';
import { readPlan, type MethodPlan } from '../../src/client/decorators/wrap-method';
import { ZiggyContext, withContext, withDefaultContext } from '../../src/client/decorators/ziggy-context.decorator';
import { setRandomSource, type RandomSource } from '../../src/client/sampling';
import { setRecorder } from '../../src/client/sink';
import { codeOf, recordedEvents } from '../helpers/client';

type AnyDecorator = (target: object, key: string | symbol, d: PropertyDescriptor) => PropertyDescriptor | void;
type StandardDecorator = (value: unknown, context: { kind: string; name: string | symbol }) => unknown;

/**
 * Applies method decorators the way TypeScript does (last listed first), on a fresh class:
 * with `(prototype, key, descriptor)` as under experimentalDecorators, or, `standard`,
 * with `(method, context)` as TC39 decorators are called.
 */
function decorated(decorators: AnyDecorator[], body: (this: { tag: string }, a: number, b: number) => unknown, standard = false) {
  class Target {
    tag = 'instance';
    method(a: number, b: number): unknown {
      return body.call(this, a, b);
    }
  }
  let d = Object.getOwnPropertyDescriptor(Target.prototype, 'method') as PropertyDescriptor;
  for (let i = decorators.length - 1; i >= 0; i--) {
    if (standard) {
      const replaced = (decorators[i] as unknown as StandardDecorator)(d.value, { kind: 'method', name: 'method' });
      d = { ...d, value: replaced ?? d.value };
    } else {
      d = decorators[i](Target.prototype, 'method', d) || d;
    }
  }
  Object.defineProperty(Target.prototype, 'method', d);
  return new Target();
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('client/decorators', () => {
  const events = recordedEvents();

  describe('metadata', () => {
    it('each decorator records what it was asked for on the method, under its key', () => {
      class Repo {
        @ZiggyContext('.sql', { id: 'fixed' })
        @Timeit('query_time')
        @Timeit('total_time')
        @Sample('..', 0.5)
        find(): number {
          return 1;
        }
      }
      const fn = Repo.prototype.find as unknown as Record<symbol, unknown>;
      expect(fn[ZIGGY_CONTEXT]).to.deep.equal({ typeName: '.sql', options: { id: 'fixed' } });
      expect(fn[TIMEIT]).to.deep.equal(['total_time', 'query_time']);
      expect(fn[SAMPLE]).to.deep.equal(['..', 0.5]);
      expect(fn[ORIGINAL]).to.be.a('function').and.not.equal(fn);
      expect(Object.keys(fn)).to.deep.equal([]);
      expect(readPlan(fn)?.timeit).to.deep.equal(['total_time', 'query_time']);
    });

    it('the keys are global symbols', () => {
      expect(ZIGGY_CONTEXT).to.equal(Symbol.for('ziggy:context'));
      expect(TIMEIT).to.equal(Symbol.for('ziggy:timeit'));
      expect(SAMPLE).to.equal(Symbol.for('ziggy:sample'));
    });

    it('the plan functions are pure', () => {
      const original = (): number => 1;
      const plan: MethodPlan = { original, timeit: [] };
      const a = withTimeit(plan, 't');
      expect(plan.timeit).to.deep.equal([]);
      expect(withTimeit(a, 't')).to.equal(a);
      expect(withSample(a, ['.', 0.1]).sample).to.deep.equal(['.', 0.1]);
      const withOwn = withContext(a, { typeName: 'own' });
      expect(withDefaultContext(withOwn, { typeName: 'class' }).context?.typeName).to.equal('own');
      expect(withDefaultContext(a, { typeName: 'class' }).context?.typeName).to.equal('class');
      expect(readPlan(original)).to.equal(undefined);
    });
  });

  describe('@ZiggyContext on methods', () => {
    class Handler {
      constructor(private readonly prefix: string) {}

      @ZiggyContext('request')
      sync(a: number, b: number): string {
        set('sum', a + b);
        return `${this.prefix}${a + b}`;
      }

      @ZiggyContext('request')
      async asyncMethod(n: number): Promise<number> {
        await sleep(5);
        set('n', n);
        return n * 2;
      }

      @ZiggyContext('request')
      promiseReturning(n: number): Promise<number> {
        set('early', true);
        return sleep(5).then(() => (set('late', true), n + 1));
      }

      @ZiggyContext('request')
      failing(): never {
        throw new TypeError('sync failure');
      }

      @ZiggyContext('request')
      async rejecting(): Promise<never> {
        await sleep(1);
        throw new RangeError('async failure');
      }
    }

    it('keeps this, the name and the length', () => {
      const h = new Handler('=');
      expect(h.sync(1, 2)).to.equal('=3');
      expect(Handler.prototype.sync.name).to.equal('sync');
      expect(Handler.prototype.sync.length).to.equal(2);
      expect(Handler.prototype.asyncMethod.length).to.equal(1);
    });

    it('records a sync method before it returns', () => {
      new Handler('').sync(2, 3);
      expect(events.map((e) => [e.type, e.body])).to.deep.equal([['request', { sum: 5 }]]);
    });

    it('records an async method when it settles', async () => {
      const p = new Handler('').asyncMethod(4);
      expect(events).to.have.length(0);
      expect(await p).to.equal(8);
      expect(events.map((e) => [e.type, e.body])).to.deep.equal([['request', { n: 4 }]]);
    });

    it('records a non-async method returning a promise when it settles', async () => {
      expect(await new Handler('').promiseReturning(1)).to.equal(2);
      expect(events[0].body).to.deep.equal({ early: true, late: true });
    });

    it('records errors and rethrows them, sync and async', async () => {
      const h = new Handler('');
      expect(() => h.failing()).to.throw(TypeError, 'sync failure');
      let caught: unknown;
      await h.rejecting().catch((e: unknown) => (caught = e));
      expect(caught).to.be.instanceOf(RangeError);
      expect(events.map((e) => e.body.exception)).to.deep.equal([
        { name: 'TypeError', message: 'sync failure', stack: (events[0].body.exception as { stack: string }).stack },
        { name: 'RangeError', message: 'async failure', stack: (events[1].body.exception as { stack: string }).stack },
      ]);
    });

    it('returns a value whose `then` cannot be read as it is, recording the event', () => {
      // A strict proxy (config objects that throw on unknown keys) is not a promise.
      const strict = new Proxy(
        { ok: 1 },
        {
          get(target, p) {
            if (p in target) return (target as Record<string | symbol, unknown>)[p];
            throw new ReferenceError(`no property ${String(p)}`);
          },
        },
      );
      class Config {
        @ZiggyContext('config')
        @Timeit('load_time')
        load(): object {
          return strict;
        }
      }
      expect(new Config().load()).to.equal(strict);
      expect(context('outer', () => strict)).to.equal(strict);
      expect(events.map((e) => e.type)).to.deep.equal(['config', 'outer']);
      expect(events[0].body.load_time).to.be.a('number');
    });

    it('chains a lazy thenable once, never starting it twice', async () => {
      let starts = 0;
      class Query {
        @ZiggyContext('.query')
        @Timeit('query_time')
        run(): PromiseLike<string> {
          const lazy = {
            then(ok: (v: string) => unknown, fail: (e: unknown) => unknown) {
              starts++;
              return sleep(5)
                .then(() => 'rows')
                .then(ok, fail);
            },
          };
          return lazy as PromiseLike<string>;
        }
      }
      const out = await context('request', () => new Query().run());
      expect(out).to.equal('rows');
      expect(starts).to.equal(1);
      expect(events.map((e) => e.type)).to.deep.equal(['request.query', 'request']);
      expect(events[0].body.query_time).to.be.within(0.003, 1);
    });

    it('opens sub-contexts under the current context', () => {
      class Repo {
        @ZiggyContext('.sql')
        find(): string {
          set('query', 'select');
          return (currentContext() as Context).name;
        }
      }
      expect(context('request', () => new Repo().find())).to.equal('request.sql');
      expect(events.map((e) => [e.type, e.id === events[1].id])).to.deep.equal([
        ['request.sql', true],
        ['request', true],
      ]);
    });

    it('calls straight through while unconfigured', () => {
      setRecorder(null);
      class Plain {
        @ZiggyContext('request')
        @Timeit('t')
        m(): Context | undefined {
          return currentContext();
        }
      }
      expect(new Plain().m()).to.equal(undefined);
    });

    it('calls through without a context, counted, when a recursive name grows too long', () => {
      const before = clientCounters.rejectedCalls;
      class Tree {
        @ZiggyContext('.node_with_a_rather_long_name')
        walk(depth: number): number {
          return depth === 0 ? 0 : 1 + this.walk(depth - 1);
        }
      }
      expect(context('request', () => new Tree().walk(10))).to.equal(10);
      expect(clientCounters.rejectedCalls).to.be.greaterThan(before);
      for (const e of events) expect(e.type.length).to.be.at.most(200);
    });
  });

  describe('@Timeit', () => {
    it('records into the current context when the method opens none', async () => {
      class Service {
        @Timeit('work_time')
        async work(): Promise<string> {
          await sleep(10);
          return 'ok';
        }

        @Timeit('sync_time')
        @Timeit('also_time')
        compute(): number {
          return 42;
        }

        @Timeit('fail_time')
        fail(): never {
          throw new Error('nope');
        }
      }
      const s = new Service();
      await context('request', async () => {
        expect(await s.work()).to.equal('ok');
        expect(s.compute()).to.equal(42);
        expect(() => s.fail()).to.throw('nope');
      });
      const body = events[0].body as Record<string, number>;
      expect(Object.keys(body).sort()).to.deep.equal(['also_time', 'fail_time', 'sync_time', 'work_time']);
      expect(body.work_time).to.be.within(0.008, 1);
      expect(body.sync_time).to.equal(body.also_time);
      // No current context: nothing recorded, the call still works.
      expect(s.compute()).to.equal(42);
      expect(events).to.have.length(1);
    });
  });

  describe('stacking order', () => {
    let restore: RandomSource;
    afterEach(() => setRandomSource(restore));

    const decorators = [
      ['@ZiggyContext', ZiggyContext('.memcache')],
      ['@Timeit', Timeit('get_time')],
      ['@Sample', Sample('..', 0.5)],
    ] as const;

    for (const [standard, order] of permutations([...decorators]).flatMap((o) => [false, true].map((m) => [m, o] as const))) {
      it(`does not matter (${standard ? 'TC39' : 'legacy'} calls): ${order.map(([n]) => n).join(' ')}`, async () => {
        // Request 1 keeps its memcache contexts (draw 0.1), request 2 drops them (0.9).
        let draw = 0;
        restore = setRandomSource(() => [0.1, 0.9][draw++ % 2]);
        const cache = decorated(
          order.map(([, d]) => d as AnyDecorator),
          async function (this: { tag: string }, a: number, b: number) {
            await sleep(1);
            set('key', `${this.tag}:${a + b}`);
            return a + b;
          },
          standard,
        );
        for (let r = 0; r < 2; r++) {
          await context('request', async () => {
            expect(await (cache.method(1, 2) as Promise<number>)).to.equal(3);
            await cache.method(3, 4);
          });
        }
        expect(events.map((e) => e.type)).to.deep.equal(['request.memcache', 'request.memcache', 'request', 'request']);
        expect(events[0].body.key).to.equal('instance:3');
        expect(events[1].body.key).to.equal('instance:7');
        for (const e of events.slice(0, 2)) expect(e.body.get_time).to.be.a('number');
        for (const e of events.slice(2)) expect(e.body).to.deep.equal({});
        expect(draw).to.equal(2);
      });
    }
  });

  describe('@ZiggyContext on a class', () => {
    class Base {
      inherited(): Context | undefined {
        return currentContext();
      }
    }

    @ZiggyContext('.repo')
    class Repo extends Base {
      plain(): string {
        return (currentContext() as Context).name;
      }

      @Timeit('save_time')
      async save(): Promise<string> {
        await sleep(2);
        return (currentContext() as Context).name;
      }

      @ZiggyContext('.own')
      own(): string {
        return (currentContext() as Context).name;
      }

      get accessor(): Context | undefined {
        return currentContext();
      }

      static create(): Repo {
        return new Repo();
      }
    }

    it("wraps each own method, with the method's own @Timeit in that context", async () => {
      const repo = new Repo();
      await context('request', async () => {
        expect(repo.plain()).to.equal('request.repo');
        expect(await repo.save()).to.equal('request.repo');
      });
      expect(events.map((e) => e.type)).to.deep.equal(['request.repo', 'request.repo', 'request']);
      expect(events[1].body.save_time).to.be.a('number');
      expect(events[2].body).to.deep.equal({});
    });

    it("lets a method's own @ZiggyContext win, and leaves accessors, statics and inherited methods alone", () => {
      const repo = Repo.create();
      context('request', () => {
        expect(repo.own()).to.equal('request.own');
        expect(repo.accessor?.name).to.equal('request');
        expect(repo.inherited()?.name).to.equal('request');
      });
      expect(events.map((e) => e.type)).to.deep.equal(['request.own', 'request']);
      expect((Repo as unknown as Record<symbol, unknown>)[ZIGGY_CONTEXT]).to.deep.equal({ typeName: '.repo' });
    });
  });

  describe('reflect metadata', () => {
    it('is copied from the original method, and design metadata stays readable', () => {
      const Tag =
        (value: string): MethodDecorator =>
        (_t, _k, d) => {
          Reflect.defineMetadata('custom:tag', value, d.value as object);
        };
      class Api {
        @ZiggyContext('request')
        @Timeit('t')
        @Tag('hello')
        get(id: string, n: number): string {
          return `${id}${n}`;
        }
      }
      expect(Reflect.getOwnMetadata('custom:tag', Api.prototype.get)).to.equal('hello');
      expect(Reflect.getMetadata('design:paramtypes', Api.prototype, 'get')).to.deep.equal([String, Number]);
      expect(new Api().get('a', 1)).to.equal('a1');
    });
  });

  describe('misuse', () => {
    it('is refused when the class is defined, with a clear code', () => {
      const codes: string[] = [];
      const attempt = (fn: () => unknown): void => {
        try {
          fn();
          codes.push('no error');
        } catch (e) {
          codes.push(isZiggyError(e) ? e.code : 'other');
        }
      };
      attempt(() => ZiggyContext('bad name'));
      attempt(() => ZiggyContext('request', { sample: ['..', 2] }));
      attempt(() => Timeit(''));
      attempt(() => Sample('..', -1));
      attempt(() => {
        class WithAccessor {
          @Timeit('t')
          get value(): number {
            return 1;
          }
        }
        return WithAccessor;
      });
      expect(codes).to.deep.equal(['BAD_TYPE', 'BAD_CONFIG', 'BAD_KEY', 'BAD_CONFIG', 'BAD_CONFIG']);
    });

    it('is refused the same way when called as a TC39 decorator on anything but a method', () => {
      const call = (d: unknown, value: unknown, kind: string) => () => (d as StandardDecorator)(value, { kind, name: 'x' });
      const getter = (): number => 1;
      class C {}
      expect([
        codeOf(call(Timeit('t'), getter, 'getter')),
        codeOf(call(Sample('.', 1), undefined, 'field')),
        codeOf(call(ZiggyContext('.x'), { get: getter, set: getter }, 'accessor')),
        codeOf(call(Timeit('t'), C, 'class')),
        codeOf(call(Timeit('t'), getter, 'method')),
      ]).to.deep.equal(['BAD_CONFIG', 'BAD_CONFIG', 'BAD_CONFIG', 'BAD_CONFIG', 'no error']);
    });

    it('@Sample without any context changes nothing', () => {
      class Lone {
        @Sample('.', 0)
        m(x: number): number {
          return x + 1;
        }
      }
      expect(context('request', () => new Lone().m(1))).to.equal(2);
      expect(events).to.have.length(1);
    });
  });

  describe('without reflect-metadata or tsyringe', () => {
    it('decorates, records and loads the public index in a process that never loaded them', async function () {
      this.timeout(20000);
      const script = `
        const assert = require('node:assert');
        assert.strictEqual(typeof Reflect.getOwnMetadataKeys, 'undefined');
        const ziggy = require('./src/index');
        const { setRecorder } = require('./src/client/sink');
        const events = [];
        setRecorder((e) => events.push(e));
        class Repo { find(a, b) { ziggy.set('q', a + b); return a + b; } }
        let d = Object.getOwnPropertyDescriptor(Repo.prototype, 'find');
        d = ziggy.Timeit('t')(Repo.prototype, 'find', d) || d;
        d = ziggy.ZiggyContext('.sql')(Repo.prototype, 'find', d) || d;
        Object.defineProperty(Repo.prototype, 'find', d);
        const out = ziggy.context('request', () => new Repo().find(1, 2));
        assert.strictEqual(out, 3);
        assert.strictEqual(Repo.prototype.find.length, 2);
        assert.strictEqual(typeof Reflect.getOwnMetadataKeys, 'undefined');
        const loaded = Object.keys(require.cache).filter((p) => /node_modules[\\\\/](reflect-metadata|tsyringe)[\\\\/]/.test(p));
        assert.deepStrictEqual(loaded, []);
        process.stdout.write(JSON.stringify(events.map((e) => [e.type, e.body.q, typeof e.body.t])));
      `;
      const { stdout } = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', '-e', script], {
        cwd: process.cwd(),
        timeout: 15000,
      });
      expect(JSON.parse(stdout)).to.deep.equal([
        ['request.sql', 3, 'number'],
        ['request', null, 'undefined'],
      ]);
    });
  });
});
