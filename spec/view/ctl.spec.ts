import { expect } from 'chai';
import { isZiggyError } from '../../src/errors';
import { checkResolvable, firstCommand } from '../../src/view/ctl';

describe('ziggyctl helpers', () => {
  it('firstCommand: the first argument that is neither an option nor its value', () => {
    const valued = ['--host', '-H', '--timeout'];
    expect(firstCommand(['-H', 'x:1', '--timeout', '3', 'stats'], valued)).to.equal('stats');
    expect(firstCommand(['--host=x:1', '--json', 'status'], valued)).to.equal('status');
    expect(firstCommand(['--help'], valued)).to.equal(undefined);
    expect(firstCommand(['--', 'x'], valued)).to.equal('x');
  });

  it('checkResolvable: IP literals pass at once; a name that does not resolve is UNREACHABLE, naming it', async () => {
    await checkResolvable('127.0.0.1:3513');
    await checkResolvable('[::1]:3513');
    await checkResolvable('localhost:3513');
    const e = await checkResolvable('no-such-host.invalid:3513').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(isZiggyError(e, 'UNREACHABLE')).to.equal(true);
    expect((e as Error).message).to.match(/^cannot reach ziggyd at no-such-host\.invalid:3513: cannot resolve host 'no-such-host\.invalid' \(E[A-Z_]+\)$/);
  });
});
