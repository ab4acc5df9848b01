import { ZiggyError } from '../errors';

/** ZeroMQ's Z85 alphabet (RFC 32): 85 printable characters, none of them quotes or backslashes. */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Z85-encodes bytes whose length is a multiple of 4 (a CURVE key's 32 bytes become 40
 * characters): each 4 bytes, read big-endian, become 5 base-85 digits.
 */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new ZiggyError('BAD_VALUE', `Z85 encodes multiples of 4 bytes, got ${bytes.length}`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value = ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
    let chunk = '';
    for (let d = 0; d < 5; d++) {
      chunk = ALPHABET[value % 85] + chunk;
      value = Math.floor(value / 85);
    }
    out += chunk;
  }
  return out;
}

/** Decodes Z85 text (a multiple of 5 characters); throws ZiggyError('BAD_VALUE') on anything else. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new ZiggyError('BAD_VALUE', `Z85 text is a multiple of 5 characters long, got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let d = 0; d < 5; d++) {
      const code = text.charCodeAt(i + d);
      const digit = code < 128 ? DECODE[code] : -1;
      if (digit < 0) throw new ZiggyError('BAD_VALUE', `not a Z85 character: ${JSON.stringify(text[i + d])}`);
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) throw new ZiggyError('BAD_VALUE', `Z85 group '${text.slice(i, i + 5)}' is out of range`);
    out.writeUInt32BE(value, o);
  }
  return out;
}

/** True for a 40-character Z85 string that decodes to 32 bytes: the text form of a CURVE key. */
export function isZ85Key(text: string): boolean {
  if (text.length !== 40) return false;
  try {
    z85Decode(text);
    return true;
  } catch {
    return false;
  }
}
