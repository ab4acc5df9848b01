import { ZiggyError } from '../errors';
import { Kind } from '../protocol/bson-elements';
import { FieldPath, FieldRef, numberOf, scalarOf } from './field-path';
import type { TimeRange } from './time-range';
import { matchesType, type TypeFilter } from './type-filter';

/** The operators of `--where`. */
export type WhereOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' | 'exists';

/** The literal a condition compares with. */
export type WhereValue = number | string | boolean | null;

/** One parsed `--where` expression. */
export interface Condition {
  readonly path: FieldPath;
  readonly op: WhereOp;
  /** Absent for `exists`; the pattern's source for `~`. */
  readonly value?: WhereValue;
  /** The compiled pattern of `~`. */
  readonly regex?: RegExp;
}

const EXPR = /^\s*([^\s=!<>~]+)\s*(==|!=|<=|>=|<|>|~|exists\b)\s*(.*?)\s*$/s;

/**
 * Parses a `--where` expression: `PATH OP VALUE` or `PATH exists`. OP is one of
 * `== != < <= > >= ~`; VALUE is a number, `true`, `false`, `null`, or a string, bare or in
 * single or double quotes (`"500"` is the string; `500` the number). With `~` the value is
 * a regular expression. Throws ZiggyError('BAD_CONFIG') naming the expression.
 *
 * @example parseWhere('response.status >= 500'); parseWhere("route ~ '^/api/'")
 */
export function parseWhere(expr: string): Condition {
  const m = EXPR.exec(expr);
  const bad = (why: string): ZiggyError => new ZiggyError('BAD_CONFIG', `bad --where '${expr}': ${why}`);
  if (!m) throw bad('expected FIELD OP VALUE (OP one of == != < <= > >= ~) or FIELD exists');
  let path: FieldPath;
  try {
    path = FieldPath.parse(m[1]);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const op = (m[2] === 'exists' ? 'exists' : m[2]) as WhereOp;
  const rest = m[3];
  if (op === 'exists') {
    if (rest !== '') throw bad(`nothing may follow 'exists', got '${rest}'`);
    return { path, op };
  }
  if (rest === '') throw bad(`a value must follow '${op}'`);
  const quoted = unquote(rest);
  if (quoted === null) throw bad(`unbalanced quotes in ${rest}`);
  // `a >>= 5`, `a === 5`: a typo, not a string value; a value like that must be quoted.
  if (!quoted.quoted && /^[=<>!~]/.test(rest)) throw bad(`a value starting with '${rest[0]}' must be quoted`);
  if (op === '~') {
    const source = quoted.quoted ? quoted.text : rest;
    try {
      return { path, op, value: source, regex: new RegExp(source) };
    } catch (e) {
      throw bad(`bad regular expression: ${(e as Error).message}`);
    }
  }
  return { path, op, value: quoted.quoted ? quoted.text : bareValue(rest) };
}

function unquote(text: string): { text: string; quoted: boolean } | null {
  const q = text[0];
  if (q !== '"' && q !== "'") return { text, quoted: false };
  if (text.length < 2 || text[text.length - 1] !== q) return null;
  if (q === '"') {
    try {
      return { text: JSON.parse(text) as string, quoted: true };
    } catch {
      return null;
    }
  }
  return { text: text.slice(1, -1), quoted: true };
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function bareValue(text: string): WhereValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (NUMBER.test(text)) return Number(text);
  return text;
}

/** What selects events, besides the input. */
export interface FilterOptions {
  /** All must hold. */
  where?: readonly Condition[];
  /** Any may match; none given is every type. */
  types?: readonly TypeFilter[];
  /** Keeps events whose `end` is in the range (events with no numeric `end` are dropped). */
  time?: TimeRange;
}

/**
 * Decides which events are printed, on the BSON bytes: each condition looks up only its
 * own field (see FieldPath), and a string is compared byte for byte where it can be, so a
 * filter costs far less than decoding the event.
 */
export class EventFilter {
  private readonly conditions: CompiledCondition[];
  private readonly types: readonly TypeFilter[];
  private readonly since: number;
  private readonly until: number;
  private readonly typePath = FieldPath.parse('type');
  private readonly endPath = FieldPath.parse('end');
  private readonly ref = new FieldRef();

  constructor(options: FilterOptions = {}) {
    this.conditions = (options.where ?? []).map(compile);
    this.types = options.types ?? [];
    this.since = options.time?.since ?? -Infinity;
    this.until = options.time?.until ?? Infinity;
  }

  /** False when it lets every event through (so callers can skip it). */
  get active(): boolean {
    return this.conditions.length > 0 || this.types.length > 0 || this.since !== -Infinity || this.until !== Infinity;
  }

  /** Whether the document at `src[off..off+len)` passes. Throws ZiggyError('BAD_BSON') for bytes it cannot walk. */
  matches(src: Buffer, off: number, len: number): boolean {
    if (this.types.length > 0) {
      const type = this.typePath.scalar(src, off, len);
      if (typeof type !== 'string' || !this.types.some((t) => matchesType(t, type))) return false;
    }
    if (this.since !== -Infinity || this.until !== Infinity) {
      const end = this.endPath.number(src, off, len);
      if (!(end >= this.since && end < this.until)) return false;
    }
    const ref = this.ref;
    for (const c of this.conditions) {
      if (!c.test(src, off, len, ref)) return false;
    }
    return true;
  }
}

interface CompiledCondition {
  test(src: Buffer, off: number, len: number, ref: FieldRef): boolean;
}

function compile(c: Condition): CompiledCondition {
  const { path, op, value, regex } = c;
  if (path.text === 'duration') {
    // Computed, not found: only numbers apply.
    if (op === 'exists') return { test: (src, off, len) => !Number.isNaN(path.number(src, off, len)) };
    if (op === '~') return { test: (src, off, len) => regex!.test(String(path.number(src, off, len))) };
    return { test: (src, off, len) => compareNumbers(path.number(src, off, len), op, value) };
  }
  if (op === 'exists') return { test: (src, off, len, ref) => path.find(src, off, len, ref) };
  if (op === '~') {
    const re = regex!;
    return {
      test: (src, off, len, ref) => {
        if (!path.find(src, off, len, ref)) return false;
        const v = scalarOf(src, ref);
        return re.test(typeof v === 'string' ? v : String(v));
      },
    };
  }
  if (typeof value === 'number') {
    return { test: (src, off, len, ref) => compareNumbers(path.find(src, off, len, ref) ? numberOf(src, ref) : NaN, op, value) };
  }
  if (typeof value === 'string' && (op === '==' || op === '!=')) {
    const bytes = Buffer.from(value, 'utf8');
    const want = op === '==';
    return {
      test: (src, off, len, ref) => {
        if (!path.find(src, off, len, ref) || (ref.kind !== Kind.STRING && ref.kind !== Kind.SYMBOL)) return !want;
        const start = ref.at + 4;
        const end = ref.end - 1;
        const same = end - start === bytes.length && src.compare(bytes, 0, bytes.length, start, end) === 0;
        return same === want;
      },
    };
  }
  if (typeof value === 'string') {
    return {
      test: (src, off, len, ref) => {
        if (!path.find(src, off, len, ref) || (ref.kind !== Kind.STRING && ref.kind !== Kind.SYMBOL)) return false;
        const s = src.toString('utf8', ref.at + 4, ref.end - 1);
        return ordered(s < value ? -1 : s > value ? 1 : 0, op);
      },
    };
  }
  // true, false, null: equality only (an order between them means nothing).
  const want = op === '==';
  const equalOnly = op === '==' || op === '!=';
  return {
    test: (src, off, len, ref) => {
      if (!equalOnly) return false;
      if (!path.find(src, off, len, ref)) return !want;
      const same = value === null ? ref.kind === Kind.NULL || ref.kind === Kind.UNDEFINED : ref.kind === Kind.BOOLEAN && (src[ref.at] === 1) === value;
      return same === want;
    },
  };
}

/** A number against a literal: NaN (absent, not a number) only passes `!=`. */
function compareNumbers(v: number, op: WhereOp, value: WhereValue | undefined): boolean {
  if (typeof value !== 'number') return op === '!=';
  if (v !== v) return op === '!=';
  return ordered(v < value ? -1 : v > value ? 1 : 0, op);
}

function ordered(cmp: number, op: WhereOp): boolean {
  switch (op) {
    case '==':
      return cmp === 0;
    case '!=':
      return cmp !== 0;
    case '<':
      return cmp < 0;
    case '<=':
      return cmp <= 0;
    case '>':
      return cmp > 0;
    case '>=':
      return cmp >= 0;
    default:
      return false;
  }
}
