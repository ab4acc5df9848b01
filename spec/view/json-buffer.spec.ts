import { expect } from 'chai';
import { JsonBuffer } from '../../src/view/json-buffer';

describe('JsonBuffer', () => {
  it('grows as needed, keeping what was written', () => {
    const b = new JsonBuffer(4);
    b.ascii('{"a":');
    b.text('"é"');
    b.bytes(Buffer.from('}xyz'), 0, 1);
    expect(b.buf.toString('utf8', 0, b.pos)).to.equal('{"a":"é"}');
  });

  it('take() hands over a copy that later writes do not touch', () => {
    const b = new JsonBuffer(16);
    b.ascii('first');
    const taken = b.take();
    b.ascii('SECOND');
    expect(taken.toString()).to.equal('first');
    expect(b.buf.toString('utf8', 0, b.pos)).to.equal('SECOND');
  });

  it('take() lets go of a buffer grown far past its initial size', () => {
    const b = new JsonBuffer(16);
    b.ascii('x'.repeat(1000));
    expect(b.take()).to.have.length(1000);
    expect(b.buf.length).to.equal(16);
  });
});
