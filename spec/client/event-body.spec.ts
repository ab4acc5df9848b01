import { expect } from 'chai';
import { EventBody } from '../../src/client/event-body';
import { FieldList } from '../../src/client/field-list';
import { serializeEvent } from '../../src/client/serializer';
import { codeOf } from '../helpers/client';

function filled(lists: boolean): EventBody {
  const body = new EventBody(lists);
  body.adopt('method', 'GET');
  body.adopt('response.status', 200);
  body.add('db.queries', 2);
  body.append('tags', 'a');
  return body;
}

const bytesOf = (body: EventBody): Buffer => serializeEvent({ id: 'f'.repeat(32), type: 't', host: 'h', pid: 1, start: 1, end: 2, body: body.content() });

describe('client/event-body', () => {
  it('keeps simple fields as a list when asked to, and writes the same document as objects', () => {
    const list = filled(true);
    const objects = filled(false);
    expect(list.content()).to.be.instanceOf(FieldList);
    expect(objects.content()).to.not.be.instanceOf(FieldList);
    expect(bytesOf(list).equals(bytesOf(objects))).to.equal(true);
    expect(list.toObjects()).to.deep.equal({ method: 'GET', response: { status: 200 }, db: { queries: 2 }, tags: ['a'] });
  });

  it('turns the list into objects for good when a key is beyond it', () => {
    const body = filled(true);
    body.adopt('a.b.c', 1);
    expect(body.content()).to.deep.equal({ method: 'GET', response: { status: 200 }, db: { queries: 2 }, tags: ['a'], a: { b: { c: 1 } } });
  });

  it('is frozen while it holds only primitives and containers made for it', () => {
    const body = filled(true);
    body.adopt('made', { fresh: true }); // made for the event: nothing else holds it
    body.set('n', 1);
    expect(body.frozen).to.equal(true);
  });

  it('is no longer frozen once it holds an object the application handed in, or was handed out', () => {
    const viaSet = new EventBody(true);
    viaSet.set('row', { id: 1 });
    const viaAppend = new EventBody(true);
    viaAppend.append('rows', { id: 1 });
    const viaMerge = new EventBody(true);
    viaMerge.merge('response', { status: 200 });
    const viaAssign = new EventBody(true);
    viaAssign.assign({ extra: [1] });
    const viaHandOut = new EventBody(true);
    viaHandOut.handOut();
    for (const body of [viaSet, viaAppend, viaMerge, viaAssign, viaHandOut]) expect(body.frozen).to.equal(false);
    const primitives = new EventBody(true);
    primitives.assign({ a: 1, b: 'x' });
    expect(primitives.frozen).to.equal(true);
  });

  it('takes no writes once closed, and can still be read', () => {
    const body = filled(true);
    body.close();
    expect(body.open).to.equal(false);
    expect(codeOf(() => body.set('x', 1))).to.equal('BAD_STATE');
    expect(codeOf(() => body.adopt('x', 1))).to.equal('BAD_STATE');
    expect(codeOf(() => body.add('x', 1))).to.equal('BAD_STATE');
    expect(body.handOut()).to.deep.include({ method: 'GET' });
  });

  it('sets a field only when unset with adoptIfUnset (the first error wins)', () => {
    const body = new EventBody(true);
    body.adoptIfUnset('exception', { message: 'first' });
    body.adoptIfUnset('exception', { message: 'second' });
    expect(body.toObjects()).to.deep.equal({ exception: { message: 'first' } });
  });
});
