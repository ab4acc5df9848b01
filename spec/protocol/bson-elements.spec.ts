import { expect } from 'chai';
import { Binary, BSON, BSONRegExp, BSONSymbol, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, type Document } from 'bson';
import { isZiggyError } from '../../src/errors';
import { Kind, ValueProblem, valueProblemText, valueSize } from '../../src/protocol/bson-elements';
import { docSizeAt, readRoutingFields } from '../../src/protocol/codec';
import { DocFields, Scan, scanDocument, scanElements } from '../../src/protocol/document-scan';
import { JsonBuffer } from '../../src/view/json-buffer';
import { BsonTranscoder } from '../../src/view/transcode';
import { difference, expectedJson } from '../helpers/bson-oracle';

// Replays random documents written by the `bson` package, and damaged copies of them,
// through both hand-written readers (the daemon's top-level scan and ziggyview's
// transcoder) and compares each verdict with BSON.deserialize. The seed is fixed so a
// failure reproduces; BSON_SPEC_SEED=<n> tries another, and every failure names its seed.
const SEED = Number(process.env.BSON_SPEC_SEED ?? 20261206);
/** BSON_SPEC_SCALE=<n> replays n times as many documents (to hunt with many seeds). */
const SCALE = Number(process.env.BSON_SPEC_SCALE ?? 1);
const VALID_DOCS = 1000 * SCALE;
const DAMAGED_DOCS = 4000 * SCALE;

/** mulberry32: small, seedable, good enough to spread damage over the bytes. */
class Rand {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) | 0;
    let t = Math.imul(this.a ^ (this.a >>> 15), 1 | this.a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  int32(): number {
    return (this.next() * 4294967296) | 0;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ------------------------------------------------------------------ valid documents

const NAME_CHARS = ['a', 'b', 'x', 'y', 'z', '_', '-', '0', '7', 'é', 'ß', '😀', ' ', 'type', 'host', 'end'];
const TEXT_CHARS = [...NAME_CHARS, '"', '\\', '\n', '\t', '\0', '\x01', '\x1f', '/', '中', '\u2028'];

function text(r: Rand, chars: readonly string[], max: number): string {
  let s = '';
  for (let n = r.int(max + 1); n > 0; n--) s += r.pick(chars);
  return s;
}

/** Every kind the bson package writes, and which ones were made (for the coverage check). */
function randomValue(r: Rand, depth: number, made: Set<string>): unknown {
  const choice = r.int(depth >= 3 ? 17 : 20);
  const tag = (t: string): void => void made.add(t);
  switch (choice) {
    case 0:
      tag('double');
      return new Double(r.pick([0, -0, 1.5, NaN, Infinity, -Infinity, Number.MAX_VALUE, 5e-324, (r.next() - 0.5) * 1e12]));
    case 1:
      tag('int32');
      return new Int32(r.int32());
    case 2:
      tag('int64');
      return r.int(2) === 0 ? Long.fromBits(r.int32(), r.int32()) : Long.fromNumber(r.int(2) === 0 ? 2 ** 53 : -(2 ** 53) + r.int(3));
    case 3:
      tag('string');
      return text(r, TEXT_CHARS, 12);
    case 4: {
      tag('binary');
      const subtype = r.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0xff]);
      return new Binary(r.bytes(subtype === 4 && r.int(2) === 0 ? 16 : r.int(20)), subtype);
    }
    case 5:
      tag('objectId');
      return new ObjectId(r.bytes(12));
    case 6:
      tag('boolean');
      return r.int(2) === 0;
    case 7:
      tag('date');
      return new Date(r.pick([0, -1, 8.64e15, -8.64e15, Math.floor((r.next() - 0.5) * 1.7e16)]));
    case 8:
      tag('null');
      return null;
    case 9:
      tag('regex');
      return new BSONRegExp(text(r, ['a', 'b', '.', '*', '(', ')', '\\', 'é'], 6), text(r, ['i', 'm', 's', 'u', 'x', 'l'], 3));
    case 10:
      tag('code');
      return new Code(text(r, TEXT_CHARS, 10));
    case 11:
      tag('symbol');
      return new BSONSymbol(text(r, TEXT_CHARS, 6));
    case 12:
      tag('timestamp');
      return new Timestamp({ t: r.int(2 ** 32), i: r.int(2 ** 32) });
    case 13:
      tag('decimal128');
      return r.int(2) === 0 ? new Decimal128(r.bytes(16)) : Decimal128.fromString(r.pick(['0', '-1.50', '1E+6144', 'NaN', '-Infinity', String(r.int32())]));
    case 14:
      tag('minKey');
      return new MinKey();
    case 15:
      tag('maxKey');
      return new MaxKey();
    case 16:
      tag('double');
      return new Double(r.int32());
    case 17:
      tag('document');
      return randomDoc(r, depth + 1, made, 5);
    case 18:
      tag('array');
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1, made));
    default:
      tag('codeWithScope');
      return new Code(text(r, TEXT_CHARS, 8), randomDoc(r, depth + 1, made, 3));
  }
}

function randomDoc(r: Rand, depth: number, made: Set<string>, max: number): Document {
  const doc: Document = {};
  for (let n = r.int(max + 1); n > 0; n--) doc[text(r, NAME_CHARS, 4)] = randomValue(r, depth, made);
  return doc;
}

/** One raw element: kind byte, name, value bytes (for what the bson package does not write). */
function element(kind: number, name: string, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([kind]), Buffer.from(`${name}\0`, 'utf8'), value]);
}

function int32Bytes(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

function stringValue(s: string): Buffer {
  const bytes = Buffer.from(`${s}\0`, 'utf8');
  return Buffer.concat([int32Bytes(bytes.length), bytes]);
}

/** A document around `doc`'s elements and `extra` ones, with its length prefix set. */
function withElements(doc: Buffer, extra: Buffer[]): Buffer {
  const out = Buffer.concat([doc.subarray(0, doc.length - 1), ...extra, Buffer.from([0])]);
  out.writeInt32LE(out.length, 0);
  return out;
}

/**
 * A random well-formed document: half in the layout this package's client writes (the
 * scanner's fast path), half anything; some with what only raw bytes can hold (undefined,
 * DBPointer, a second `type`).
 */
function randomDocument(r: Rand, made: Set<string>): Buffer {
  let doc: Buffer;
  if (r.int(2) === 0) {
    const body = randomDoc(r, 1, made, 6);
    doc = Buffer.from(
      BSON.serialize({
        id: r.bytes(16).toString('hex'),
        type: text(r, TEXT_CHARS, 8),
        host: text(r, TEXT_CHARS, 5),
        pid: new Int32(r.int(100000)),
        start: new Double(r.next() * 2e9),
        end: new Double(r.next() * 2e9),
        body,
      }),
    );
  } else {
    const top = randomDoc(r, 0, made, 6);
    if (r.int(2) === 0) top.type = r.int(3) === 0 ? randomValue(r, 2, made) : text(r, TEXT_CHARS, 8);
    if (r.int(2) === 0) top.host = r.int(3) === 0 ? randomValue(r, 2, made) : text(r, TEXT_CHARS, 5);
    if (r.int(2) === 0) top.end = randomValue(r, 2, made);
    doc = Buffer.from(BSON.serialize(top));
  }
  if (r.int(4) === 0) {
    const extra: Buffer[] = [];
    for (let n = 1 + r.int(3); n > 0; n--) {
      switch (r.int(3)) {
        case 0:
          made.add('undefined');
          extra.push(element(Kind.UNDEFINED, text(r, NAME_CHARS, 3), Buffer.alloc(0)));
          break;
        case 1:
          made.add('dbPointer');
          extra.push(element(Kind.DB_POINTER, text(r, NAME_CHARS, 3), Buffer.concat([stringValue(text(r, TEXT_CHARS, 6)), r.bytes(12)])));
          break;
        default:
          made.add('repeatedType');
          extra.push(element(Kind.STRING, 'type', stringValue(text(r, TEXT_CHARS, 4))));
      }
    }
    doc = withElements(doc, extra);
  }
  return doc;
}

// ------------------------------------------------------------------ damage

const KINDS: ReadonlySet<number> = new Set(Object.values(Kind));
const UNKNOWN_KINDS = [0x00, 0x14, 0x20, 0x42, 0x7e, 0x80, 0xfe];

/** One to three kinds of damage: flipped bytes, truncations, lying lengths, lost 0s, unknown kinds. */
function damage(r: Rand, doc: Buffer): Buffer {
  let d = Buffer.from(doc);
  for (let n = 1 + r.int(3); n > 0; n--) {
    switch (r.int(7)) {
      case 0: // a byte anywhere
        d[r.int(d.length)] = r.int(256);
        break;
      case 1: {
        // a missing 0 (a string's, a name's, a document's)
        const zeros = positions(d, (i) => d[i] === 0);
        if (zeros.length > 0) d[r.pick(zeros)] = r.pick([0x01, 0x41, 0xff]);
        break;
      }
      case 2: // cut short
        d = d.subarray(0, r.int(d.length));
        break;
      case 3: {
        // a length that lies: an int32 that looks like one, told something else
        const lengths = positions(d, (i) => i + 4 <= d.length && d.readInt32LE(i) >= 1 && d.readInt32LE(i) <= d.length - i);
        if (lengths.length === 0) break;
        const at = r.pick(lengths);
        const was = d.readInt32LE(at);
        d.writeInt32LE(r.pick([was - 1, was + 1, was - 5, was + 4, was + 1000, -1, -was, 0, 1, 4, 5, 13, 0x7fffffff, -0x80000000, 0x01000001]), at);
        break;
      }
      case 4: {
        // an unknown kind where a known one was
        const kinds = positions(d, (i) => i >= 4 && KINDS.has(d[i]));
        if (kinds.length > 0) d[r.pick(kinds)] = r.pick(UNKNOWN_KINDS);
        break;
      }
      case 5: {
        // a byte more or less somewhere
        const at = 4 + r.int(Math.max(1, d.length - 4));
        d =
          r.int(2) === 0
            ? Buffer.concat([d.subarray(0, at), Buffer.from([r.int(256)]), d.subarray(at)])
            : Buffer.concat([d.subarray(0, at), d.subarray(at + 1)]);
        break;
      }
      default: {
        // a boolean that is neither 0 nor 1, or a different subtype
        const at = 4 + r.int(Math.max(1, d.length - 4));
        if (at < d.length) d[at] = r.pick([2, 0x80, 0xff]);
      }
    }
  }
  // Mostly keep the outer frame right, so the damage reaches the readers rather than the framing.
  if (d.length >= 5 && r.int(4) !== 0) {
    d = Buffer.from(d);
    d.writeInt32LE(d.length, 0);
    if (r.int(2) === 0) d[d.length - 1] = 0;
  }
  return d;
}

function positions(d: Buffer, keep: (i: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < d.length; i++) if (keep(i)) out.push(i);
  return out;
}

// ------------------------------------------------------------------ the oracle

const BSON_OPTIONS = { useBigInt64: true, bsonRegExp: true, validation: { utf8: false } } as const;

/**
 * Differences the readers intend, recognised from the bson package's message:
 * - they do not check UTF-8 (invalid sequences become U+FFFD on output, as bson does
 *   without validation), so bson is run with `validation: { utf8: false }` throughout;
 * - they copy a regex's flags as text, while bson refuses flags other than `imxlsu`.
 */
function intendedDifference(e: Error): boolean {
  return /regular expression option|Regex options cannot contain/.test(e.message);
}

function deserialize(bytes: Uint8Array): Document | Error {
  try {
    return BSON.deserialize(bytes, BSON_OPTIONS);
  } catch (e) {
    return e as Error;
  }
}

const EMPTY_DOC = Buffer.from([5, 0, 0, 0, 0]);

/**
 * The document with every top-level document and array that has its length and final 0
 * replaced by an empty one (and a code with scope's scope likewise, its total adjusted):
 * what the scanner checks, since it reads only the top level. Element bounds come from
 * the bson package's own top-level parser; null when even that refuses the bytes.
 */
function topLevelSkeleton(bytes: Buffer): Buffer | null {
  let elements: Iterable<[number, number, number, number, number]>;
  try {
    elements = [...BSON.onDemand.parseToElements(bytes, 0)];
  } catch {
    return null;
  }
  const parts: Buffer[] = [];
  const framed = (v: Buffer): boolean => v.length >= 5 && v.readInt32LE(0) === v.length && v[v.length - 1] === 0;
  for (const [kind, nameOffset, , offset, length] of elements) {
    let value = bytes.subarray(offset, offset + length);
    if ((kind === Kind.DOCUMENT || kind === Kind.ARRAY) && framed(value)) {
      value = EMPTY_DOC;
    } else if (kind === Kind.CODE_WITH_SCOPE && length >= 12) {
      const scopeAt = 8 + value.readInt32LE(4);
      if (scopeAt >= 9 && scopeAt + 4 <= length) {
        const scopeLength = value.readInt32LE(scopeAt);
        if (scopeLength >= 5 && scopeAt + scopeLength <= length && framed(value.subarray(scopeAt, scopeAt + scopeLength))) {
          value = Buffer.concat([
            int32Bytes(value.readInt32LE(0) - scopeLength + 5),
            value.subarray(4, scopeAt),
            EMPTY_DOC,
            value.subarray(scopeAt + scopeLength),
          ]);
        }
      }
    }
    parts.push(bytes.subarray(nameOffset - 1, offset), value);
  }
  return withElements(EMPTY_DOC, parts);
}

/** What the scanner should report as the routing fields, from the bytes of bson's top-level elements. */
function expectedRouting(bytes: Buffer): { type?: string | null; host?: string | null; end?: number } {
  const out: { type?: string | null; host?: string | null; end?: number } = {};
  let types = 0;
  for (const [kind, nameOffset, nameLength, offset, length] of BSON.onDemand.parseToElements(bytes, 0)) {
    const name = bytes.toString('utf8', nameOffset, nameOffset + nameLength);
    const str = kind === Kind.STRING ? bytes.toString('utf8', offset + 4, offset + length - 1) : null;
    if (name === 'type') out.type = ++types === 1 ? str : null;
    if (name === 'host' && out.host === undefined) out.host = str;
    if (name === 'end' && out.end === undefined) {
      const end =
        kind === Kind.DOUBLE
          ? bytes.readDoubleLE(offset)
          : kind === Kind.INT32
            ? bytes.readInt32LE(offset)
            : kind === Kind.INT64
              ? Number(bytes.readBigInt64LE(offset))
              : kind === Kind.DATE
                ? Number(bytes.readBigInt64LE(offset)) / 1000
                : NaN;
      if (!Number.isNaN(end)) out.end = end;
    }
  }
  return out;
}

// ------------------------------------------------------------------ the replay

interface Tally {
  bsonAccepted: number;
  bsonRefused: number;
  intended: number;
  nestedOnly: number;
}

const fields = new DocFields();
const general = new DocFields();
const transcoder = new BsonTranscoder(true);
const json = new JsonBuffer(64);

/** Runs one document through both readers and bson; throws, naming the seed and case, where they disagree. */
function replay(bytes: Buffer, label: string, tally: Tally): void {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  seed ${SEED} (BSON_SPEC_SEED), ${label}, bytes ${bytes.toString('hex').slice(0, 400)}`);
  };
  const theirs = deserialize(bytes);

  // Framing first, as every reader splits a stream with docSizeAt before reading a document.
  const framed = docSizeAt(bytes, 0) === bytes.length;
  let scanned = false;
  let transcoded: unknown;
  let transcodeError: unknown;
  if (framed) {
    const result = scanDocument(bytes, 0, bytes.length, fields);
    const slow = scanElements(bytes, 0, bytes.length, general);
    if (result !== slow) fail(`the scanner's fast path says ${result}, its general walk ${slow}`);
    scanned = result === Scan.OK;
    const routing = readRoutingFields(bytes);
    if (routing.ok !== scanned) fail(`readRoutingFields says ok=${routing.ok}, scanDocument ${result}`);
    try {
      json.pos = 0;
      transcoder.write(bytes, 0, bytes.length, json);
      transcoded = JSON.parse(json.buf.toString('utf8', 0, json.pos));
    } catch (e) {
      if (!isZiggyError(e, 'BAD_BSON')) fail(`the transcoder threw something other than BAD_BSON: ${String(e)}`);
      transcodeError = e;
    }
  }

  if (!(theirs instanceof Error)) {
    tally.bsonAccepted++;
    if (!framed) fail(`docSizeAt refuses a document bson reads`);
    if (!scanned) fail(`scanDocument refuses a document bson reads`);
    if (transcodeError !== undefined) fail(`the transcoder refuses a document bson reads: ${(transcodeError as Error).message}`);
    const d = difference(transcoded, expectedJson(theirs));
    if (d !== null) fail(`the transcoder's JSON differs from bson's values at ${d}`);
    const got = readRoutingFields(bytes);
    if (!got.ok) return fail(`readRoutingFields refuses a document bson reads: ${got.problem}`);
    const expected = expectedRouting(bytes);
    const routing = { type: got.type, host: got.host, end: got.end };
    const want = JSON.stringify({ type: expected.type, host: expected.host, end: expected.end });
    if (JSON.stringify(routing) !== want) fail(`readRoutingFields says ${JSON.stringify(routing)}, not ${want}`);
    return;
  }

  tally.bsonRefused++;
  if (intendedDifference(theirs)) {
    tally.intended++;
    return;
  }
  if (transcodeError === undefined && framed) fail(`the transcoder reads a document bson refuses (${theirs.message})`);
  // The scanner reads the top level only: it must refuse exactly when bson refuses the
  // top level with the nested documents emptied.
  const skeleton = topLevelSkeleton(bytes);
  const top = skeleton === null ? theirs : deserialize(skeleton);
  const topIntended = top instanceof Error && intendedDifference(top);
  if (scanned && top instanceof Error && !topIntended) fail(`scanDocument reads a top level bson refuses (${top.message})`);
  if (framed && !scanned && !(top instanceof Error)) fail(`scanDocument refuses a top level bson reads (problem at byte ${fields.problemAt})`);
  if (scanned) tally.nestedOnly++;
}

/** Runs `n` replays; errors (thousands of them, from bson and the transcoder) skip their stack traces. */
function replayMany(n: number, make: (i: number) => Buffer, label: string): Tally {
  const tally: Tally = { bsonAccepted: 0, bsonRefused: 0, intended: 0, nestedOnly: 0 };
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (let i = 0; i < n; i++) replay(make(i), `${label} ${i}`, tally);
  } finally {
    Error.stackTraceLimit = limit;
  }
  return tally;
}

describe('bson-elements: one rule for both BSON readers', () => {
  describe('valueSize', () => {
    const at = (bytes: number[], kind: number): number => valueSize(Buffer.from(bytes), kind, 0, bytes.length);

    it('gives the size of fixed and variable values that fit their container', () => {
      expect(at([1, 2, 3, 4, 5, 6, 7, 8], Kind.DOUBLE)).to.equal(8);
      expect(at([], Kind.MIN_KEY)).to.equal(0);
      expect(at([2, 0, 0, 0, 0x61, 0], Kind.STRING)).to.equal(6);
      expect(at([5, 0, 0, 0, 0], Kind.ARRAY)).to.equal(5);
      expect(at([0x61, 0, 0x69, 0], Kind.REGEX)).to.equal(4);
      expect(at([1, 0, 0, 0, 0x80, 9], Kind.BINARY)).to.equal(6);
    });

    it('names the problem as a negative number, and says it in words', () => {
      const cases: [number[], number, ValueProblem, RegExp][] = [
        [[1, 2, 3], Kind.INT32, ValueProblem.RUNS_PAST, /int32 runs past its document/],
        [[0x40, 0, 0, 0, 0x61, 0], Kind.STRING, ValueProblem.BAD_LENGTH, /bad string length 64/],
        [[2, 0, 0, 0, 0x61, 0x62], Kind.SYMBOL, ValueProblem.BAD_LENGTH, /bad string length 2/],
        [[4, 0, 0, 0, 0], Kind.DOCUMENT, ValueProblem.BAD_LENGTH, /bad embedded document length 4/],
        [[0xff, 0xff, 0xff, 0xff, 0], Kind.BINARY, ValueProblem.BAD_LENGTH, /bad binary length -1/],
        [[5, 0, 0, 0, 2, 9, 0, 0, 0, 1], Kind.BINARY, ValueProblem.INCONSISTENT, /inner length in binary subtype 2/],
        [[2], Kind.BOOLEAN, ValueProblem.BAD_BOOLEAN, /neither 0 nor 1/],
        [[0x61, 0, 0x69], Kind.REGEX, ValueProblem.RUNS_PAST, /regex runs past/],
        [[0], 0x42, ValueProblem.UNKNOWN_KIND, /unknown element kind 0x42/],
      ];
      for (const [bytes, kind, problem, words] of cases) {
        expect(at(bytes, kind), `kind 0x${kind.toString(16)}`).to.equal(problem);
        expect(valueProblemText(problem, Buffer.from(bytes), kind, 0)).to.match(words);
      }
    });

    it('checks a code with scope is exactly its code and its scope', () => {
      const code = stringValue('x');
      const good = Buffer.concat([int32Bytes(4 + code.length + 5), code, EMPTY_DOC]);
      expect(valueSize(good, Kind.CODE_WITH_SCOPE, 0, good.length)).to.equal(good.length);
      const long = Buffer.concat([int32Bytes(4 + code.length + 6), code, EMPTY_DOC, Buffer.from([0])]);
      expect(valueSize(long, Kind.CODE_WITH_SCOPE, 0, long.length)).to.equal(ValueProblem.INCONSISTENT);
      const short = Buffer.concat([int32Bytes(4 + code.length + 4), code, EMPTY_DOC]);
      expect(valueSize(short, Kind.CODE_WITH_SCOPE, 0, short.length)).to.equal(ValueProblem.BAD_LENGTH);
    });
  });

  describe(`random documents against the bson package (seed ${SEED})`, () => {
    it('reads every document bson writes, with the same values', () => {
      const r = new Rand(SEED);
      const made = new Set<string>();
      const tally = replayMany(VALID_DOCS, () => randomDocument(r, made), 'valid document');
      expect(tally.bsonAccepted).to.equal(VALID_DOCS);
      expect([...made].sort()).to.deep.equal(
        [
          ...['array', 'binary', 'boolean', 'code', 'codeWithScope', 'date', 'dbPointer', 'decimal128', 'document', 'double', 'int32', 'int64'],
          ...['maxKey', 'minKey', 'null', 'objectId', 'regex', 'repeatedType', 'string', 'symbol', 'timestamp', 'undefined'],
        ].sort(),
      );
    });

    it('refuses what bson refuses in damaged documents, except where a difference is intended', () => {
      const r = new Rand(SEED ^ 0x9e3779b9);
      const made = new Set<string>();
      const tally = replayMany(DAMAGED_DOCS, () => damage(r, randomDocument(r, made)), 'damaged document');
      // Enough of each outcome that the comparison means something.
      expect(tally.bsonAccepted, JSON.stringify(tally)).to.be.greaterThan(DAMAGED_DOCS / 20);
      expect(tally.bsonRefused, JSON.stringify(tally)).to.be.greaterThan(DAMAGED_DOCS / 2);
      expect(tally.nestedOnly, JSON.stringify(tally)).to.be.greaterThan(DAMAGED_DOCS / 50);
    });
  });
});
