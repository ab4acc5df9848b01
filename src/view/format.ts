import { DEFAULT_GROUP_MAX, Grouper } from './grouper';
import { JsonBuffer } from './json-buffer';
import { prettyJson, readableEvent } from './pretty';
import { BsonTranscoder, type Projection } from './transcode';

/** How events are printed. */
export interface FormatOptions {
  /** Indented output instead of one object per line. */
  pretty?: boolean;
  /** ANSI colours (with `pretty`); the CLI sets it when stdout is a terminal. */
  color?: boolean;
  /** Join sub-events with their parent by id; one JSON array per group. */
  group?: boolean;
  /** Most ids waiting for their parent at once when grouping (default 1000). */
  groupMax?: number;
  /** Print only these fields (see projectionOf); every field when undefined. */
  fields?: Projection;
}

/**
 * Turns BSON documents into output text in a JsonBuffer: NDJSON (one object per line,
 * written straight from the BSON bytes), pretty JSON, or one array per group.
 */
export class EventFormatter {
  private readonly transcoder: BsonTranscoder;
  private readonly scratch = new JsonBuffer(1 << 12);
  private readonly pretty: boolean;
  private readonly color: boolean;
  private readonly grouper: Grouper<Buffer | unknown> | undefined;

  constructor(
    private readonly out: JsonBuffer,
    options: FormatOptions = {},
  ) {
    this.pretty = options.pretty === true;
    this.color = this.pretty && options.color === true;
    this.grouper = options.group ? new Grouper((g) => this.writeGroup(g), options.groupMax ?? DEFAULT_GROUP_MAX) : undefined;
    this.transcoder = new BsonTranscoder(this.grouper !== undefined, options.fields);
  }

  /** Groups printed without their parent because `groupMax` ids were waiting. */
  get evicted(): number {
    return this.grouper?.evicted ?? 0;
  }

  /**
   * Prints (or, when grouping, holds) the document at `src[off..off+len)`. Throws
   * ZiggyError('BAD_BSON') for a malformed document, having printed nothing of it.
   */
  event(src: Buffer, off: number, len: number): void {
    if (!this.pretty && !this.grouper) {
      const out = this.out;
      const mark = out.pos;
      try {
        this.transcoder.write(src, off, len, out);
      } catch (e) {
        out.pos = mark;
        throw e;
      }
      out.byte(0x0a);
      return;
    }
    const s = this.scratch;
    s.pos = 0;
    this.transcoder.write(src, off, len, s);
    if (!this.pretty) {
      this.grouper!.add(this.transcoder.id, this.transcoder.type, s.copyFrom(0));
      return;
    }
    const text = s.buf.toString('utf8', 0, s.pos);
    const parsed: unknown = JSON.parse(text);
    // Too deep for the indenting printers (they recurse per level): kept compact, as it came.
    if (nestedDeeperThan(parsed, MAX_INDENT_DEPTH)) {
      if (this.grouper) this.grouper.add(this.transcoder.id, this.transcoder.type, new CompactJson(text));
      else this.out.text(text + '\n');
      return;
    }
    // Made for reading: times as ISO strings, float noise rounded (exactness stays in NDJSON).
    const item = readableEvent(parsed);
    if (this.grouper) this.grouper.add(this.transcoder.id, this.transcoder.type, item);
    else this.out.text(prettyJson(item, this.color) + '\n');
  }

  /** End of input: prints the groups still waiting for a parent, oldest first. */
  end(): void {
    this.grouper?.flush();
  }

  private writeGroup(group: (Buffer | unknown)[]): void {
    const out = this.out;
    if (this.pretty) {
      // One event too deep to indent: the whole group on one line.
      const compact = group.some((e) => e instanceof CompactJson);
      out.text((compact ? `[${group.map((e) => (e instanceof CompactJson ? e.text : JSON.stringify(e))).join(',')}]` : prettyJson(group, this.color)) + '\n');
      return;
    }
    out.byte(0x5b);
    group.forEach((json, i) => {
      if (i > 0) out.byte(0x2c);
      out.bytes(json as Buffer);
    });
    out.ascii(']\n');
  }
}

/** Events nested deeper than this are printed compact under --pretty. */
const MAX_INDENT_DEPTH = 1000;

/** Whether objects and arrays in `value` nest more than `limit` levels (walked without recursion). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** An event's compact JSON text, kept as it is where indenting it would overflow the stack. */
class CompactJson {
  constructor(readonly text: string) {}
}
