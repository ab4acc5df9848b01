import { expect } from 'chai';
import { isAbsolute } from 'node:path';
import { resolveDaemonConfig } from '../../src/daemon/config';
import { isZiggyError, ZiggyError } from '../../src/errors';

function failure(f: () => unknown): ZiggyError {
  try {
    f();
  } catch (e) {
    if (e instanceof ZiggyError) return e;
    throw e;
  }
  throw new Error('expected a ZiggyError');
}

describe('daemon config', () => {
  describe('defaults', () => {
    it('are those of the original ziggyd: collect 127.0.0.1:3514, control 127.0.0.1:3513, no files, no forwarding', () => {
      const cfg = resolveDaemonConfig({});
      expect(cfg.collect).to.include({ host: '127.0.0.1', port: 3514, url: 'tcp://127.0.0.1:3514' });
      expect(cfg.control).to.include({ host: '127.0.0.1', port: 3513, url: 'tcp://127.0.0.1:3513' });
      expect(cfg.logPath).to.equal(undefined);
      expect(cfg.forward).to.equal(undefined);
      expect(cfg.flushIntervalMs).to.equal(1000);
      expect(cfg.idleCloseMs).to.equal(60_000);
      expect(cfg.forwardHwm).to.equal(100_000);
      expect(cfg.logLevel).to.equal('warn');
    });
  });

  describe('endpoints', () => {
    it('reads *:3514 as every interface and * as a free port', () => {
      expect(resolveDaemonConfig({ collect: '*:3514', insecure: true }).collect.url).to.equal('tcp://*:3514');
      expect(resolveDaemonConfig({ collect: '127.0.0.1:*' }).collect.port).to.equal(0);
    });

    it('names the option in a malformed endpoint error', () => {
      const e = failure(() => resolveDaemonConfig({ control: 'localhost:notaport' }));
      expect(e.code).to.equal('BAD_ENDPOINT');
      expect(e.message).to.match(/^control: malformed endpoint 'localhost:notaport'/);
    });

    it('wants a connectable host and port for forward', () => {
      expect(resolveDaemonConfig({ forward: 'central:4000' }).forward).to.include({ host: 'central', port: 4000 });
      expect(resolveDaemonConfig({ forward: 'central' }).forward?.port).to.equal(3514);
      for (const bad of ['*:3514', 'central:*', 'central:0']) {
        const e = failure(() => resolveDaemonConfig({ forward: bad }));
        expect(e.code, bad).to.equal('BAD_ENDPOINT');
        expect(e.message).to.match(/^forward: /);
      }
    });

    it('refuses to forward to its own collection port, which would loop every event for ever', () => {
      const cases: [string | undefined, string][] = [
        ['127.0.0.1:4000', '127.0.0.1:4000'],
        ['127.0.0.1:4000', 'localhost:4000'],
        ['*:4000', '127.0.0.1:4000'],
        [undefined, 'localhost'],
        ['[::1]:4000', '[::1]:4000'],
      ];
      for (const [collect, forward] of cases) {
        const e = failure(() => resolveDaemonConfig({ collect, forward }));
        expect(e.code, `${collect} -> ${forward}`).to.equal('BAD_CONFIG');
        expect(e.message).to.match(/^forward: .* is this daemon's own collection port/);
      }
      expect(resolveDaemonConfig({ collect: '127.0.0.1:4000', forward: '127.0.0.1:4001' }).forward?.port).to.equal(4001);
      expect(resolveDaemonConfig({ collect: '127.0.0.1:4000', forward: 'central:4000' }).forward?.host).to.equal('central');
    });

    it('treats an empty forward or log path as unset', () => {
      const cfg = resolveDaemonConfig({ forward: '', logPath: '' });
      expect(cfg.forward).to.equal(undefined);
      expect(cfg.logPath).to.equal(undefined);
    });
  });

  describe('numbers and paths', () => {
    it('makes the log path absolute', () => {
      const cfg = resolveDaemonConfig({ logPath: 'var/log/ziggy' });
      expect(isAbsolute(cfg.logPath!)).to.equal(true);
      expect(cfg.logPath!.endsWith('var/log/ziggy')).to.equal(true);
    });

    it('refuses counts that are not positive integers, naming the option', () => {
      for (const forwardHwm of [0, -1, 1.5, Number.NaN]) {
        const e = failure(() => resolveDaemonConfig({ forwardHwm }));
        expect(isZiggyError(e, 'BAD_CONFIG')).to.equal(true);
        expect(e.message).to.match(/^forwardHwm: expected an integer >= 1/);
        expect(e.option).to.equal('forwardHwm');
      }
      expect(() => resolveDaemonConfig({ forwardHwm: '10' as unknown as number })).to.throw(ZiggyError, /forwardHwm/);
    });

    it('names the option of every configuration error in ZiggyError.option, as its message starts', () => {
      const bad: Record<string, unknown>[] = [
        { collect: 'x:y' },
        { control: 7 },
        { logPath: 5 },
        { fsync: 'sometimes' },
        { upstreams: ['central:3515'] },
        { curveCert: '/nowhere.key_secret' },
        { spoolMaxBytes: 0 },
      ];
      for (const config of bad) {
        const e = failure(() => resolveDaemonConfig(config));
        expect(e.option, e.message).to.be.a('string');
        expect(e.message.startsWith(`${e.option}: `), e.message).to.equal(true);
      }
    });

    it('refuses an unknown log level', () => {
      expect(() => resolveDaemonConfig({ logLevel: 'loud' as never })).to.throw(ZiggyError, /logLevel/);
    });

    it('bounds what senders can make it hold: 16 MiB messages (and a batch), 64 MiB per sender, 1000 files a day, 50 names in STATUS', () => {
      expect(resolveDaemonConfig({})).to.include({
        maxMessageBytes: 16 * 1024 * 1024 + 64 * 1024,
        maxPeerBytes: 64 * 1024 * 1024,
        maxFilesPerDay: 1000,
        statusTop: 50,
        fsync: 'interval',
      });
    });

    it('takes fsync always, interval or never, and nothing else', () => {
      for (const fsync of ['always', 'interval', 'never'] as const) expect(resolveDaemonConfig({ fsync }).fsync).to.equal(fsync);
      expect(() => resolveDaemonConfig({ fsync: 'sometimes' as never })).to.throw(ZiggyError, /^fsync: expected one of always, interval, never/);
    });
  });
});
