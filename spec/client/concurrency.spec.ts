import { expect } from 'chai';
import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { close, configure, flush } from '../../src/client/configure';
import { add, append, context, set, timeit, ZiggyContext } from '../../src/index';
import { pullCollector } from '../helpers/client';
import { freeEndpoint, waitFor } from '../helpers/net';

// Every spec here runs on each supported Node (npm run test:matrix): the current context
// must be right however the runtime builds AsyncLocalStorage. Events go through the real
// transport to a real socket, because the transport's own path (field lists) is what
// read the wrong context before.

type Doc = { id: string; type: string; start: number; end: number; body: Record<string, unknown> };

/** A random short pause through one of the ways Node schedules work. */
function pause(i: number, step: number): Promise<unknown> {
  switch ((i + step) % 4) {
    case 0:
      return sleep(i % 3);
    case 1:
      return immediate();
    case 2:
      return new Promise<void>((resolve) => process.nextTick(resolve));
    default:
      return Promise.resolve();
  }
}

class Repo {
  constructor(readonly tag: string) {}

  @ZiggyContext('.sql')
  async query(i: number): Promise<string> {
    set('sql.request', i);
    await pause(i, 1);
    set('sql.owner', this.tag);
    return this.tag;
  }

  @ZiggyContext('.cache')
  lookup(i: number): number {
    set('cache.request', i);
    return i;
  }
}

async function* numbers(i: number): AsyncGenerator<number> {
  for (let k = 0; k < 3; k++) {
    await pause(i, k);
    yield k;
  }
}

/** One request: its own number crosses every kind of asynchronous boundary. */
async function request(i: number): Promise<void> {
  await context('request', async () => {
    set('request', i);
    await pause(i, 0);
    set('after.await', i);
    await new Promise<void>((resolve) => setTimeout(() => (set('after.timer', i), resolve()), i % 5));
    await new Promise<void>((resolve) => setImmediate(() => (set('after.immediate', i), resolve())));
    await new Promise<void>((resolve) => process.nextTick(() => (set('after.tick', i), resolve())));
    const emitter = new EventEmitter();
    emitter.on('ping', (n: number) => set('after.emitter', n === i ? i : -1));
    setImmediate(() => emitter.emit('ping', i));
    await once(emitter, 'ping');
    await Promise.all([0, 1, 2].map(async (k) => (await pause(i, k), append('all', i))));
    for await (const k of numbers(i)) add('iterated', k);
    const stream = Readable.from([1, 2, 3]);
    stream.on('data', (n: number) => add('streamed', n === 0 ? 0 : i));
    await once(stream, 'end');
    const repo = new Repo(`repo-${i}`);
    set('owner', await repo.query(i));
    set('cached', repo.lookup(i));
    await timeit('nested_time', () => context('.job', async () => (await pause(i, 2), set('job.request', i))));
    set('request_end', i);
  });
}

describe('client: the current context under concurrency (every runtime)', () => {
  let sink: Awaited<ReturnType<typeof pullCollector<Doc>>>;

  beforeEach(async () => {
    const endpoint = await freeEndpoint();
    sink = await pullCollector<Doc>(endpoint);
    configure(endpoint, { flushInterval: 1 });
  });

  afterEach(async () => {
    await close();
    await sink.stop();
  });

  it('gives each of 100 interleaved requests only its own fields and its own id', async () => {
    const n = 100;
    await Promise.all(Array.from({ length: n }, (_, i) => request(i)));
    await flush();
    await waitFor(() => sink.docs.length >= n * 4, 5000, `${n * 4} events`);

    const requests = sink.docs.filter((d) => d.type === 'request');
    expect(requests).to.have.length(n);
    const byId = new Map<string, number>();
    for (const r of requests) {
      const i = r.body.request as number;
      expect(r.body, `request ${i}`).to.deep.equal({
        request: i,
        after: { await: i, timer: i, immediate: i, tick: i, emitter: i },
        all: [i, i, i],
        iterated: 3,
        streamed: 3 * i,
        owner: `repo-${i}`,
        cached: i,
        nested_time: r.body.nested_time,
        request_end: i,
      });
      expect(r.body.nested_time).to.be.a('number');
      byId.set(r.id, i);
    }
    expect(byId.size, 'distinct request ids').to.equal(n);

    const subs = sink.docs.filter((d) => d.type !== 'request');
    expect(subs.map((d) => d.type).sort()).to.deep.equal(
      [...Array(n).fill('request.cache'), ...Array(n).fill('request.job'), ...Array(n).fill('request.sql')].sort(),
    );
    for (const s of subs) {
      const owner = byId.get(s.id);
      expect(owner, `${s.type} ${s.id} belongs to a request`).to.be.a('number');
      const fields = s.body.sql ?? s.body.cache ?? s.body.job;
      expect((fields as { request: number }).request, `${s.type} of request ${owner}`).to.equal(owner);
      if (s.type === 'request.sql') expect(s.body.sql).to.deep.equal({ request: owner, owner: `repo-${owner}` });
    }
  });

  it('never lets a sub-event start before or end after its parent under seconds of load', async function () {
    this.timeout(15_000);
    const until = Date.now() + 3000;
    let requests = 0;
    const worker = async (w: number): Promise<void> => {
      while (Date.now() < until) {
        const i = requests++;
        await context('load', async () => {
          set('i', i);
          await context('.a', async () => {
            await context('.b', () => pause(i + w, 0));
            await pause(i, 1);
          });
          context('.c', () => set('sync', true));
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    await flush();
    await waitFor(() => sink.docs.length >= requests * 4, 10_000, `${requests * 4} events`);

    const parents = new Map<string, Doc>();
    for (const d of sink.docs) if (d.type === 'load') parents.set(d.id, d);
    const byTypeAndId = new Map<string, Doc>();
    for (const d of sink.docs) byTypeAndId.set(`${d.type} ${d.id}`, d);
    let violations = 0;
    let checked = 0;
    for (const d of sink.docs) {
      if (d.type === 'load') continue;
      const parentType = d.type === 'load.a.b' ? 'load.a' : 'load';
      const parent = byTypeAndId.get(`${parentType} ${d.id}`);
      expect(parent, `${d.type}'s parent`).to.not.equal(undefined);
      checked++;
      if (d.start < parent!.start || d.end > parent!.end || d.end < d.start) violations++;
    }
    expect(parents.size).to.equal(requests);
    expect(checked).to.equal(requests * 3);
    expect(violations, `of ${checked} sub-events`).to.equal(0);
  });
});
