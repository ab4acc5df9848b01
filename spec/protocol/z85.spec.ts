import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { curveKeyPair } from 'zeromq';
import { isZ85Key, z85Decode, z85Encode } from '../../src/protocol/z85';
import { codeOf } from '../helpers/client';

describe('Z85', () => {
  it("encodes and decodes RFC 32's test vector", () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).to.equal('HelloWorld');
    expect(z85Decode('HelloWorld')).to.deep.equal(bytes);
  });

  it('round-trips random keys and the extremes of a group', () => {
    for (let i = 0; i < 50; i++) {
      const key = randomBytes(32);
      const text = z85Encode(key);
      expect(text).to.have.length(40);
      expect(z85Decode(text)).to.deep.equal(key);
    }
    expect(z85Encode(Buffer.alloc(4))).to.equal('00000');
    expect(z85Decode(z85Encode(Buffer.alloc(4, 0xff)))).to.deep.equal(Buffer.alloc(4, 0xff));
  });

  it("decodes libzmq's keys to 32 bytes and encodes them back the same", () => {
    const { publicKey, secretKey } = curveKeyPair();
    for (const key of [publicKey, secretKey]) {
      expect(z85Decode(key)).to.have.length(32);
      expect(z85Encode(z85Decode(key))).to.equal(key);
      expect(isZ85Key(key)).to.equal(true);
    }
  });

  it('refuses bad lengths, characters and groups beyond 32 bits', () => {
    expect(codeOf(() => z85Encode(Buffer.alloc(3)))).to.equal('BAD_VALUE');
    expect(codeOf(() => z85Decode('abcd'))).to.equal('BAD_VALUE');
    expect(codeOf(() => z85Decode('abc"e'))).to.equal('BAD_VALUE');
    expect(codeOf(() => z85Decode('#####'))).to.equal('BAD_VALUE'); // 85^5 - 1 > 2^32 - 1
    expect(isZ85Key('x'.repeat(39))).to.equal(false);
    expect(isZ85Key('"'.repeat(40))).to.equal(false);
  });
});
