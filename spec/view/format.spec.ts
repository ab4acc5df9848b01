import { expect } from 'chai';
import { BSON, type Document } from 'bson';
import { EventFormatter, type FormatOptions } from '../../src/view/format';
import { JsonBuffer } from '../../src/view/json-buffer';
import { prettyJson } from '../../src/view/pretty';
import { event } from './fixtures';

function format(docs: (Document | Buffer)[], options: FormatOptions): { text: string; errors: string[] } {
  const out = new JsonBuffer(8);
  const f = new EventFormatter(out, options);
  const errors: string[] = [];
  for (const d of docs) {
    const bytes = Buffer.isBuffer(d) ? d : Buffer.from(BSON.serialize(d));
    try {
      f.event(bytes, 0, bytes.length);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  f.end();
  return { text: out.buf.toString('utf8', 0, out.pos), errors };
}

describe('EventFormatter', () => {
  const a = event('request.sql', 1, { id: 'A', body: { q: 'select 1' } });
  const b = event('request.sql', 2, { id: 'B', body: { q: 'select 2' } });
  const aParent = event('request', 3, { id: 'A', body: { when: new Date(0) } });

  it('prints NDJSON: one compact object per line', () => {
    const { text } = format([a, aParent], {});
    const lines = text.split('\n');
    expect(lines).to.have.length(3);
    expect(lines[2]).to.equal('');
    expect(JSON.parse(lines[1])).to.deep.include({ id: 'A', type: 'request', body: { when: '1970-01-01T00:00:00.000Z' } });
  });

  it('prints nothing of a malformed document, and carries on with the next', () => {
    const bad = Buffer.from(BSON.serialize(a));
    bad[bad.length - 2] = 0x42; // the body's terminator: the body now runs past the document
    const { text, errors } = format([a, bad, aParent], {});
    expect(errors).to.have.length(1);
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as Document).type),
    ).to.deep.equal(['request.sql', 'request']);
  });

  it('--pretty: indented JSON, without colour unless asked', () => {
    const { text } = format([a], { pretty: true });
    expect(text).to.equal(JSON.stringify(withIsoTimes(a), null, 2) + '\n');
    expect(text).not.to.include('\x1b[');
  });

  it('--group: one array per id, parent last, leftovers at the end', () => {
    const { text } = format([a, b, aParent], { group: true });
    const groups = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Document[]);
    expect(groups.map((g) => g.map((e) => `${e.id}:${e.type}`))).to.deep.equal([['A:request.sql', 'A:request'], ['B:request.sql']]);
  });

  it('--group with --pretty: indented arrays', () => {
    const { text } = format([a, aParent], { group: true, pretty: true });
    expect(text.startsWith('[\n  {\n    "id": "A",')).to.equal(true);
    expect((JSON.parse(text) as unknown[]).length).to.equal(2);
  });

  it('--pretty prints an event nested too deep to indent compact, on one line, and carries on', () => {
    const deep = deepEvent(20_000);
    const { text, errors } = format([deep, a], { pretty: true });
    expect(errors).to.deep.equal([]);
    const [first, ...rest] = text.split('\n');
    expect(first.startsWith('{"type":"deep","body":{"a":{"a":')).to.equal(true);
    expect(rest.join('\n')).to.equal(JSON.stringify(withIsoTimes(a), null, 2) + '\n');
    const grouped = format([a, deep, aParent], { group: true, pretty: true });
    expect(grouped.errors).to.deep.equal([]);
    expect(
      grouped.text
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(0, 12)),
    ).to.include('[{"type":"de');
    // In colour (a printer of its own, also recursive) too.
    expect(format([deep, a], { pretty: true, color: true }).errors).to.deep.equal([]);
    expect(format([deep, deepEvent(1500), a], { group: true, pretty: true, color: true }).errors).to.deep.equal([]);
  });

  it('--group-max bounds the ids held', () => {
    const docs = [0, 1, 2, 3].map((i) => event('r.sql', i, { id: `id${i}` }));
    const out = new JsonBuffer();
    const f = new EventFormatter(out, { group: true, groupMax: 2 });
    for (const d of docs) {
      const bytes = Buffer.from(BSON.serialize(d));
      f.event(bytes, 0, bytes.length);
    }
    expect(f.evicted).to.equal(2);
    expect(out.buf.toString('utf8', 0, out.pos).split('\n').filter(Boolean)).to.have.length(2);
  });
});

describe('prettyJson', () => {
  it('colours keys, strings, numbers, booleans and null with ANSI codes', () => {
    const text = prettyJson({ k: 's', n: 1.5, t: true, z: null, list: [], obj: {} }, true);
    expect(text).to.include('\x1b[34;1m"k"\x1b[0m: \x1b[32m"s"\x1b[0m');
    expect(text).to.include('\x1b[36m1.5\x1b[0m');
    expect(text).to.include('\x1b[33mtrue\x1b[0m');
    expect(text).to.include('\x1b[90mnull\x1b[0m');
    expect(text).to.include('"list"\x1b[0m: []');
    // Without the colour codes it is exactly JSON.stringify's indented form.
    expect(text.replace(/\x1b\[[0-9;]*m/g, '')).to.equal(JSON.stringify({ k: 's', n: 1.5, t: true, z: null, list: [], obj: {} }, null, 2));
  });
});

/** `{type: 'deep', body: {a: {a: ... {}}}}`, `depth` levels deep, written by hand (bson's writer recurses). */
function deepEvent(depth: number): Buffer {
  let inner: Buffer = Buffer.from([5, 0, 0, 0, 0]);
  const doc = (elements: Buffer): Buffer => {
    const head = Buffer.alloc(4);
    head.writeInt32LE(elements.length + 5);
    return Buffer.concat([head, elements, Buffer.from([0])]);
  };
  for (let i = 0; i < depth; i++) inner = doc(Buffer.concat([Buffer.from([0x03, 0x61, 0]), inner]));
  const type = Buffer.from([0x02, ...Buffer.from('type\0'), 5, 0, 0, 0, ...Buffer.from('deep\0')]);
  return doc(Buffer.concat([type, Buffer.from([0x03, ...Buffer.from('body\0')]), inner]));
}

/** What --pretty shows of an event: its times (unix seconds) as ISO-8601 with milliseconds. */
function withIsoTimes(doc: Document): unknown {
  const plain = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
  for (const k of ['start', 'end']) plain[k] = new Date((plain[k] as number) * 1000).toISOString();
  return plain;
}
