import { isValidEventType, MAX_TYPE_LENGTH } from '../protocol/event';
import { ByteTable } from './byte-table';
import type { TypeRoute } from './sink';
import type { Stats, Tally } from './stats';

/** Longest host name counted under its own name (DNS names are at most 253 bytes). */
export const MAX_HOST_LENGTH = 255;
// Control characters (NUL included) would corrupt a log line or, as a BSON key, make the
// STATUS reply unserializable.
const BAD_HOST_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Turns the `type` and `host` bytes of a document into a validated route and a host
 * tally. Known names are found by their bytes (no string is made); a new name is decoded
 * and validated once, then remembered, up to the caps, past which routes are made afresh
 * each time (slower, bounded memory).
 */
export class Router {
  private readonly types: ByteTable<TypeRoute>;
  private readonly hosts: ByteTable<Tally>;

  constructor(
    private readonly stats: Stats,
    maxTypes: number,
    maxHosts: number,
  ) {
    this.types = new ByteTable(maxTypes);
    this.hosts = new ByteTable(maxHosts);
  }

  /** The route for the type whose UTF-8 bytes are `buf[start, end)`, or null when the type is not acceptable. */
  route(buf: Buffer, start: number, end: number): TypeRoute | null {
    return this.types.get(buf, start, end) ?? this.newRoute(buf, start, end);
  }

  /** The tally for the host whose UTF-8 bytes are `buf[start, end)`. */
  host(buf: Buffer, start: number, end: number): Tally {
    return this.hosts.get(buf, start, end) ?? this.newHost(buf, start, end);
  }

  private newRoute(buf: Buffer, start: number, end: number): TypeRoute | null {
    // Valid types are ASCII, so a longer byte string cannot be one: refuse before decoding.
    if (end - start > MAX_TYPE_LENGTH) return null;
    const type = buf.toString('utf8', start, end);
    if (!isValidEventType(type)) return null;
    const topic = Buffer.from(type, 'utf8');
    if (!this.types.full) {
      const tally = this.stats.addType(type);
      if (tally !== undefined) {
        const route: TypeRoute = { id: this.types.size, type, topic, tally };
        this.types.add(buf, start, end, route);
        return route;
      }
    }
    return { id: -1, type, topic, tally: this.stats.otherType };
  }

  private newHost(buf: Buffer, start: number, end: number): Tally {
    if (end - start > MAX_HOST_LENGTH || end === start) return this.stats.unknownHost;
    const host = buf.toString('utf8', start, end);
    if (BAD_HOST_CHARS.test(host)) return this.stats.unknownHost;
    if (this.hosts.full) return this.stats.otherHost;
    const tally = this.stats.addHost(host) ?? this.stats.otherHost;
    this.hosts.add(buf, start, end, tally);
    return tally;
  }
}
