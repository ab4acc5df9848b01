import { expect } from 'chai';
import { MAX_BATCH_BYTES, MemoryForwardQueue } from '../../src/daemon/forward-queue';
import { Tally } from '../../src/daemon/stats';
import { event } from './harness';

describe('daemon MemoryForwardQueue', () => {
  const type = new Tally();
  const host = new Tally();
  const offer = (q: MemoryForwardQueue, doc: Buffer): boolean => q.offer(doc, 0, doc.length, type, host);

  it('hands out what was offered as concatenated batches, oldest first, until acknowledged', () => {
    const q = new MemoryForwardQueue(100, 1 << 20);
    const docs = [event('a', { n: 1 }), event('b', { n: 2 })];
    for (const d of docs) expect(offer(q, d)).to.equal(true);
    expect(q.length).to.equal(2);
    const batch = q.peek()!;
    expect(batch.frame.equals(Buffer.concat(docs))).to.equal(true);
    expect(batch.count).to.equal(2);
    expect(batch.tallies).to.deep.equal([type, host, type, host]);
    expect(q.peek()).to.equal(batch);
    offer(q, docs[0]);
    expect(q.length).to.equal(3);
    q.ack();
    expect(q.length).to.equal(1);
    expect(q.peek()!.frame.equals(docs[0])).to.equal(true);
    q.ack();
    expect(q.peek()).to.equal(undefined);
    expect(q.bytes).to.equal(0);
  });

  it('copies documents, so the message they came from may change', () => {
    const q = new MemoryForwardQueue(10, 1 << 20);
    const doc = event('a');
    const frame = Buffer.from(doc);
    q.offer(frame, 0, frame.length, type, host);
    frame.fill(0);
    expect(q.peek()!.frame.equals(doc)).to.equal(true);
  });

  it('refuses documents past its high-water mark in documents', () => {
    const q = new MemoryForwardQueue(3, 1 << 20);
    const doc = event('a');
    expect([1, 2, 3, 4].map(() => offer(q, doc))).to.deep.equal([true, true, true, false]);
    q.peek();
    q.ack();
    expect(offer(q, doc)).to.equal(true);
  });

  it('refuses documents past its byte limit', () => {
    const doc = event('a');
    const q = new MemoryForwardQueue(1000, doc.length * 2);
    expect([1, 2, 3].map(() => offer(q, doc))).to.deep.equal([true, true, false]);
  });

  it('closes a batch at MAX_BATCH_BYTES, and sends a bigger document as a batch of its own', () => {
    const q = new MemoryForwardQueue(100_000, 1 << 30);
    const doc = event('a', { pad: 'x'.repeat(1000) });
    const perBatch = Math.floor(MAX_BATCH_BYTES / doc.length);
    for (let i = 0; i < perBatch + 1; i++) offer(q, doc);
    const big = event('big', { pad: 'y'.repeat(MAX_BATCH_BYTES) });
    offer(q, big);
    const sizes: number[] = [];
    for (let b = q.peek(); b; b = q.peek()) {
      sizes.push(b.count);
      q.ack();
    }
    expect(sizes).to.deep.equal([perBatch, 1, 1]);
  });

  it('gives back everything still queued on takeAll()', () => {
    const q = new MemoryForwardQueue(100, 1 << 20);
    offer(q, event('a'));
    q.peek();
    offer(q, event('b'));
    const rest = q.takeAll();
    expect(rest.map((b) => b.count)).to.deep.equal([1, 1]);
    expect(q.length).to.equal(0);
    expect(q.peek()).to.equal(undefined);
  });
});
