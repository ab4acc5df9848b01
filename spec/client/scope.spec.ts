import { expect } from 'chai';
import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { current, enter, find, runIn, type Scoped } from '../../src/client/scope';

function scoped(name: string, parent: Scoped | null = null): Scoped {
  return { name, parent };
}

describe('client/scope', () => {
  describe('runIn', () => {
    it('makes the context current inside and restores the previous one after', () => {
      const a = scoped('a');
      const b = scoped('b', a);
      expect(current()).to.equal(undefined);
      const seen = runIn(
        a,
        function (this: { tag: string }, x: number, y: number) {
          const inner = runIn(b, () => current(), undefined, []);
          return [this.tag, x + y, current(), inner];
        },
        { tag: 'this' },
        [1, 2],
      );
      expect(seen).to.deep.equal(['this', 3, a, b]);
      expect(current()).to.equal(undefined);
    });

    it('restores the previous context when fn throws', () => {
      const a = scoped('a');
      expect(() =>
        runIn(
          a,
          () => {
            throw new Error('boom');
          },
          undefined,
          [],
        ),
      ).to.throw(Error, 'boom');
      expect(current()).to.equal(undefined);
    });
  });

  describe('find', () => {
    it('walks from the current context up through its parents', () => {
      const request = scoped('request');
      const sql = scoped('request.sql', request);
      runIn(
        sql,
        () => {
          expect(find('request.sql')).to.equal(sql);
          expect(find('request')).to.equal(request);
          expect(find('job')).to.equal(undefined);
        },
        undefined,
        [],
      );
      expect(find('request')).to.equal(undefined);
    });
  });

  describe('propagation', () => {
    it('survives await, timers, setImmediate, nextTick and Promise.all branches', async () => {
      const a = scoped('a');
      const seen = await runIn(
        a,
        async () => {
          const out: Array<Scoped | undefined> = [];
          await sleep(1);
          out.push(current());
          await immediate();
          out.push(current());
          await new Promise<void>((resolve) => setTimeout(() => (out.push(current()), resolve()), 1));
          await new Promise<void>((resolve) => setImmediate(() => (out.push(current()), resolve())));
          await new Promise<void>((resolve) => process.nextTick(() => (out.push(current()), resolve())));
          out.push(...(await Promise.all([1, 2, 3].map(async (n) => (await sleep(n), current())))));
          return out;
        },
        undefined,
        [],
      );
      expect(seen).to.have.length(8);
      for (const s of seen) expect(s).to.equal(a);
    });

    it('reaches EventEmitter listeners emitted from inside the unit of work', async () => {
      const a = scoped('a');
      const emitter = new EventEmitter();
      const seen: Array<Scoped | undefined> = [];
      emitter.on('tick', () => seen.push(current()));
      await runIn(
        a,
        async () => {
          emitter.emit('tick');
          await new Promise<void>((resolve) => setTimeout(() => (emitter.emit('tick'), resolve()), 1));
        },
        undefined,
        [],
      );
      emitter.emit('tick');
      expect(seen).to.deep.equal([a, a, undefined]);
    });

    it('never lets concurrent units see each other', async () => {
      const units = Array.from({ length: 20 }, (_, i) => scoped(`u${i}`));
      const results = await Promise.all(
        units.map((u, i) =>
          runIn(
            u,
            async () => {
              const seen: Array<Scoped | undefined> = [];
              for (let step = 0; step < 5; step++) {
                await sleep((i * 7 + step * 3) % 5);
                seen.push(current());
              }
              return seen;
            },
            undefined,
            [],
          ),
        ),
      );
      results.forEach((seen, i) => {
        for (const s of seen) expect(s).to.equal(units[i]);
      });
    });
  });

  describe('across async resources entered synchronously', () => {
    it('a resource created elsewhere and run inside runIn sees its own context, not the cached one', () => {
      const a = scoped('a');
      const b = scoped('b');
      const outside = new AsyncResource('outside');
      const fromB = runIn(b, () => new AsyncResource('from-b'), undefined, []);
      runIn(
        a,
        () => {
          expect(outside.runInAsyncScope(() => current())).to.equal(undefined);
          expect(fromB.runInAsyncScope(() => current())).to.equal(b);
          expect(current()).to.equal(a);
          const bound = AsyncResource.bind(() => current());
          expect(runIn(b, bound, undefined, [])).to.equal(a);
        },
        undefined,
        [],
      );
      outside.emitDestroy();
      fromB.emitDestroy();
    });

    it("a resource's scope sees its own context, and enter() inside it does not leak out", () => {
      const a = scoped('a');
      const b = scoped('b');
      const r = runIn(a, () => new AsyncResource('r'), undefined, []);
      expect(current()).to.equal(undefined);
      expect(r.runInAsyncScope(() => current())).to.equal(a);
      expect(current()).to.equal(undefined);
      // enter() inside the resource's scope holds for the rest of that scope only as far
      // as every runtime agrees: whether it outlives the scope differs between versions.
      expect(
        r.runInAsyncScope(() => {
          enter(b);
          return current();
        }),
      ).to.equal(b);
      expect(current()).to.equal(undefined);
      r.emitDestroy();
    });

    it('a repeating timer keeps the context it was created in on every firing', async () => {
      const a = scoped('a');
      const b = scoped('b');
      const seen: Array<Scoped | undefined> = [];
      await new Promise<void>((resolve) => {
        runIn(
          a,
          () => {
            let n = 0;
            const timer = setInterval(() => {
              seen.push(current());
              if (n === 0)
                seen.push(
                  runIn(b, () => current(), undefined, []),
                  current(),
                );
              if (++n === 3) {
                clearInterval(timer);
                resolve();
              }
            }, 1);
          },
          undefined,
          [],
        );
      });
      expect(seen).to.deep.equal([a, b, a, a, a]);
    });
  });

  describe('enter', () => {
    it('changes the current context for what follows and what it schedules, within runIn', async () => {
      const outer = scoped('outer');
      const a = scoped('a');
      let later: Scoped | undefined;
      let timer: Promise<void> = Promise.resolve();
      runIn(
        outer,
        () => {
          enter(a);
          expect(current()).to.equal(a);
          timer = new Promise<void>((resolve) => setTimeout(() => ((later = current()), resolve()), 1));
          enter(outer);
          expect(current()).to.equal(outer);
        },
        undefined,
        [],
      );
      expect(current()).to.equal(undefined);
      await timer;
      expect(later).to.equal(a);
    });

    it('inside runIn of the context already current, ends when runIn returns, for what is scheduled too', async () => {
      // Node's AsyncLocalStorage.run() neither switches nor restores a store already in force.
      const a = scoped('a');
      const sub = scoped('a.sub', a);
      let scheduled: Scoped | undefined;
      let timer: Promise<void> = Promise.resolve();
      runIn(
        a,
        () => {
          runIn(a, () => enter(sub), undefined, []);
          expect(current()).to.equal(a);
          timer = new Promise<void>((resolve) => setTimeout(() => ((scheduled = current()), resolve()), 1));
        },
        undefined,
        [],
      );
      await timer;
      expect(scheduled).to.equal(a);
    });
  });
});
