import { expect } from 'chai';
import type { ControlStatus } from '../../src/protocol/control';
import { parseEndpoint } from '../../src/protocol/endpoint';
import { resolveDaemonConfig } from '../../src/daemon/config';
import { startupLine } from '../../src/daemon/startup-line';
import { isZiggyError } from '../../src/errors';

const status = (extra: Partial<ControlStatus>): ControlStatus =>
  ({ version: '1.2.3', pid: 77, ports: { collect: 3514, control: 3513, stream: 40211 }, ...extra }) as ControlStatus;
const hosts = { collect: parseEndpoint('*:0', 3514), control: parseEndpoint('127.0.0.1:0', 3513) };
const forward = parseEndpoint('central:3514', 3514);

describe('startupLine (what ziggyd prints once started)', () => {
  it('says what it listens on (bound ports) and where events go', () => {
    expect(startupLine(status({}), { ...hosts, logPath: '/var/log/ziggy' })).to.equal(
      'ziggyd 1.2.3 (pid 77): collecting on *:3514, control on 127.0.0.1:3513 (live stream on port 40211); writing to /var/log/ziggy',
    );
    expect(startupLine(status({}), { ...hosts, forward })).to.match(/; not writing files \(no --log-path\); forwarding to central:3514$/);
  });
});

describe('resolveDaemonConfig: control and collect on one port', () => {
  it('is refused, naming both, unless one of them picks a free port', () => {
    for (const [collect, control] of [
      ['127.0.0.1:4000', '127.0.0.1:4000'],
      ['*:4000', '127.0.0.1:4000'],
      ['127.0.0.1:4000', '*:4000'],
    ]) {
      expect(() => resolveDaemonConfig({ collect, control }), `${collect} ${control}`)
        .to.throw('control: port 4000 is also the collection port (--collect); give each its own port')
        .that.satisfies((e: unknown) => isZiggyError(e, 'BAD_CONFIG'));
    }
    expect(() => resolveDaemonConfig({ collect: '127.0.0.1:0', control: '127.0.0.1:0' })).not.to.throw();
    expect(() => resolveDaemonConfig({ collect: '127.0.0.1:4000', control: '127.0.0.2:4000' })).not.to.throw();
  });
});
