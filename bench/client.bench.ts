// Client benchmark (`npm run bench:client`): what one wide event costs the application,
// against pino and OpenTelemetry doing the same work in the same run, and what a
// decorated method costs while Ziggy is unconfigured.
//
// The wide event: a context with 7 fields set (nested keys included) and one timeit,
// sent as BSON to a real PULL socket drained by a child process (as ziggyd would be).
// pino: a child logger + info() with the same 8 fields, to a file (async sonic-boom).
// OpenTelemetry: startActiveSpan + setAttributes (flattened) + end, BatchSpanProcessor
// with an exporter that does nothing, and an AsyncLocalStorage context manager like
// the one Node SDK setups install.
//
// Also measured: the floor, a program doing only the work no implementation can skip
// (clock readings, one AsyncLocalStorage.run, an id, this one event's BSON bytes written
// by code specialised to it, in runs), which bounds the ratios any client could reach.
//
// Each figure is measured twice: wall-clock time, and the CPU time of this process (all
// its threads: ZeroMQ's I/O thread and pino's file writes included). This VM has 2 cores
// shared with other work, and the collector child runs beside us: wall time then also
// counts time spent waiting for a core, which moves with whatever else runs. CPU time
// counts only the work done here, so the targets are judged on it.
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as otelApi from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { Pull } from 'zeromq';
import { splitFrame } from '../src/protocol/codec';
import { idPool, newEventId, takeId } from '../src/protocol/event';
import { EventBody } from '../src/client/event-body';
import type { OutgoingEvent } from '../src/client/field-list';
import { splitKey } from '../src/client/keys';
import { EventWriter } from '../src/client/serializer';
import { setDestination, setOutgoingSink } from '../src/client/sink';
import { Transport, type TransportCounters } from '../src/client/transport';
import { close, configure, context, flush, set, stats, timeit, ZiggyContext } from '../src/index';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const EVENTS_PER_ROUND = Number(process.env.BENCH_EVENTS ?? 30_000);
// Events between two yields to the event loop: a real application yields between
// requests; the sender's queue (10,000) must never be what limits a tight loop.
const CHUNK = 1000;

// The same values everywhere.
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PATH = '/api/users/42/orders';
let sink = 0;
function work(): number {
  return ++sink;
}

// ---------------------------------------------------------------------------- collector

/** The collector child: binds PULL on argv[3], counts documents, answers 'count' over IPC. */
async function collectorMain(endpoint: string): Promise<void> {
  const pull = new Pull({ receiveHighWaterMark: 0 });
  await pull.bind(endpoint);
  let docs = 0;
  let bad = 0;
  process.on('message', (m) => {
    if (m === 'count') process.send?.({ docs, bad });
    if (m === 'stop') {
      pull.close();
      process.disconnect();
    }
  });
  process.send?.('ready');
  try {
    for await (const [msg] of pull) {
      const split = splitFrame(msg);
      docs += split.docs.length;
      if (split.badOffset !== undefined) bad++;
    }
  } catch {
    // closed
  }
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

// ---------------------------------------------------------------------------- scenarios

function ziggyEvent(): void {
  context('request', () => {
    set('user_agent', UA);
    set('method', 'GET');
    set('path', PATH);
    set('response.status', 200);
    set('response.size', 5123);
    set('user.id', 42);
    set('user.plan', 'pro');
    timeit('request_time', work);
  });
}

/** The AsyncLocalStorage context manager OpenTelemetry's Node setup installs, in a few lines. */
class AlsContextManager implements otelApi.ContextManager {
  private readonly als = new AsyncLocalStorage<otelApi.Context>();
  active(): otelApi.Context {
    return this.als.getStore() ?? otelApi.ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: otelApi.Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(ctx: otelApi.Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (...a: unknown[]) => this.with(ctx, target as (...x: unknown[]) => unknown, undefined, ...a);
    return run as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.als.disable();
    return this;
  }
}

/** pino and OpenTelemetry, set up only in the measuring process. */
function setupPeers() {
  const pinoFile = join(tmpdir(), `ziggy-bench-pino-${process.pid}.log`);
  const pinoDest = pino.destination({ dest: pinoFile, sync: false });
  const pinoLogger = pino({ base: undefined }, pinoDest);

  function pinoEvent(): void {
    const log = pinoLogger.child({ type: 'request' });
    const t0 = performance.now();
    work();
    const requestTime = (performance.now() - t0) / 1000;
    log.info(
      { user_agent: UA, method: 'GET', path: PATH, response: { status: 200, size: 5123 }, user: { id: 42, plan: 'pro' }, request_time: requestTime },
      'request',
    );
  }

  let otelExported = 0;
  const noopExporter: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      otelExported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  otelApi.context.setGlobalContextManager(new AlsContextManager());
  const otelProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(noopExporter, { maxQueueSize: 100_000, maxExportBatchSize: 512, scheduledDelayMillis: 50 })],
  });
  const tracer = otelProvider.getTracer('bench');

  function otelEvent(): void {
    tracer.startActiveSpan('request', (span) => {
      span.setAttributes({
        user_agent: UA,
        method: 'GET',
        path: PATH,
        'response.status': 200,
        'response.size': 5123,
        'user.id': 42,
        'user.plan': 'pro',
      });
      const t0 = performance.now();
      work();
      span.setAttribute('request_time', (performance.now() - t0) / 1000);
      span.end();
    });
  }

  return {
    pinoEvent,
    otelEvent,
    ready: () => new Promise((resolve) => pinoDest.once('ready', resolve)),
    async finish(): Promise<number> {
      await otelProvider.shutdown();
      pinoDest.flushSync();
      pinoDest.end();
      rmSync(pinoFile, { force: true });
      return otelExported;
    },
  };
}

/**
 * The unavoidable part of a wide event, with nothing general about it: the four clock
 * readings (start, end, and the timeit's two), one AsyncLocalStorage.run (the context
 * must be current while the work runs), one id, and this exact event's BSON bytes,
 * written by code that knows every key, type and position in advance. No context object,
 * sampling, field storage, batching or sending. Whatever Ziggy spends above this is
 * bookkeeping; the peers' ratios are bounded by it.
 */

class Floor {
  private readonly als = new AsyncLocalStorage<object>();
  private readonly store = {};
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;
  private readonly host = hostname();
  private readonly f64 = new Float64Array(1);
  private readonly f64Bytes = new Uint8Array(this.f64.buffer);

  // Encoded in runs of 64, as Ziggy's transport does, so the encoder stays hot.
  private readonly ids: string[] = [];
  private readonly times: number[] = [];

  event(): void {
    const t0 = performance.now();
    this.als.run(this.store, () => {
      const a = performance.now();
      work();
      const requestTime = (performance.now() - a) / 1000;
      this.ids.push(newEventId());
      this.times.push(t0 / 1000, performance.now() / 1000, requestTime);
    });
    if (this.ids.length === 64) {
      for (let i = 0; i < 64; i++) this.encode(this.ids[i], this.times[3 * i], this.times[3 * i + 1], this.times[3 * i + 2]);
      this.ids.length = 0;
      this.times.length = 0;
    }
  }

  encodeOnly(): number {
    this.encode('0123456789abcdef0123456789abcdef', 1.5, 2.5, 0.001);
    return this.pos;
  }

  private encode(id: string, start: number, end: number, requestTime: number): void {
    if (this.pos > this.buf.length - 65536) this.pos = 0;
    const at = this.pos;
    this.pos += 4;
    this.str('id', id);
    this.str('type', 'request');
    this.str('host', this.host);
    this.int('pid', process.pid);
    this.double('start', start);
    this.double('end', end);
    const body = this.open('body');
    this.str('user_agent', UA);
    this.str('method', 'GET');
    this.str('path', PATH);
    const response = this.open('response');
    this.int('status', 200);
    this.int('size', 5123);
    this.close(response);
    const user = this.open('user');
    this.int('id', 42);
    this.str('plan', 'pro');
    this.close(user);
    this.double('request_time', requestTime);
    this.close(body);
    this.buf[this.pos++] = 0;
    this.int32At(at, this.pos - at);
  }

  private key(kind: number, k: string): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = kind;
    for (let i = 0; i < k.length; i++) b[p++] = k.charCodeAt(i);
    b[p++] = 0;
    this.pos = p;
  }

  // These strings are ASCII: short ones by a loop, long ones by one call into C++
  // (whichever is faster at each length).
  private str(k: string, v: string): void {
    this.key(0x02, k);
    const b = this.buf;
    const at = this.pos;
    const n = v.length;
    if (n <= 24) {
      for (let i = 0; i < n; i++) b[at + 4 + i] = v.charCodeAt(i);
    } else {
      b.write(v, at + 4, n, 'latin1');
    }
    this.int32At(at, n + 1);
    b[at + 4 + n] = 0;
    this.pos = at + 5 + n;
  }

  private int(k: string, v: number): void {
    this.key(0x10, k);
    this.int32At(this.pos, v);
    this.pos += 4;
  }

  private double(k: string, v: number): void {
    this.key(0x01, k);
    this.f64[0] = v;
    this.buf.set(this.f64Bytes, this.pos);
    this.pos += 8;
  }

  private open(k: string): number {
    this.key(0x03, k);
    this.pos += 4;
    return this.pos - 4;
  }

  private close(at: number): void {
    this.buf[this.pos++] = 0;
    this.int32At(at, this.pos - at);
  }

  private int32At(p: number, v: number): void {
    const b = this.buf;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
  }
}

class Service {
  plain(x: number): number {
    return x + 1;
  }

  @ZiggyContext('request')
  decorated(x: number): number {
    return x + 1;
  }
}

// ---------------------------------------------------------------------------- timing

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Nanoseconds per event, wall-clock and CPU time of this process. */
interface Cost {
  wall: number;
  cpu: number;
}

const cpuNs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

/** Cost per call of `fn`, over `n` calls made in chunks with the event loop turning between. */
async function perEvent(fn: () => void, n: number): Promise<Cost> {
  const c0 = cpuNs();
  const t0 = process.hrtime.bigint();
  for (let done = 0; done < n; done += CHUNK) {
    for (let i = 0; i < CHUNK; i++) fn();
    await yieldToLoop();
  }
  const wall = Number(process.hrtime.bigint() - t0) / n;
  return { wall, cpu: (cpuNs() - c0) / n };
}

/** ns per call of a tight synchronous loop (for the unconfigured decorated call). */
function perCall(fn: (i: number) => number, n: number): number {
  let acc = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) acc += fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  sink += acc & 1;
  return ns;
}

/** CPU ns per call of a tight synchronous loop (for the speed tricks: robust to waiting for a core). */
function perCallCpu(fn: (i: number) => number, n: number): number {
  let acc = 0;
  const c0 = cpuNs();
  for (let i = 0; i < n; i++) acc += fn(i);
  const ns = (cpuNs() - c0) / n;
  sink += acc & 1;
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Medians of wall and CPU time, each taken on its own. */
function medianCost(xs: Cost[]): Cost {
  return { wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) };
}

const fmt = (ns: number): string => `${ns.toFixed(0).padStart(6)} ns`;
const both = (c: Cost): string => `${fmt(c.cpu)} cpu ${fmt(c.wall)} wall`;

// ---------------------------------------------------------------------------- speed tricks

/**
 * Each speed trick of the event path, against the plain way it replaces, on this event:
 * ns per event with and without it. A trick must gain at least ~3% of a whole event to
 * stay (see README, "Speed tricks"). Those inside the encoder are measured as the
 * technique alone on this event's own strings and numbers.
 */
interface Trick {
  name: string;
  on: () => number | Promise<number>;
  off: () => number | Promise<number>;
}

async function measureTricks(endpoint: string, wideEventNs: number): Promise<void> {
  const writer = new EventWriter();
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  const write = (ev: OutgoingEvent): number => {
    if (pos > buf.length - 65536) pos = 0;
    pos = writer.write(ev, buf, pos, buf.length);
    return pos;
  };
  const envelope = (): Omit<OutgoingEvent, 'body'> => ({ id: '', type: 'request', host: hostname(), pid: process.pid, start: 1.5, end: 2.5 });
  const fill = (body: EventBody): EventBody => {
    body.set('user_agent', UA);
    body.set('method', 'GET');
    body.set('path', PATH);
    body.set('response.status', 200);
    body.set('response.size', 5123);
    body.set('user.id', 42);
    body.set('user.plan', 'pro');
    body.adopt('request_time', 0.001);
    return body;
  };
  const head = envelope();
  const N = EVENTS_PER_ROUND * 2;
  const idEv = (): OutgoingEvent => ({ ...head, body: fill(new EventBody(true)).content() });
  const listEv = idEv();
  const pooledEv = { ...listEv, idBytes: idPool(), idAt: takeId() };
  const id32 = { ...listEv, id: newEventId() };
  const id33 = { ...listEv, id: `${newEventId()}0` };

  // Held runs, in place: the whole wide event through a Transport of its own to the
  // collector, events handed over as frozen (held, encoded in runs) or not (encoded at once).
  const counters: TransportCounters = { sent: 0, dropped: 0, batches: 0, bytes: 0, encodeErrors: 0 };
  const t = new Transport(
    { url: `tcp://${endpoint}`, highWaterMark: 100_000, linger: 1000, batchBytes: 64 * 1024, flushInterval: 10, sendHighWaterMark: 64 },
    counters,
  );
  const held = { readsLists: true, record: (ev: OutgoingEvent, frozen: boolean) => t.record(ev, frozen), settle: () => t.settle() };
  const atOnce = { readsLists: true, record: (ev: OutgoingEvent) => t.record(ev, false), settle: () => t.settle() };
  const inPlace = async (dest: typeof held): Promise<number> => {
    setDestination(dest);
    const c = await perEvent(ziggyEvent, EVENTS_PER_ROUND);
    setDestination(null);
    await t.flush(2000);
    return c.cpu;
  };

  // The technique alone: this event's 10 keys and 2 short values, written byte by byte
  // (as head() and str() do) or by Buffer#write.
  const shortStrings = ['user_agent', 'method', 'GET', 'path', 'response', 'status', 'size', 'user', 'id', 'plan', 'pro', 'request_time'];
  const dottedKeys = ['response.status', 'response.size', 'user.id', 'user.plan'];

  const tricks: Trick[] = [
    {
      name: 'field list (vs nested objects): 8 fields set and encoded',
      on: () => perCallCpu(() => write({ ...pooledEv, body: fill(new EventBody(true)).content() }), N),
      off: () => perCallCpu(() => write({ ...pooledEv, body: fill(new EventBody(false)).content() }), N),
    },
    {
      name: 'pooled ids (vs an id string): id taken and encoded',
      on: () => perCallCpu(() => write({ ...listEv, idBytes: idPool(), idAt: takeId() }), N),
      off: () => perCallCpu(() => write({ ...listEv, id: newEventId() }), N),
    },
    {
      name: 'envelope per type (vs writing id, type, host, pid, start, end)',
      on: () => perCallCpu(() => write(id32), N),
      off: () => perCallCpu(() => write(id33), N),
    },
    { name: 'held runs (vs encoding each event as it finishes), in place', on: () => inPlace(held), off: () => inPlace(atOnce) },
    {
      name: 'short strings byte by byte (vs Buffer#write): 12 per event',
      on: () =>
        perCallCpu(() => {
          let p = 0;
          for (const k of shortStrings) for (let i = 0; i < k.length; i++) buf[p++] = k.charCodeAt(i);
          return p;
        }, N),
      off: () =>
        perCallCpu(() => {
          let p = 0;
          for (const k of shortStrings) p += buf.write(k, p, 'utf8');
          return p;
        }, N),
    },
    {
      name: 'split-key cache (vs splitting and checking): 4 dotted keys',
      on: () =>
        perCallCpu(() => {
          let n = 0;
          for (const k of dottedKeys) n += splitKey(k).length;
          return n;
        }, N),
      off: () =>
        perCallCpu(() => {
          let n = 0;
          for (const k of dottedKeys) n += splitUncached(k).length;
          return n;
        }, N),
    },
  ];

  console.log(
    `speed tricks: ns per event with and without each, and the gain as a share of a whole wide event (${wideEventNs.toFixed(0)} ns); CPU time, which waiting for a core on a busy machine does not inflate:`,
  );
  for (const trick of tricks) {
    const on: number[] = [];
    const off: number[] = [];
    await trick.on(); // warm-up
    await trick.off();
    for (let r = 0; r < ROUNDS; r++) {
      on.push(await trick.on());
      off.push(await trick.off());
    }
    const gain = median(off) - median(on);
    const share = (100 * gain) / wideEventNs;
    console.log(
      `  ${trick.name.padEnd(74)} ${fmt(median(on))} vs ${fmt(median(off))}: gains ${gain.toFixed(0).padStart(4)} ns = ${share.toFixed(1).padStart(5)}%${share < 3 ? '  (under 3%)' : ''}`,
    );
  }
  await t.close();
}

/** splitKey() without its cache: the split and the checks, every time. */
function splitUncached(key: string): readonly string[] {
  const parts = key.split('.');
  for (const p of parts) {
    if (p.length === 0 || p === '__proto__' || p === 'constructor' || p === 'prototype') throw new Error(`bad key ${key}`);
  }
  return parts;
}

// ---------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const port = await freePort();
  const endpoint = `127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['-r', '@swc-node/register', __filename, '--collector', `tcp://${endpoint}`], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise((resolve) => child.once('message', resolve));
  const { pinoEvent, otelEvent, ready, finish } = setupPeers();
  await ready();

  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  console.log(`client benchmark: node ${process.version}, ${cpu}, ${cpus().length} cores`);
  console.log(`${ROUNDS} rounds of ${EVENTS_PER_ROUND} events each, in chunks of ${CHUNK}; medians\n`);

  // Ziggy, sending. Events recorded before the socket has connected simply queue, and
  // the warm-up below gives it time to.
  configure(endpoint);
  if (process.env.BENCH_ONLY === 'tricks') {
    // Only the speed tricks (quicker when measuring one), against a shorter wide-event run.
    await perEvent(ziggyEvent, 5 * CHUNK);
    const whole: Cost[] = [];
    for (let r = 0; r < ROUNDS; r++) whole.push(await perEvent(ziggyEvent, EVENTS_PER_ROUND));
    await close();
    await measureTricks(endpoint, medianCost(whole).cpu);
    await finish();
    child.send('stop');
    return;
  }
  const statsBefore = stats();
  const ziggy: Cost[] = [];
  const pinoNs: Cost[] = [];
  const otel: Cost[] = [];
  // Warm-up: let the JIT settle on all three before anything is timed.
  for (const fn of [ziggyEvent, pinoEvent, otelEvent]) await perEvent(fn, 5 * CHUNK);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate, so drift of the machine hits all three alike.
    ziggy.push(await perEvent(ziggyEvent, EVENTS_PER_ROUND));
    pinoNs.push(await perEvent(pinoEvent, EVENTS_PER_ROUND));
    otel.push(await perEvent(otelEvent, EVENTS_PER_ROUND));
  }
  await flush(5000);
  const statsAfter = stats();
  const sentEvents = statsAfter.sent - statsBefore.sent;
  const expected = ROUNDS * EVENTS_PER_ROUND + 5 * CHUNK;
  let received = { docs: 0, bad: 0 };
  for (let i = 0; i < 200 && received.docs < sentEvents; i++) {
    received = await ask<{ docs: number; bad: number }>(child, 'count');
    if (received.docs < sentEvents) await new Promise((resolve) => setTimeout(resolve, 25));
  }

  // Where Ziggy's time goes, measured in place: the same context with a recorder that
  // does nothing; the rest of the full figure is encoding (in runs, as the transport
  // does) and sending. The encoder alone, in a tight loop on one captured event, is
  // shown too, and so is the floor: a program doing only the work no implementation
  // can skip (see floorEvent).
  // The sink the transport installs, minus the transport: events arrive as they would
  // there (fields still a FieldList, the id still a place in the id pool).
  let captured: OutgoingEvent | undefined;
  setOutgoingSink((e) => (captured = e));
  const noRecorder: Cost[] = [];
  for (let r = 0; r < ROUNDS; r++) noRecorder.push(await perEvent(ziggyEvent, EVENTS_PER_ROUND));
  configure(null);
  const writer = new EventWriter();
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  const ev = captured as OutgoingEvent;
  const serializeLoop: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    serializeLoop.push(
      perCall(() => {
        if (pos > buf.length - 65536) pos = 0;
        pos = writer.write(ev, buf, pos, buf.length);
        return pos;
      }, EVENTS_PER_ROUND * 3),
    );
  }
  const floor = new Floor();
  const floorNs: Cost[] = [];
  for (let r = 0; r < ROUNDS; r++) floorNs.push(await perEvent(() => floor.event(), EVENTS_PER_ROUND));
  const floorEncode: number[] = [];
  for (let r = 0; r < ROUNDS; r++) floorEncode.push(perCall(() => floor.encodeOnly(), EVENTS_PER_ROUND * 3));

  // A decorated method while unconfigured, against the same method undecorated.
  configure(null);
  const svc = new Service();
  const plain: number[] = [];
  const decorated: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    plain.push(perCall((i) => svc.plain(i), 2_000_000));
    decorated.push(perCall((i) => svc.decorated(i), 2_000_000));
  }

  const z = medianCost(ziggy);
  const p = medianCost(pinoNs);
  const o = medianCost(otel);
  const overhead = median(decorated) - median(plain);
  const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  const ratio = (a: number, b: number): string => (a / b).toFixed(2);
  const f = medianCost(floorNs);
  console.log('wide event (context, 7 fields incl. nested keys, 1 timeit), per event:');
  console.log(
    `  ziggy, BSON to a PULL socket     ${both(z)}   ziggy/floor = ${ratio(z.cpu, f.cpu)} cpu, ${ratio(z.wall, f.wall)} wall  (goal <= 1.25: ${verdict(z.cpu / f.cpu <= 1.25)})`,
  );
  console.log(
    `  pino, child + info to a file     ${both(p)}   ziggy/pino = ${ratio(z.cpu, p.cpu)} cpu, ${ratio(z.wall, p.wall)} wall  (goal <= 0.40: ${verdict(z.cpu / p.cpu <= 0.4)})`,
  );
  console.log(
    `  OpenTelemetry span, batch/no-op  ${both(o)}   ziggy/otel = ${ratio(z.cpu, o.cpu)} cpu, ${ratio(z.wall, o.wall)} wall  (goal <= 0.80: ${verdict(z.cpu / o.cpu <= 0.8)})`,
  );
  const ctxOnly = medianCost(noRecorder);
  const minus = (a: Cost, b: Cost): Cost => ({ wall: a.wall - b.wall, cpu: a.cpu - b.cpu });
  console.log("where ziggy's time goes (per event, measured in place):");
  console.log(`  context, 7 fields and a timeit, handed to a sink doing nothing  ${both(ctxOnly)}`);
  console.log(
    `  + encoding to BSON (in runs) and sending to ZeroMQ              ${both(minus(z, ctxOnly))}   (the encoder alone, in a tight loop: ${median(serializeLoop).toFixed(0)} ns wall)`,
  );
  console.log('the floor: only the work no implementation can skip, by code specialised to this one event:');
  console.log(
    `  4 clock reads, 1 AsyncLocalStorage.run, 1 id, the BSON bytes, nothing sent  ${both(f)}   (its BSON bytes alone: ${median(floorEncode).toFixed(0)} ns wall)`,
  );
  console.log(`  floor/pino = ${ratio(f.cpu, p.cpu)}, floor/otel = ${ratio(f.cpu, o.cpu)} cpu: the share of the peers' cost that is left for everything else`);
  console.log('decorated call while unconfigured, per call:');
  console.log(
    `  plain method ${fmt(median(plain))}, @ZiggyContext method ${fmt(median(decorated))}: overhead ${overhead.toFixed(1)} ns  (goal <= 20: ${verdict(overhead <= 20)})`,
  );
  console.log('delivery:');
  const dropped = statsAfter.dropped - statsBefore.dropped;
  console.log(
    `  events recorded ${expected}, handed to ZeroMQ ${sentEvents}, received by the collector ${received.docs}, dropped ${dropped}, malformed messages ${received.bad}`,
  );
  console.log(
    `  messages ${statsAfter.batches - statsBefore.batches} (${(sentEvents / Math.max(1, statsAfter.batches - statsBefore.batches)).toFixed(0)} events each), ${((statsAfter.bytes - statsBefore.bytes) / sentEvents).toFixed(0)} bytes per event`,
  );
  const lost = expected - received.docs;
  if (lost !== 0) console.log(`  WARNING: ${lost} events did not arrive`);
  // One line for the README's table per runtime (bench:client:matrix collects them).
  const [load1] = loadavg();
  console.log(
    `| ${process.version} | ${z.cpu.toFixed(0)} / ${z.wall.toFixed(0)} | ${f.cpu.toFixed(0)} | ${ratio(z.cpu, f.cpu)} | ${p.cpu.toFixed(0)} | ${ratio(z.cpu, p.cpu)} | ${o.cpu.toFixed(0)} | ${ratio(z.cpu, o.cpu)} | ${overhead.toFixed(1)} | ${dropped} | ${load1.toFixed(1)} |`,
  );

  if (process.env.BENCH_TRICKS !== '0') await measureTricks(endpoint, z.cpu);
  await close();
  console.log(`  (OpenTelemetry exported ${await finish()} spans)`);
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
}

if (process.argv[2] === '--collector') {
  void collectorMain(process.argv[3]);
} else {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
