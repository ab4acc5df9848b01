import { expect } from 'chai';
import { addDeep, appendDeep, getDeep, isPlainObject, mergeDeep, setDeep, splitKey, type Fields } from '../../src/client/keys';
import { codeOf } from '../helpers/client';

describe('client/keys', () => {
  describe('splitKey', () => {
    it('splits on dots and returns the same array for the same key', () => {
      expect(splitKey('a.b.c')).to.deep.equal(['a', 'b', 'c']);
      expect(splitKey('a.b.c')).to.equal(splitKey('a.b.c'));
      expect(splitKey('plain')).to.deep.equal(['plain']);
    });

    it('refuses empty keys and empty segments with BAD_KEY', () => {
      for (const bad of ['', '.a', 'a.', 'a..b'])
        expect(
          codeOf(() => splitKey(bad)),
          bad,
        ).to.equal('BAD_KEY');
      expect(codeOf(() => splitKey(undefined as unknown as string))).to.equal('BAD_KEY');
    });

    it('refuses segments that lead to a prototype', () => {
      for (const bad of ['__proto__', 'a.__proto__.b', 'constructor.prototype', 'x.prototype']) {
        expect(
          codeOf(() => splitKey(bad)),
          bad,
        ).to.equal('BAD_KEY');
      }
    });
  });

  describe('setDeep', () => {
    it('sets a plain field', () => {
      const body: Fields = {};
      setDeep(body, 'user_agent', 'curl');
      expect(body).to.deep.equal({ user_agent: 'curl' });
    });

    it('takes the plain-field shortcut only for keys without a dot, and refuses the rest as splitKey does', () => {
      const body: Fields = {};
      setDeep(body, 'x', 1);
      setDeep(body, 'a.b', 2);
      expect(body).to.deep.equal({ x: 1, a: { b: 2 } });
      for (const bad of ['', '.', 'a.', '.a', '__proto__', 'constructor', 'prototype']) {
        expect(
          codeOf(() => setDeep({}, bad, 1)),
          bad,
        ).to.equal('BAD_KEY');
      }
      expect(codeOf(() => setDeep({}, 42 as unknown as string, 1))).to.equal('BAD_KEY');
    });

    it('creates nested objects for dotted keys and keeps siblings', () => {
      const body: Fields = {};
      setDeep(body, 'response.status', 200);
      setDeep(body, 'response.size', 512);
      setDeep(body, 'a.b.c.d', true);
      expect(body).to.deep.equal({ response: { status: 200, size: 512 }, a: { b: { c: { d: true } } } });
    });

    it('overwrites a leaf but refuses to write through a non-object', () => {
      const body: Fields = { status: 200, when: new Date(0), tags: ['x'] };
      setDeep(body, 'status', 404);
      expect(body.status).to.equal(404);
      expect(codeOf(() => setDeep(body, 'status.code', 1))).to.equal('BAD_KEY');
      expect(codeOf(() => setDeep(body, 'when.year', 1970))).to.equal('BAD_KEY');
      expect(codeOf(() => setDeep(body, 'tags.name', 'y'))).to.equal('BAD_KEY');
      expect(body).to.deep.equal({ status: 404, when: new Date(0), tags: ['x'] });
    });

    it('writes into an existing array element by index', () => {
      const body: Fields = { rows: [{ id: 1 }, { id: 2 }] };
      setDeep(body, 'rows.1.id', 20);
      setDeep(body, 'rows.2.id', 30);
      expect(body).to.deep.equal({ rows: [{ id: 1 }, { id: 20 }, { id: 30 }] });
    });

    it('refuses an index past the end of an array, which would leave holes', () => {
      const body: Fields = { rows: [1] };
      expect(codeOf(() => setDeep(body, 'rows.5', 2))).to.equal('BAD_KEY');
      expect(codeOf(() => setDeep(body, 'rows.99999999999.id', 2))).to.equal('BAD_KEY');
      expect(codeOf(() => appendDeep(body, 'rows.3', 2))).to.equal('BAD_KEY');
      setDeep(body, 'rows.1', 2);
      expect(body).to.deep.equal({ rows: [1, 2] });
    });

    it('does not follow inherited properties', () => {
      const body: Fields = {};
      setDeep(body, 'toString.x', 1);
      expect(body).to.deep.equal({ toString: { x: 1 } });
    });

    it('never reaches Object.prototype', () => {
      const body: Fields = {};
      for (const key of ['__proto__.polluted', 'constructor.prototype.polluted', '__proto__', 'a.constructor.prototype.polluted']) {
        expect(
          codeOf(() => setDeep(body, key, 'yes')),
          key,
        ).to.equal('BAD_KEY');
      }
      expect(({} as Fields).polluted).to.equal(undefined);
      expect(Object.getPrototypeOf(body)).to.equal(Object.prototype);
      expect(Object.keys(body)).to.deep.equal([]);
    });
  });

  describe('getDeep', () => {
    const body: Fields = { rows: [{ id: 7, tags: ['a', 'b'] }], response: { status: 200 }, n: 0 };

    it('reads nested fields and indexes arrays by numeric segments', () => {
      expect(getDeep(body, 'response.status')).to.equal(200);
      expect(getDeep(body, 'rows.0.id')).to.equal(7);
      expect(getDeep(body, 'rows.0.tags.1')).to.equal('b');
      expect(getDeep(body, 'n')).to.equal(0);
    });

    it('is undefined for missing steps, non-indices and inherited names', () => {
      expect(getDeep(body, 'rows.1.id')).to.equal(undefined);
      expect(getDeep(body, 'rows.01.id')).to.equal(undefined);
      expect(getDeep(body, 'rows.length')).to.equal(undefined);
      expect(getDeep(body, 'response.status.code')).to.equal(undefined);
      expect(getDeep(body, 'toString')).to.equal(undefined);
    });
  });

  describe('appendDeep', () => {
    it('creates the array, then appends', () => {
      const body: Fields = {};
      appendDeep(body, 'cache.misses', 'k1');
      appendDeep(body, 'cache.misses', 'k2');
      expect(body).to.deep.equal({ cache: { misses: ['k1', 'k2'] } });
    });

    it('refuses to append to a non-array', () => {
      const body: Fields = { x: 'str' };
      expect(codeOf(() => appendDeep(body, 'x', 1))).to.equal('BAD_KEY');
      expect(body.x).to.equal('str');
    });
  });

  describe('addDeep', () => {
    it('counts from zero and adds', () => {
      const body: Fields = {};
      addDeep(body, 'db.queries', 1);
      addDeep(body, 'db.queries', 2.5);
      expect(body).to.deep.equal({ db: { queries: 3.5 } });
    });

    it('refuses a non-number target with BAD_KEY and a non-finite amount with BAD_VALUE', () => {
      const body: Fields = { s: 'x' };
      expect(codeOf(() => addDeep(body, 's', 1))).to.equal('BAD_KEY');
      expect(codeOf(() => addDeep(body, 'n', Number.NaN))).to.equal('BAD_VALUE');
      expect(codeOf(() => addDeep(body, 'n', '1' as unknown as number))).to.equal('BAD_VALUE');
      expect(body).to.deep.equal({ s: 'x' });
    });
  });

  describe('mergeDeep', () => {
    it('merges fields under a key, recursively', () => {
      const body: Fields = { response: { status: 200, headers: { a: '1' } } };
      mergeDeep(body, 'response', { size: 10, headers: { b: '2' } });
      expect(body).to.deep.equal({ response: { status: 200, size: 10, headers: { a: '1', b: '2' } } });
    });

    it('merges into the root with a null key and creates missing objects', () => {
      const body: Fields = {};
      mergeDeep(body, null, { a: 1 });
      mergeDeep(body, 'x.y', { z: 2 });
      expect(body).to.deep.equal({ a: 1, x: { y: { z: 2 } } });
    });

    it("copies plain objects, so later merges never write into the caller's objects", () => {
      const headers = { a: '1' };
      const body: Fields = {};
      mergeDeep(body, 'response', { headers });
      mergeDeep(body, 'response', { headers: { b: '2' } });
      expect(headers).to.deep.equal({ a: '1' });
      expect(body).to.deep.equal({ response: { headers: { a: '1', b: '2' } } });
    });

    it('refuses an own __proto__ field (as JSON.parse makes) and non-object inputs', () => {
      const body: Fields = {};
      const hostile = JSON.parse('{"__proto__": {"polluted": "yes"}}') as Fields;
      expect(codeOf(() => mergeDeep(body, null, hostile))).to.equal('BAD_KEY');
      expect(codeOf(() => mergeDeep(body, 'a', { nested: hostile }))).to.equal('BAD_KEY');
      expect(({} as Fields).polluted).to.equal(undefined);
      expect(codeOf(() => mergeDeep(body, 'a', 5 as unknown as Fields))).to.equal('BAD_VALUE');
      expect(codeOf(() => mergeDeep({ a: 1 }, 'a', { b: 1 }))).to.equal('BAD_KEY');
    });

    it('stops on a self-referencing input instead of recursing forever', () => {
      const loop: Fields = {};
      loop.self = loop;
      expect(codeOf(() => mergeDeep({}, null, loop))).to.equal('BAD_VALUE');
    });
  });

  describe('isPlainObject', () => {
    it('accepts object literals and null-prototype objects only', () => {
      expect(isPlainObject({})).to.equal(true);
      expect(isPlainObject(Object.create(null))).to.equal(true);
      expect(isPlainObject([])).to.equal(false);
      expect(isPlainObject(new Date())).to.equal(false);
      expect(isPlainObject(null)).to.equal(false);
      expect(isPlainObject('x')).to.equal(false);
    });
  });
});
