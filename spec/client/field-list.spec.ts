import { expect } from 'chai';
import { Context } from '../../src/client/context';
import { FieldList, MAX_FIELDS, type OutgoingEvent } from '../../src/client/field-list';
import { serializeEvent } from '../../src/client/serializer';
import { setOutgoingSink, setRecorder } from '../../src/client/sink';
import type { ZiggyEvent } from '../../src/protocol/event';
import { codeOf } from '../helpers/client';

type Op = ['set' | 'append' | 'add', string, unknown] | ['merge', string, Record<string, unknown>];

const KEYS = [
  'a',
  'b',
  'a.x',
  'a.y',
  'b.x',
  'b.y',
  '7',
  'a.0',
  'b.12',
  'c.d.e',
  'c.d',
  'toString',
  'toString.x',
  'n',
  'list',
  'rows.0',
  'rows.0.id',
  'exception',
  '__proto__',
  '',
  'a..b',
];

/** A small deterministic generator, so a failure names a trial that can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomOps(seed: number): Op[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const values = (): unknown => pick([1, 2.5, -0, 'text', '', null, undefined, true, [1, 'two'], { p: 1, q: { r: 2 } }, Number.NaN]);
  const ops: Op[] = [];
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) {
    const kind = pick(['set', 'set', 'set', 'set', 'set', 'append', 'append', 'add', 'add', 'merge'] as const);
    const key = pick(KEYS);
    if (kind === 'merge') ops.push(['merge', key, { m: pick([1, 'x', [3]]), nested: { k: 1 } }]);
    else if (kind === 'add') ops.push(['add', key, pick([1, 2, 0.5, Number.NaN])]);
    else ops.push([kind, key, values()]);
  }
  return ops;
}

/** Applies `ops` to a new context and returns each op's outcome and the event it recorded. */
function run(ops: Op[], viaList: boolean): { outcomes: string[]; event: OutgoingEvent; ctx: Context } {
  let event: OutgoingEvent | undefined;
  if (viaList) setOutgoingSink((e) => (event = e));
  else setRecorder((e: ZiggyEvent) => (event = e));
  const ctx = new Context('trial', { id: 'f'.repeat(32) });
  const outcomes = ops.map(([kind, key, value]) =>
    codeOf(() => {
      if (kind === 'set') ctx.set(key, value);
      else if (kind === 'append') ctx.append(key, value);
      else if (kind === 'add') ctx.add(key, value as number);
      else ctx.merge(key, value as Record<string, unknown>);
    }),
  );
  ctx.done();
  setRecorder(null);
  return { outcomes, event: event as OutgoingEvent, ctx };
}

describe('client/field-list', () => {
  afterEach(() => setRecorder(null));

  it('gives the same outcomes, bytes and data as objects for any sequence of operations', () => {
    let listBodies = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const ops = randomOps(seed);
      const list = run(ops, true);
      const objects = run(ops, false);
      const what = `seed ${seed}: ${JSON.stringify(ops)}`;
      expect(list.outcomes, what).to.deep.equal(objects.outcomes);
      const same = { start: 1.5, end: 2.5 }; // the two ran at different times
      const a = serializeEvent({ ...list.event, ...same });
      const b = serializeEvent({ ...objects.event, ...same });
      expect(a.equals(b), `${what}\n${a.toString('hex')}\n${b.toString('hex')}`).to.equal(true);
      if (list.event.body instanceof FieldList) listBodies++;
      expect(list.ctx.data, what).to.deep.equal(objects.ctx.data);
    }
    // Enough trials stay within what a list holds; the others exercise the switch to objects.
    expect(listBodies).to.be.within(100, 1400);
  });

  it('keeps a group where its first field was set, and a field set again in its place', () => {
    const l = new FieldList();
    for (const [k, v] of [
      ['a.x', 1],
      ['b', 2],
      ['c.y', 3],
      ['a.z', 4],
      ['b', 5],
    ] as const)
      expect(l.set(k, v)).to.equal(true);
    expect(JSON.stringify(l.toObject())).to.equal('{"a":{"x":1,"z":4},"b":5,"c":{"y":3}}');
  });

  it('declines what it cannot hold: deeper keys, a name used as a field and a group, too many fields', () => {
    const l = new FieldList();
    expect(l.set('a.b.c', 1)).to.equal(false);
    expect(l.set('a', 1)).to.equal(true);
    expect(l.set('a.b', 1)).to.equal(false);
    expect(l.append('a', 2)).to.equal(false); // holds a number, not an array
    // Objects put integer-like names first, so their order is the objects' to decide.
    expect(l.set('7', 1)).to.equal(false);
    expect(l.set('g.0', 1)).to.equal(false);
    const full = new FieldList();
    for (let i = 0; i < MAX_FIELDS; i++) expect(full.set(`f${i}`, i)).to.equal(true);
    expect(full.set('one_more', 1)).to.equal(false);
    expect(full.set('f3', 'again')).to.equal(true);
  });
});
