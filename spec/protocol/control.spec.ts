import { expect } from 'chai';
import { decodeReply, encodeReply, encodeRequest, isControlCommand, isErrorReply } from '../../src/protocol/control';
import { decode } from '../../src/protocol/codec';

describe('protocol/control', () => {
  it('encodes requests as {cmd}', () => {
    expect(decode(encodeRequest('STATUS'))).to.deep.equal({ cmd: 'STATUS' });
  });

  it('round-trips replies', () => {
    expect(decodeReply(encodeReply({ port: 5555 }))).to.deep.equal({ port: 5555 });
    expect(decodeReply(encodeReply({ ok: true }))).to.deep.equal({ ok: true });
  });

  it('knows its commands and nothing else', () => {
    for (const c of ['STATUS', 'SOCK_STREAM', 'SOCK_COLLECT', 'SHUTDOWN']) expect(isControlCommand(c)).to.equal(true);
    for (const c of ['status', 'toString', '__proto__', '', 5, null]) expect(isControlCommand(c)).to.equal(false);
  });

  it('recognises error replies', () => {
    expect(isErrorReply({ error: 'unknown command' })).to.equal(true);
    expect(isErrorReply({ port: 1 })).to.equal(false);
    expect(isErrorReply(null)).to.equal(false);
  });
});
