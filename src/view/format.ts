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
    // Made for reading: times as ISO strings, float noise rounded (exactness stays in NDJSON).
    const item: unknown = readable(JSON.parse(text));
    if (this.grouper) {
      // Printed later, with its group: one too deep to indent is kept as it is.
      this.grouper.add(this.transcoder.id, this.transcoder.type, this.indented(item) === null ? new CompactJson(text) : item);
      return;
    }
    this.out.text((this.indented(item) ?? text) + '\n');
  }

  /** prettyJson(), or null for a value nested too deep for it (it recurses per level). */
  private indented(value: unknown): string | null {
    try {
      return prettyJson(value, this.color);
    } catch (e) {
      if (e instanceof RangeError) return null;
      throw e;
    }
  }

  /** End of input: prints the groups still waiting for a parent, oldest first. */
  end(): void {
    this.grouper?.flush();
  }

  private writeGroup(group: (Buffer | unknown)[]): void {
    const out = this.out;
    if (this.pretty) {
      const indented = group.some((e) => e instanceof CompactJson) ? null : this.indented(group);
      // Too deep to indent: the whole group on one line.
      out.text((indented ?? `[${group.map((e) => (e instanceof CompactJson ? e.text : JSON.stringify(e))).join(',')}]`) + '\n');
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

/** readableEvent(), or the value as it is when it is nested too deep to walk. */
function readable(value: unknown): unknown {
  try {
    return readableEvent(value);
  } catch (e) {
    if (e instanceof RangeError) return value;
    throw e;
  }
}

/** An event's compact JSON text, kept as it is where indenting it would overflow the stack. */
class CompactJson {
  constructor(readonly text: string) {}
}
