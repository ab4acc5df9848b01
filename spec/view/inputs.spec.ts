import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { isZiggyError } from '../../src/errors';
import { chooseInput, type ViewInputArgs } from '../../src/view/inputs';

const pipe = { isTTY: false, stream: () => new PassThrough() };
const tty = { isTTY: true, stream: () => new PassThrough() };
const NOW = new Date('2024-05-01T12:00:00Z');

function refusal(args: ViewInputArgs, stdin = pipe): string {
  try {
    chooseInput(args, stdin, NOW);
  } catch (e) {
    expect(isZiggyError(e, 'BAD_CONFIG'), String(e)).to.equal(true);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('chooseInput', () => {
  it('reads stdin when nothing else is given and it is not a terminal (or for "-")', () => {
    expect(chooseInput({}, pipe, NOW).kind).to.equal('stream');
    expect(chooseInput({ files: ['-'] }, tty, NOW).kind).to.equal('stream');
  });

  it('reads files when given, even with stdin a pipe', () => {
    expect(chooseInput({ files: ['a.bson', 'b.bson'] }, pipe, NOW)).to.deep.equal({ kind: 'files', paths: ['a.bson', 'b.bson'] });
  });

  it('reads a log path, with dates defaulting to today (UTC) and the start to the end', () => {
    const today = chooseInput({ logPath: '/l', typeName: 'request*' }, pipe, NOW);
    expect(today).to.deep.equal({
      kind: 'log',
      query: { logPath: '/l', types: { prefix: 'request', exact: false }, startDay: '20240501', endDay: '20240501' },
    });
    const past = chooseInput({ logPath: '/l', endDate: '20240420' }, pipe, NOW);
    expect(past.kind === 'log' && [past.query.startDay, past.query.endDay]).to.deep.equal(['20240420', '20240420']);
    const from = chooseInput({ logPath: '/l', startDate: '20240420' }, pipe, NOW);
    expect(from.kind === 'log' && [from.query.startDay, from.query.endDay]).to.deep.equal(['20240420', '20240501']);
  });

  it('follows a daemon with -H, defaulting to 127.0.0.1:3513, times in ms', () => {
    expect(chooseInput({ host: '', typeName: 'request', timeout: 1.5, reconnect: 0.5 }, pipe, NOW)).to.deep.equal({
      kind: 'live',
      host: '127.0.0.1:3513',
      types: { prefix: 'request', exact: true },
      timeoutMs: 1500,
      reconnectMs: 500,
    });
  });

  it('refuses --type-name with stdin or files, as the original did', () => {
    expect(refusal({ typeName: 'request' })).to.include('cannot filter stdin');
    expect(refusal({ typeName: 'request', files: ['a.bson'] })).to.include('cannot filter files');
  });

  it('refuses two inputs at once, or none', () => {
    expect(refusal({ files: ['a'], logPath: '/l' })).to.equal('give exactly one input, not files and --log-path');
    expect(refusal({ host: 'h:1', logPath: '/l' })).to.equal('give exactly one input, not --log-path and --host');
    expect(refusal({}, tty)).to.include('no input');
    expect(refusal({ files: ['-', 'a.bson'] })).to.include("'-'");
  });

  it('refuses dates without a log path, bad dates and a reversed range', () => {
    expect(refusal({ startDate: '20240501' })).to.include('give --log-path too');
    expect(refusal({ logPath: '/l', startDate: '2024-05-01' })).to.include("bad --start-date '2024-05-01'");
    expect(refusal({ logPath: '/l', startDate: '20240502', endDate: '20240501' })).to.include('is after');
    expect(refusal({ host: '', timeout: 0 })).to.include('--timeout must be a positive number');
  });
});

describe('chooseInput: CURVE keys for a live daemon', () => {
  const fixtures = `${__dirname}/../fixtures/curve`;

  it('loads --server-key and --curve-cert for --host, and wants both', () => {
    const input = chooseInput({ host: '', serverKey: `${fixtures}/pyzmq-client.key`, curveCert: `${fixtures}/pyzmq-client.key_secret` }, pipe, NOW);
    expect(input.kind === 'live' && input.curve?.serverKey).to.equal('ek:*7-C].@H!/opidtboSbHz5J^ixp6uI1HEb4mF');
    expect(refusal({ host: '', serverKey: `${fixtures}/pyzmq-client.key` })).to.equal(
      "--server-key needs --curve-cert too (this side's .key_secret, for the server to authorize)",
    );
  });

  it('refuses keys without --host', () => {
    expect(refusal({ files: ['a.bson'], serverKey: 'x' })).to.equal('--server-key and --curve-cert are for a live daemon (--host)');
  });
});
