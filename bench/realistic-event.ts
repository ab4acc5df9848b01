import { encode } from '../src/protocol/codec';
import { newEventId } from '../src/protocol/event';

/** A request and its sub-events, shaped as the client library sends them. */
export function realisticEvent(i: number): Buffer {
  const start = 1_700_000_000 + i / 1000;
  const kind = i % 4;
  const type = kind === 0 ? 'request' : kind === 3 ? 'request.memcache' : 'request.sql';
  const body =
    kind === 0
      ? {
          method: 'GET',
          path: '/api/users/42/orders',
          status: 200,
          user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0)',
          timings: { request_time: 0.0213 },
          bytes: 5120,
        }
      : kind === 3
        ? { key: `user:42:orders:${i % 100}`, hit: i % 2 === 0, timings: { get: 0.0004 }, size: 812 }
        : { query: 'SELECT id, total, created_at FROM orders WHERE user_id = ? ORDER BY created_at DESC LIMIT 20', rows: 20, timings: { query_time: 0.0031 } };
  return encode({ id: newEventId(), type, host: 'web-03.example.com', pid: 4242, start, end: start + 0.02, body });
}
