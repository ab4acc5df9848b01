import { expect } from 'chai';
import { Writable } from 'node:stream';
import { isZiggyError } from '../../src/errors';
import { Output } from '../../src/view/output';

describe('Output', () => {
  it('waits for drain when the stream pushes back, and keeps every byte in order', async () => {
    const got: Buffer[] = [];
    let drains = 0;
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, done) {
        got.push(chunk);
        setTimeout(done, 2);
      },
    });
    slow.on('drain', () => drains++);
    const out = new Output(slow, 100);
    let expected = '';
    for (let i = 0; i < 200; i++) {
      const line = `{"n":${i}}\n`;
      expected += line;
      out.json.ascii(line);
      if (out.full) await out.flush();
    }
    await out.flush();
    await new Promise<void>((res) => slow.end(res));
    expect(Buffer.concat(got).toString()).to.equal(expected);
    expect(drains).to.be.greaterThan(0);
  });

  it('refuses to write to a closed stream', async () => {
    const sink = new Writable({ write: (_c, _e, done) => done() });
    sink.destroy();
    const out = new Output(sink);
    out.json.ascii('x');
    let error: unknown;
    try {
      await out.flush();
    } catch (e) {
      error = e;
    }
    expect(isZiggyError(error, 'CLOSED')).to.equal(true);
  });
});
