/** ANSI colours for pretty output, close to jq's palette. */
const COLORS = {
  key: '\x1b[34;1m',
  string: '\x1b[32m',
  number: '\x1b[36m',
  boolean: '\x1b[33m',
  null: '\x1b[90m',
  reset: '\x1b[0m',
} as const;

/**
 * Indented JSON text of a plain JSON value (what JSON.parse returns), with ANSI colours
 * for keys, strings, numbers, booleans and null when `color` is set.
 */
export function prettyJson(value: unknown, color: boolean, indent = '  '): string {
  if (!color) return JSON.stringify(value, null, indent) ?? 'null';
  const parts: string[] = [];
  writeValue(value, '', indent, parts);
  return parts.join('');
}

function paint(kind: Exclude<keyof typeof COLORS, 'reset'>, text: string): string {
  return COLORS[kind] + text + COLORS.reset;
}

function writeValue(v: unknown, pad: string, indent: string, parts: string[]): void {
  if (v === null || v === undefined) {
    parts.push(paint('null', 'null'));
  } else if (typeof v === 'string') {
    parts.push(paint('string', JSON.stringify(v)));
  } else if (typeof v === 'number') {
    parts.push(paint('number', JSON.stringify(v)));
  } else if (typeof v === 'boolean') {
    parts.push(paint('boolean', String(v)));
  } else if (Array.isArray(v)) {
    writeLines('[', ']', v.length, pad, indent, parts, (i, inner) => writeValue(v[i], inner, indent, parts));
  } else {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    writeLines('{', '}', keys.length, pad, indent, parts, (i, inner) => {
      parts.push(paint('key', JSON.stringify(keys[i])), ': ');
      writeValue(o[keys[i]], inner, indent, parts);
    });
  }
}

/**
 * An array or object of `count` entries as JSON.stringify indents it: one entry a line,
 * one indent deeper than `pad`, written by `entry`; the closing bracket at `pad`. An empty
 * one stays on one line.
 */
function writeLines(open: string, close: string, count: number, pad: string, indent: string, parts: string[], entry: (i: number, inner: string) => void): void {
  if (count === 0) {
    parts.push(open, close);
    return;
  }
  const inner = pad + indent;
  parts.push(open, '\n');
  for (let i = 0; i < count; i++) {
    parts.push(inner);
    entry(i, inner);
    parts.push(i < count - 1 ? ',\n' : '\n');
  }
  parts.push(pad, close);
}

/**
 * Whether pretty output is coloured: `FORCE_COLOR` (set, and not `0` or `false`) forces
 * colours on, else a non-empty `NO_COLOR` turns them off (https://no-color.org), else
 * colours go to a terminal only.
 */
export function useColor(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return isTTY;
}

/** A number with binary floating-point noise rounded away (0.1 + 0.2 prints as 0.3): 15 significant digits (a double holds 15 to 17). */
export function roundNoise(v: number): number {
  if (Number.isInteger(v) || !Number.isFinite(v)) return v;
  return Number(v.toPrecision(15));
}

/**
 * An event (as JSON.parse gives it) made for reading: `start` and `end` (unix seconds) as
 * ISO-8601 times with milliseconds, every other number with its float noise rounded.
 */
export function readableEvent(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(readableEvent);
  if (value === null || typeof value !== 'object') return typeof value === 'number' ? roundNoise(value) : value;
  const out = roundAll(value) as Record<string, unknown>;
  for (const k of ['start', 'end']) {
    const t = (value as Record<string, unknown>)[k]; // the exact seconds, not the rounded ones
    if (typeof t === 'number' && Number.isFinite(t) && Math.abs(t) < 8.64e12) out[k] = new Date(Math.round(t * 1000)).toISOString();
  }
  return out;
}

function roundAll(value: unknown): unknown {
  if (typeof value === 'number') return roundNoise(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(roundAll);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = roundAll(v);
  return out;
}
