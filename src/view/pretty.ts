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
    if (v.length === 0) {
      parts.push('[]');
      return;
    }
    const inner = pad + indent;
    parts.push('[\n');
    v.forEach((item, i) => {
      parts.push(inner);
      writeValue(item, inner, indent, parts);
      parts.push(i < v.length - 1 ? ',\n' : '\n');
    });
    parts.push(pad, ']');
  } else {
    const keys = Object.keys(v as object);
    if (keys.length === 0) {
      parts.push('{}');
      return;
    }
    const inner = pad + indent;
    parts.push('{\n');
    keys.forEach((k, i) => {
      parts.push(inner, paint('key', JSON.stringify(k)), ': ');
      writeValue((v as Record<string, unknown>)[k], inner, indent, parts);
      parts.push(i < keys.length - 1 ? ',\n' : '\n');
    });
    parts.push(pad, '}');
  }
}
