import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isZiggyError } from '../../src/errors';
import { describeQuery, findLogFiles, parseDay, utcDay } from '../../src/view/log-files';
import { parseTypeFilter } from '../../src/view/type-filter';
import { tempDir } from '../helpers/net';
import { event, writeLog } from './fixtures';

describe('log-path lookup', () => {
  let dir: { path: string; remove: () => Promise<void> };
  before(async () => {
    dir = await tempDir();
    for (const day of ['20240429', '20240430', '20240501', '20240502']) {
      for (const type of ['request', 'request.sql', 'requests', 'job']) await writeLog(dir.path, day, type, [event(type, 1)]);
    }
    await writeFile(join(dir.path, '20240501', 'notes.txt'), 'not a log');
    await writeFile(join(dir.path, '20240501', 'request-20240430.bson'), ''); // another day's name
    await mkdir(join(dir.path, 'archive'));
  });
  after(() => dir.remove());

  const query = (types: string, startDay: string, endDay: string) => ({ logPath: dir.path, types: parseTypeFilter(types), startDay, endDay });
  const names = (days: { day: string; type: string }[][]) => days.map((d) => d.map((f) => `${f.day}/${f.type}`));

  it('finds an exact type for each day of an inclusive range, in day order', async () => {
    const days = await findLogFiles(query('request', '20240430', '20240501'));
    expect(names(days)).to.deep.equal([['20240430/request'], ['20240501/request']]);
    expect(days[0][0].path).to.equal(join(dir.path, '20240430', 'request-20240430.bson'));
  });

  it("finds every type with a prefix ending in '*', types sorted within a day", async () => {
    const days = await findLogFiles(query('request*', '20240502', '20240502'));
    expect(names(days)).to.deep.equal([['20240502/request', '20240502/request.sql', '20240502/requests']]);
  });

  it('ignores files that are not that day’s logs, and leaves out days with nothing', async () => {
    expect(names(await findLogFiles(query('*', '20240501', '20240501')))).to.deep.equal([
      ['20240501/job', '20240501/request', '20240501/request.sql', '20240501/requests'],
    ]);
    expect(await findLogFiles(query('request', '20240601', '20991231'))).to.deep.equal([]);
  });

  it('refuses a start after the end, and a log path that is not there', async () => {
    let error: unknown;
    try {
      await findLogFiles(query('request', '20240502', '20240501'));
    } catch (e) {
      error = e;
    }
    expect(isZiggyError(error, 'BAD_CONFIG')).to.equal(true);
    error = undefined;
    try {
      await findLogFiles({ ...query('request', '20240501', '20240501'), logPath: join(dir.path, 'nope') });
    } catch (e) {
      error = e;
    }
    expect(isZiggyError(error, 'IO')).to.equal(true);
    expect((error as Error).message).to.include('cannot read log path');
  });

  it('describes a query for messages', () => {
    expect(describeQuery(query('request*', '20240501', '20240502'))).to.equal(`request* from 20240501 to 20240502 under ${dir.path}`);
    expect(describeQuery(query('job', '20240501', '20240501'))).to.equal(`job on 20240501 under ${dir.path}`);
  });
});

describe('days', () => {
  it('utcDay() names the UTC day, as daemons do', () => {
    expect(utcDay(new Date('2024-05-01T23:59:59.999Z'))).to.equal('20240501');
    expect(utcDay(new Date('2024-05-02T00:00:00.000Z'))).to.equal('20240502');
  });

  it('parseDay() takes real YYYYMMDD dates and refuses others', () => {
    expect(parseDay('20240229')).to.equal('20240229');
    for (const bad of ['20230229', '20241301', '2024-05-01', '240501', '20240500', 'today']) {
      expect(() => parseDay(bad, '--start-date'), bad).to.throw(`bad --start-date '${bad}'`);
    }
  });
});
