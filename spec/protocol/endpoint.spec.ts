import { expect } from 'chai';
import { parseEndpoint, portOf, DEFAULT_COLLECT_PORT } from '../../src/protocol/endpoint';
import { ZiggyError } from '../../src/errors';

describe('protocol/endpoint', () => {
  describe('parseEndpoint', () => {
    const cases: Array<[string, string, string, number]> = [
      ['127.0.0.1:3514', 'tcp://127.0.0.1:3514', '127.0.0.1', 3514],
      ['*:3514', 'tcp://*:3514', '*', 3514],
      ['master:4000', 'tcp://master:4000', 'master', 4000],
      ['ziggy_collector-1.internal:4000', 'tcp://ziggy_collector-1.internal:4000', 'ziggy_collector-1.internal', 4000],
      ['localhost', 'tcp://localhost:3514', 'localhost', DEFAULT_COLLECT_PORT],
      [':5000', 'tcp://127.0.0.1:5000', '127.0.0.1', 5000],
      ['5000', 'tcp://127.0.0.1:5000', '127.0.0.1', 5000],
      ['tcp://10.0.0.1:7', 'tcp://10.0.0.1:7', '10.0.0.1', 7],
      ['[::1]:3514', 'tcp://[::1]:3514', '::1', 3514],
      ['[::1]', 'tcp://[::1]:3514', '::1', 3514],
      ['127.0.0.1:*', 'tcp://127.0.0.1:*', '127.0.0.1', 0],
      ['127.0.0.1:0', 'tcp://127.0.0.1:*', '127.0.0.1', 0],
      [' 127.0.0.1:9 ', 'tcp://127.0.0.1:9', '127.0.0.1', 9],
    ];
    for (const [input, url, host, port] of cases) {
      it(`reads '${input}'`, () => {
        expect(parseEndpoint(input, DEFAULT_COLLECT_PORT)).to.deep.equal({ host, port, url });
      });
    }

    const bad = ['', 'host:port', 'host:70000', '::1:3514', '[::1', '[::1]x', 'udp://h:1', 'a b:1', 'h:-1', 'h:1.5', '_h:1', '-h:1', '.h:1'];
    for (const input of bad) {
      it(`rejects '${input}' with BAD_ENDPOINT`, () => {
        let err: unknown;
        try {
          parseEndpoint(input, 3514);
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(ZiggyError);
        expect((err as ZiggyError).code).to.equal('BAD_ENDPOINT');
        expect((err as ZiggyError).message).to.include(`'${input}'`);
      });
    }
  });

  it('portOf reads the port of a bound address', () => {
    expect(portOf('tcp://127.0.0.1:40123')).to.equal(40123);
    expect(portOf('tcp://[::1]:7')).to.equal(7);
    expect(() => portOf('inproc://x')).to.throw(ZiggyError, 'no port');
  });
});
