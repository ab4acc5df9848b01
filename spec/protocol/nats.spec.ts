import { expect } from 'chai';
import { isValidNatsName, isValidSubjectFilter, messageId, parseDuration, parseSize, redactUrl, subjectForType } from '../../src/protocol/nats';
import { encode } from '../../src/protocol/codec';

describe('protocol/nats', () => {
  describe('subjectForType', () => {
    it('is ziggy.<type> for ordinary types', () => {
      expect(subjectForType('request')).to.equal('ziggy.request');
      expect(subjectForType('request.sql')).to.equal('ziggy.request.sql');
      expect(subjectForType('web-app_2.db')).to.equal('ziggy.web-app_2.db');
    });
    it('turns the empty tokens NATS refuses (a.., a.) into _', () => {
      expect(subjectForType('a..b')).to.equal('ziggy.a._.b');
      expect(subjectForType('request.')).to.equal('ziggy.request._');
    });
  });

  describe('messageId', () => {
    const parent = { id: '0123456789abcdef0123456789abcdef', type: 'request', host: 'h', pid: 1, start: 1.5, end: 2, body: {} };
    it('is the same for the same bytes, so a resend is recognised', () => {
      expect(messageId(encode(parent))).to.equal(messageId(encode({ ...parent })));
      expect(messageId(encode(parent))).to.match(/^[A-Za-z0-9_-]{22}$/);
    });
    it('differs between a parent and its sub-event, which share the id', () => {
      expect(messageId(encode(parent))).not.to.equal(messageId(encode({ ...parent, type: 'request.sql', start: 1.6 })));
    });
  });

  it('redactUrl hides user and password, and leaves other URLs alone', () => {
    expect(redactUrl('nats://user:pw@host:4222')).to.equal('nats://***@host:4222');
    expect(redactUrl('tls://tok@host')).to.equal('tls://***@host');
    expect(redactUrl('u:p@host:4222')).to.equal('***@host:4222');
    expect(redactUrl('nats://host:4222')).to.equal('nats://host:4222');
  });

  it('names and subject filters', () => {
    expect(isValidNatsName('ZIGGY')).to.equal(true);
    expect(isValidNatsName('a.b')).to.equal(false);
    expect(isValidNatsName('a b')).to.equal(false);
    expect(isValidNatsName('*')).to.equal(false);
    expect(isValidSubjectFilter('ziggy.request.>')).to.equal(true);
    expect(isValidSubjectFilter('ziggy.*.sql')).to.equal(true);
    expect(isValidSubjectFilter('ziggy.>.sql')).to.equal(false);
    expect(isValidSubjectFilter('ziggy..x')).to.equal(false);
    expect(isValidSubjectFilter('ziggy. x')).to.equal(false);
  });

  it('durations and sizes', () => {
    expect(parseDuration('90')).to.equal(90);
    expect(parseDuration('30m')).to.equal(1800);
    expect(parseDuration('7d')).to.equal(7 * 86400);
    expect(parseDuration('7 weeks')).to.equal(undefined);
    expect(parseDuration(-1)).to.equal(undefined);
    expect(parseSize('512M')).to.equal(512 * 1024 * 1024);
    expect(parseSize('10GiB')).to.equal(10 * 1024 ** 3);
    expect(parseSize('1000')).to.equal(1000);
    expect(parseSize('1.5G')).to.equal(undefined);
  });
});
