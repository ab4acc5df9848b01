import { expect } from 'chai';
import { PassThrough, Writable } from 'node:stream';
import type { Document } from 'bson';
import { isZiggyError } from '../../src/errors';
import { parseTypeFilter } from '../../src/view/type-filter';
import { view, type ViewOptions } from '../../src/view/view';
import { tempDir } from '../helpers/net';
import { bsonOf, event, ndjson, newId, writeLog } from './fixtures';

async function run(options: Omit<ViewOptions, 'output'>): Promise<{ text: string; warnings: string[]; error?: unknown }> {
  const chunks: Buffer[] = [];
  const output = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk);
      done();
    },
  });
  const warnings: string[] = [];
  let error: unknown;
  try {
    await view({ ...options, output, warn: (w) => warnings.push(w) });
  } catch (e) {
    error = e;
  }
  return { text: Buffer.concat(chunks).toString(), warnings, error };
}

describe('view()', () => {
  let dir: { path: string; remove: () => Promise<void> };
  // Two requests per day, each with sub-events written to their own type's file first.
  const ids = { d1a: newId(), d1b: newId(), d2a: newId() };
  before(async () => {
    dir = await tempDir();
    await writeLog(dir.path, '20240501', 'request', [event('request', 10, { id: ids.d1a }), event('request', 20, { id: ids.d1b })]);
    await writeLog(dir.path, '20240501', 'request.sql', [
      event('request.sql', 8, { id: ids.d1a }),
      event('request.sql', 15, { id: ids.d1b }),
      event('request.sql', 18, { id: ids.d1b }),
    ]);
    await writeLog(dir.path, '20240501', 'request.memcache', [event('request.memcache', 9, { id: ids.d1a })]);
    await writeLog(dir.path, '20240502', 'request', [event('request', 30, { id: ids.d2a })]);
    await writeLog(dir.path, '20240502', 'request.sql', [event('request.sql', 29, { id: ids.d2a })]);
    await writeLog(dir.path, '20240502', 'job', [event('job', 1)]);
  });
  after(() => dir.remove());

  const logInput = (types: string, startDay = '20240501', endDay = '20240502') => ({
    kind: 'log' as const,
    query: { logPath: dir.path, types: parseTypeFilter(types), startDay, endDay },
  });

  it('reads a type prefix over a date range: days in order, types merged by `end`', async () => {
    const { text, error } = await run({ input: logInput('request*') });
    expect(error).to.equal(undefined);
    expect(ndjson(text).map((e) => `${e.type}@${e.end}`)).to.deep.equal([
      'request.sql@8',
      'request.memcache@9',
      'request@10',
      'request.sql@15',
      'request.sql@18',
      'request@20',
      'request.sql@29',
      'request@30',
    ]);
  });

  it('groups sub-events with their parent across the merged files', async () => {
    const { text } = await run({ input: logInput('request*'), group: true });
    const groups = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Document[]);
    expect(groups.map((g) => g.map((e) => e.type))).to.deep.equal([
      ['request.sql', 'request.memcache', 'request'],
      ['request.sql', 'request.sql', 'request'],
      ['request.sql', 'request'],
    ]);
    expect(groups.every((g) => g.every((e) => e.id === g[0].id))).to.equal(true);
  });

  it('reports a query that finds nothing as IO', async () => {
    const { error } = await run({ input: logInput('nothing', '20240501', '20240502') });
    expect(isZiggyError(error, 'IO')).to.equal(true);
    expect((error as Error).message).to.equal(`no log files for nothing from 20240501 to 20240502 under ${dir.path}`);
  });

  it('reads a stream, ending a truncated last document with a warning', async () => {
    const stream = new PassThrough();
    const bytes = bsonOf([event('a', 1), event('a', 2)]);
    stream.end(bytes.subarray(0, bytes.length - 3));
    const { text, warnings, error } = await run({ input: { kind: 'stream', name: '<stdin>', stream } });
    expect(error).to.equal(undefined);
    expect(ndjson(text)).to.have.length(1);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^<stdin>: truncated document at byte \d+/);
  });

  it('prints every good event before a corrupt one, then rejects with BAD_BSON', async () => {
    const stream = new PassThrough();
    stream.end(Buffer.concat([bsonOf([event('a', 1), event('a', 2)]), Buffer.from([5, 0, 0, 0, 1])]));
    const { text, error } = await run({ input: { kind: 'stream', name: '<stdin>', stream }, group: true });
    expect(isZiggyError(error, 'BAD_BSON')).to.equal(true);
    expect(text.split('\n').filter(Boolean)).to.have.length(2);
  });
});
