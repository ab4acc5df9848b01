import { expect } from 'chai';
import { PrefixSet } from '../../src/daemon/prefix-set';
import { MAX_TYPE_LENGTH } from '../../src/protocol/event';

describe('daemon PrefixSet', () => {
  it('matches a type that some prefix starts, and nothing else', () => {
    const p = new PrefixSet();
    expect(p.matches('request')).to.equal(false);
    p.add('req');
    p.add('job.mail');
    expect(p.matches('request')).to.equal(true);
    expect(p.matches('req')).to.equal(true);
    expect(p.matches('re')).to.equal(false);
    expect(p.matches('job.mail.sent')).to.equal(true);
    expect(p.matches('job.main')).to.equal(false);
    expect(p.matches('xrequest')).to.equal(false);
  });

  it('matches everything with the empty prefix, and stops when it is deleted', () => {
    const p = new PrefixSet();
    p.add('');
    expect(p.matches('anything')).to.equal(true);
    p.delete('');
    expect(p.matches('anything')).to.equal(false);
    expect(p.size).to.equal(0);
  });

  it('keeps a prefix once however often it is added, and forgets it on delete', () => {
    const p = new PrefixSet();
    p.add('a.b');
    p.add('a.b');
    expect(p.size).to.equal(1);
    p.delete('a.b');
    expect(p.matches('a.b.c')).to.equal(false);
    p.delete('a.b'); // not there: nothing happens
    expect(p.size).to.equal(0);
  });

  it('ignores prefixes that cannot start a type (other characters, too long)', () => {
    const p = new PrefixSet();
    p.add('req uest');
    p.add('\u00ff');
    p.add('x'.repeat(MAX_TYPE_LENGTH + 1));
    expect(p.size).to.equal(0);
    p.add('x'.repeat(MAX_TYPE_LENGTH));
    expect(p.matches('x'.repeat(MAX_TYPE_LENGTH))).to.equal(true);
  });

  it('answers right among 20 000 prefixes of every length', () => {
    const p = new PrefixSet();
    const all: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const s = `t${i.toString(36)}.${'y'.repeat(i % 150)}`;
      all.push(s);
      p.add(s);
    }
    expect(p.size).to.equal(20_000);
    for (const s of all.slice(0, 500)) expect(p.matches(`${s}.more`), s).to.equal(true);
    expect(p.matches('u0.yyy')).to.equal(false);
    expect(p.matches('t')).to.equal(false);
    // a type shorter than the prefix it starts is not matched by it
    expect(p.matches('t1.y')).to.equal(true);
    expect(p.matches('t1.')).to.equal(false);
    for (const s of all) p.delete(s);
    expect(p.matches(`${all[7]}x`)).to.equal(false);
  });
});
