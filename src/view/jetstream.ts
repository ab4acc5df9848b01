import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { ZiggyError } from '../errors';
import { ALL_SUBJECTS, connectNats, showServers, SUBJECT_PREFIX, subjectForType, type NatsTarget } from '../protocol/nats';
import { matchesType, type TypeFilter } from './type-filter';

/** What ziggyview reads from a JetStream stream. */
export interface JetStreamQuery {
  readonly target: NatsTarget;
  readonly stream: string;
  readonly types: TypeFilter;
  /** Unix ms: the first message stored at or after this (by the stream's timestamp); default the stream's first. */
  readonly start?: number;
  /** Unix ms: stop at the first message stored after this. */
  readonly end?: number;
  /** Keep reading new messages once the stored ones are read (until the signal aborts or `end` passes). */
  readonly follow: boolean;
}

/**
 * Reads events from a stream in stored order through an ordered consumer (ephemeral,
 * client-side, nothing left behind on the server), calling `each` with every matching
 * event's bytes. Without `follow`, stops once it has read what was stored when it
 * started. An exact type is filtered by the server (its subject); a prefix (`request*`)
 * by the subject here, since NATS subjects only match whole tokens. Rejects with
 * ZiggyError UNREACHABLE / BAD_CONFIG (connection, credentials) or IO (no such stream).
 */
export async function readJetStream(q: JetStreamQuery, each: (doc: Buffer) => void | Promise<void>, signal?: AbortSignal): Promise<void> {
  const nc = await connectNats(q.target, 'ziggyview', q.follow);
  try {
    const js = jetstream(nc);
    const filter = q.types.exact ? subjectForType(q.types.prefix) : ALL_SUBJECTS;
    const deliver =
      q.start !== undefined
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(q.start).toISOString() }
        : q.follow
          ? { deliver_policy: DeliverPolicy.New }
          : { deliver_policy: DeliverPolicy.All };
    let consumer;
    try {
      consumer = await js.consumers.get(q.stream, { filter_subjects: filter, ...deliver });
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'StreamNotFoundError') throw new ZiggyError('IO', `no stream ${q.stream} at ${showServers(q.target.servers)}`, { cause: e });
      throw new ZiggyError('UNREACHABLE', `cannot read stream ${q.stream} at ${showServers(q.target.servers)}: ${(e as Error).message}`, { cause: e });
    }
    if (!q.follow && (await consumer.info(true)).num_pending === 0) return;
    const messages = await consumer.consume({ max_messages: 1000 });
    const stop = (): void => void messages.close();
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    try {
      for await (const m of messages) {
        if (q.end !== undefined && m.info.timestampNanos / 1e6 > q.end) break;
        if (q.types.exact || matchesType(q.types, m.subject.slice(SUBJECT_PREFIX.length))) {
          const d = m.data;
          await each(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
        }
        if (!q.follow && m.info.pending === 0) break;
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      await messages.close().catch(() => undefined);
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
}
