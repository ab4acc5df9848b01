import { expect } from 'chai';
import { chmodSync, mkdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Push, Subscriber } from 'zeromq';
import { close, configure, flush } from '../../src/client/configure';
import { context, set } from '../../src/index';
import { isZiggyError } from '../../src/errors';
import { resolveDaemonConfig } from '../../src/daemon/config';
import { ControlClient } from '../../src/protocol/control-client';
import { applyClientKeys, loadClientKeys, writeCertificates, type CurveClientKeys } from '../../src/protocol/curve-cert';
import { LiveStream } from '../../src/view/subscribe';
import { codeOf } from '../helpers/client';
import { tempDir, waitFor } from '../helpers/net';
import { event, Pusher, startDaemon, waitForStatus, type TestDaemon } from './harness';

interface Keys {
  dir: string;
  authorized: string;
  server: { publicFile: string; secretFile: string; publicKey: string };
  client: { publicFile: string; secretFile: string; publicKey: string };
  stranger: { publicFile: string; secretFile: string; publicKey: string };
}

/** A server certificate, an authorized client and a stranger, in a temp dir. */
function makeKeys(dir: string): Keys {
  const authorized = join(dir, 'authorized');
  mkdirSync(authorized);
  const keys = {
    dir,
    authorized,
    server: writeCertificates(join(dir, 'server')),
    client: writeCertificates(join(dir, 'client')),
    stranger: writeCertificates(join(dir, 'stranger')),
  };
  writeFileSync(join(authorized, 'client.key'), readFileSync(keys.client.publicFile));
  return keys;
}

function clientKeys(k: Keys, who: 'client' | 'stranger' = 'client'): CurveClientKeys {
  return loadClientKeys({ serverKey: k.server.publicFile, certificate: k[who].secretFile })!;
}

/** A PUSH that speaks CURVE with `keys`, or plain text without. */
function pusher(url: string, keys?: CurveClientKeys): Push {
  const p = new Push({ linger: 0 });
  applyClientKeys(p, keys);
  p.connect(url);
  return p;
}

describe('daemon security (CURVE)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let k: Keys;
  const cleanups: (() => unknown)[] = [];

  beforeEach(async () => {
    tmp = await tempDir('ziggy-curve-');
    k = makeKeys(tmp.path);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await tmp.remove();
  });

  async function secured(extra: Record<string, unknown> = {}): Promise<TestDaemon> {
    const d = await startDaemon({ config: { curveCert: k.server.secretFile, authorizedKeys: k.authorized, logLevel: 'info', ...extra } });
    cleanups.push(() => d.cleanup());
    return d;
  }

  describe('collection', () => {
    it("lands an authorized client's events; refuses and counts an unknown key's and a plain client's", async () => {
      const d = await secured();
      configure(d.collectUrl.slice('tcp://'.length), { serverKey: k.server.publicFile, certificate: k.client.secretFile });
      cleanups.push(() => close());
      context('spec.curve', () => set('who', 'client'));
      context('spec.curve', () => set('who', 'client'));
      await flush(2000);
      const stranger = pusher(d.collectUrl, clientKeys(k, 'stranger'));
      const plain = pusher(d.collectUrl);
      cleanups.push(
        () => stranger.close(),
        () => plain.close(),
      );
      void stranger.send(event('spec.curve', { body: { who: 'stranger' } })).catch(() => undefined);
      void plain.send(event('spec.curve', { body: { who: 'plain' } })).catch(() => undefined);
      await waitForStatus(d.daemon, (st) => st.totals.received >= 2 && st.auth.rejected >= 1 && st.auth.plaintext >= 1, 'both refusals counted');
      // Neither refused peer got an event in: their handshakes failed (and ZeroMQ does not
      // retry them), and an authorized event sent after the refusals is the only one more.
      context('spec.curve', () => set('who', 'client'));
      await flush(2000);
      const s = await waitForStatus(d.daemon, (st) => st.totals.received >= 3, 'the later authorized event');
      expect(s.totals.received).to.equal(3);
      expect(s.events['spec.curve'].received).to.equal(3);
      expect(d.logger.has('info', `refused key ${k.stranger.publicKey} from 127.0.0.1: not an authorized key`)).to.equal(true);
      expect(d.logger.has('info', 'refused a plain-text peer on collect')).to.equal(true);
    });

    it('configure() takes the keys from ZIGGY_SERVER_KEY and ZIGGY_CERTIFICATE, and wants both', async () => {
      const d = await secured();
      const saved = [process.env.ZIGGY_SERVER_KEY, process.env.ZIGGY_CERTIFICATE];
      cleanups.push(() => {
        for (const [name, v] of [
          ['ZIGGY_SERVER_KEY', saved[0]],
          ['ZIGGY_CERTIFICATE', saved[1]],
        ] as const) {
          if (v === undefined) delete process.env[name];
          else process.env[name] = v;
        }
      });
      process.env.ZIGGY_SERVER_KEY = k.server.publicKey; // Z85 text this time
      delete process.env.ZIGGY_CERTIFICATE;
      expect(() => configure(d.collectUrl.slice('tcp://'.length))).to.throw(/^configure\(\): serverKey needs certificate too/);
      process.env.ZIGGY_CERTIFICATE = k.client.secretFile;
      configure(d.collectUrl.slice('tcp://'.length));
      cleanups.push(() => close());
      context('spec.env', () => set('n', 1));
      await flush(2000);
      await waitForStatus(d.daemon, (st) => st.events['spec.env']?.received === 1, 'the event sent with keys from the environment');
    });

    it('refuses (and counts as crypto) a client that has the wrong server key', async () => {
      const d = await secured();
      const wrong = { ...clientKeys(k), serverKey: k.stranger.publicKey };
      const p = pusher(d.collectUrl, wrong);
      cleanups.push(() => p.close());
      void p.send(event('spec.curve')).catch(() => undefined);
      await waitForStatus(d.daemon, (st) => st.auth.crypto >= 1, 'a crypto refusal');
      expect(d.daemon.status().totals.received).to.equal(0);
    });

    it('logs refusals throttled: one line per reason however many peers retry', async () => {
      const d = await secured();
      const plains = [pusher(d.collectUrl), pusher(d.collectUrl), pusher(d.collectUrl)];
      cleanups.push(() => plains.forEach((p) => p.close()));
      for (const p of plains) void p.send(event('spec.curve')).catch(() => undefined);
      await waitForStatus(d.daemon, (st) => st.auth.plaintext >= 3, 'three refusals');
      expect(d.logger.lines.filter((l) => l.message.includes('refused a plain-text peer')).length).to.equal(1);
    });
  });

  describe('control and stream', () => {
    it('ignores a plain SHUTDOWN (the client times out, saying why) and obeys one with the keys', async () => {
      const d = await secured();
      const plain = new ControlClient(d.controlUrl.slice('tcp://'.length), { timeoutMs: 300 });
      const e = await plain.shutdown().then(
        () => null,
        (err: unknown) => err,
      );
      expect(isZiggyError(e, 'UNREACHABLE')).to.equal(true);
      expect((e as Error).message).to.include('a ziggyd started with --curve-cert answers only clients giving --server-key and --curve-cert');
      expect(d.daemon.running).to.equal(true);
      await waitForStatus(d.daemon, (st) => st.auth.plaintext + st.auth.aborted >= 1, 'the plain control client counted');

      const keyed = new ControlClient(d.controlUrl.slice('tcp://'.length), { timeoutMs: 3000, curve: clientKeys(k) });
      const auth = (await keyed.status()).auth!;
      expect(auth.plaintext + auth.aborted).to.be.at.least(1);
      await keyed.shutdown();
      await d.daemon.stopped;
    });

    it('says which keys to check when a keyed request gets no answer', async () => {
      const d = await secured();
      const stranger = new ControlClient(d.controlUrl.slice('tcp://'.length), { timeoutMs: 300, curve: clientKeys(k, 'stranger') });
      const e = (await stranger.status().then(
        () => null,
        (err: unknown) => err,
      )) as Error;
      expect(e.message).to.include("check that --server-key is its public key and that this side's key is in its --authorized-keys");
      await waitForStatus(d.daemon, (st) => st.auth.rejected >= 1, 'the stranger counted');
    });

    it('streams to a keyed subscriber only', async () => {
      const d = await secured();
      const live = new LiveStream({ host: d.controlUrl.slice('tcp://'.length), curve: clientKeys(k), timeoutMs: 3000 });
      const plainSub = new Subscriber({ linger: 0, receiveTimeout: 50 });
      plainSub.connect(d.streamUrl);
      plainSub.subscribe();
      cleanups.push(
        () => live.close(),
        () => plainSub.close(),
      );
      const it = live[Symbol.asyncIterator]();
      const first = it.next();
      const sender = pusher(d.collectUrl, clientKeys(k));
      cleanups.push(() => sender.close());
      // the subscription travels after the handshake: send until the keyed subscriber hears one
      let got: IteratorResult<unknown> | undefined;
      void first.then((r) => (got = r));
      await waitFor(
        async () => {
          if (got === undefined) await sender.send(event('spec.stream'));
          return got;
        },
        5000,
        'a streamed event',
      );
      expect((got!.value as { type: string }).type).to.equal('spec.stream');
      const heard = await plainSub.receive().then(
        () => true,
        () => false,
      );
      expect(heard).to.equal(false);
      // the longest type as a subscription still fits in what the stream takes, encrypted
      const longest = `t${'x'.repeat(199)}`;
      const keyedSub = new Subscriber({ linger: 0, receiveTimeout: 50 });
      applyClientKeys(keyedSub, clientKeys(k));
      keyedSub.connect(d.streamUrl);
      keyedSub.subscribe(longest);
      cleanups.push(() => keyedSub.close());
      await waitFor(
        async () => {
          await sender.send(event(longest));
          return keyedSub.receive().then(
            ([topic]) => topic.toString() === longest,
            () => false,
          );
        },
        5000,
        'the longest subscription over CURVE',
      );
      await waitForStatus(d.daemon, (st) => st.auth.plaintext + st.auth.aborted >= 1, 'the plain subscriber counted');
    });
  });

  describe('authorized keys', () => {
    it('reloadKeys() lets a newly authorized key in and shuts a removed one out', async () => {
      const d = await secured();
      const s1 = pusher(d.collectUrl, clientKeys(k, 'stranger'));
      cleanups.push(() => s1.close());
      void s1.send(event('spec.before')).catch(() => undefined);
      await waitForStatus(d.daemon, (st) => st.auth.rejected >= 1, 'the stranger refused');

      writeFileSync(join(k.authorized, 'stranger.key'), readFileSync(k.stranger.publicFile));
      rmSync(join(k.authorized, 'client.key'));
      expect(d.daemon.reloadKeys()).to.equal(1);
      const s2 = pusher(d.collectUrl, clientKeys(k, 'stranger'));
      cleanups.push(() => s2.close());
      await s2.send(event('spec.after'));
      await waitForStatus(d.daemon, (st) => st.events['spec.after']?.received === 1, 'the newly authorized key lands');

      const rejectedBefore = d.daemon.status().auth.rejected;
      const old = pusher(d.collectUrl, clientKeys(k, 'client'));
      cleanups.push(() => old.close());
      void old.send(event('spec.removed')).catch(() => undefined);
      await waitForStatus(d.daemon, (st) => st.auth.rejected > rejectedBefore, 'the removed key refused');
      expect(d.daemon.status().events['spec.removed']).to.equal(undefined);
    });

    it('keeps the keys it had when the folder cannot be read', async () => {
      const d = await secured();
      writeFileSync(join(k.authorized, 'broken.key'), 'curve\n    public-key = "nope"\n');
      expect(() => d.daemon.reloadKeys()).to.throw(/broken\.key: public-key is not/);
      const p = pusher(d.collectUrl, clientKeys(k));
      cleanups.push(() => p.close());
      await p.send(event('spec.kept'));
      await waitForStatus(d.daemon, (st) => st.events['spec.kept']?.received === 1, 'the old key still works');
    });

    it('keeps two daemons of one process to their own keys (one ZAP handler, one domain each)', async () => {
      const a = await secured();
      const otherAuthorized = join(k.dir, 'other');
      mkdirSync(otherAuthorized);
      writeFileSync(join(otherAuthorized, 'stranger.key'), readFileSync(k.stranger.publicFile));
      const b = await secured({ authorizedKeys: otherAuthorized });
      const toB = pusher(b.collectUrl, clientKeys(k, 'client'));
      const toA = pusher(a.collectUrl, clientKeys(k, 'client'));
      cleanups.push(
        () => toA.close(),
        () => toB.close(),
      );
      void toB.send(event('spec.b')).catch(() => undefined);
      await toA.send(event('spec.a'));
      await waitForStatus(a.daemon, (st) => st.events['spec.a']?.received === 1, 'A takes its client');
      await waitForStatus(b.daemon, (st) => st.auth.rejected >= 1, 'B refuses A’s client');
      expect(a.daemon.status().auth.rejected).to.equal(0);
      // and the handler outlives one daemon: B still decides after A stopped
      await a.daemon.stop();
      const strangerToB = pusher(b.collectUrl, clientKeys(k, 'stranger'));
      cleanups.push(() => strangerToB.close());
      await strangerToB.send(event('spec.b2'));
      await waitForStatus(b.daemon, (st) => st.events['spec.b2']?.received === 1, "B takes its own client after A's stop");
    });
  });

  describe('forwarding', () => {
    it("forwards over CURVE with its own certificate as the client key, through the upstream's authorization", async () => {
      // upstream authorizes the leaf's key (the server certificate of this test, reused as the leaf's)
      const leafDir = join(k.dir, 'leaf');
      mkdirSync(leafDir);
      const leaf = writeCertificates(join(leafDir, 'leaf'));
      const upAuthorized = join(k.dir, 'up-authorized');
      mkdirSync(upAuthorized);
      writeFileSync(join(upAuthorized, 'leaf.key'), readFileSync(leaf.publicFile));
      const up = await secured({ authorizedKeys: upAuthorized });
      const down = await secured({ curveCert: leaf.secretFile, forward: up.collectUrl.slice('tcp://'.length), forwardServerKey: k.server.publicFile });
      const app = pusher(down.collectUrl, loadClientKeys({ serverKey: leaf.publicFile, certificate: k.client.secretFile }));
      cleanups.push(() => app.close());
      await app.send(event('spec.forwarded'));
      await waitForStatus(up.daemon, (st) => st.events['spec.forwarded']?.received === 1, 'the event upstream');
      expect(down.daemon.status().totals.forwarded).to.equal(1);
    });
  });

  describe('configuration', () => {
    it('refuses a certificate without authorized keys, and keys without a certificate', () => {
      expect(() => resolveDaemonConfig({ curveCert: k.server.secretFile })).to.throw(/^curveCert: needs authorizedKeys too/);
      expect(() => resolveDaemonConfig({ authorizedKeys: k.authorized })).to.throw(/^authorizedKeys: needs curveCert too/);
      expect(() => resolveDaemonConfig({ forward: 'central:3514', forwardServerKey: k.server.publicFile })).to.throw(/^forwardServerKey: needs curveCert too/);
      expect(() => resolveDaemonConfig({ curveCert: k.server.publicFile, authorizedKeys: k.authorized })).to.throw(/^curveCert: .*no secret-key/);
      expect(codeOf(() => resolveDaemonConfig({ curveCert: join(k.dir, 'missing.key_secret'), authorizedKeys: k.authorized }))).to.equal('IO');
    });

    it('refuses to bind a non-loopback address in plain text, naming --curve-cert and --insecure', async () => {
      for (const spec of [{ collect: '*:*' }, { control: '0.0.0.0:*' }, { collect: 'example.com:3514' }]) {
        const e = (() => {
          try {
            resolveDaemonConfig(spec);
          } catch (err) {
            return err as Error;
          }
          return null;
        })();
        expect(isZiggyError(e, 'BAD_CONFIG'), JSON.stringify(spec)).to.equal(true);
        expect(e!.message).to.include('--curve-cert').and.include('--insecure');
      }
      expect(resolveDaemonConfig({ collect: 'localhost:3514', control: '[::1]:3513' }).insecure).to.equal(false);
    });

    it('warns about a secret certificate others can read', async () => {
      chmodSync(k.server.secretFile, 0o644);
      const d = await secured();
      expect(d.logger.has('warn', `${k.server.secretFile} can be read by others (mode 0644): chmod 600 it`)).to.equal(true);
    });

    it('binds every interface with --insecure, warning once; with a certificate, without a warning', async () => {
      const plain = await startDaemon({ config: { collect: '*:*', control: '*:*', insecure: true } });
      cleanups.push(() => plain.cleanup());
      expect(plain.logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).to.have.length(1);
      expect(plain.logger.lines.find((l) => l.level === 'warn')?.message).to.match(/^--insecure: \w+ on \*:\* takes plain text from the network/);
      const curve = await secured({ collect: '*:*', control: '*:*' });
      expect(curve.logger.lines.filter((l) => l.level === 'warn')).to.have.length(0);
    });
  });

  describe('control on a Unix socket', () => {
    it('answers ControlClient and streams over ipc://, with the socket files made 0600', async () => {
      const path = join(tmp.path, 'ctl.sock');
      const d = await startDaemon({ config: { control: `ipc://${path}` } });
      cleanups.push(() => d.cleanup());
      expect(statSync(path).mode & 0o777).to.equal(0o600);
      expect(statSync(`${path}.stream`).mode & 0o777).to.equal(0o600);
      const client = new ControlClient(`ipc://${path}`, { timeoutMs: 3000 });
      expect(client.address).to.equal(`ipc://${path}`);
      expect(await client.streamEndpoint()).to.equal(`ipc://${path}.stream`);
      const s = await client.status();
      expect(s.ports.control).to.equal(0);

      const live = new LiveStream({ host: `ipc://${path}`, timeoutMs: 3000 });
      cleanups.push(() => live.close());
      let got: IteratorResult<{ type: string }> | undefined;
      void live[Symbol.asyncIterator]()
        .next()
        .then((r) => (got = r));
      const sender = new Pusher(d.collectUrl);
      cleanups.push(() => sender.close());
      await waitFor(
        async () => {
          if (got === undefined) await sender.send(event('spec.ipc'));
          return got;
        },
        5000,
        'an event over the ipc stream',
      );
      expect(got!.value.type).to.equal('spec.ipc');
      await client.shutdown();
      await d.daemon.stopped;
    });

    it('takes ipc:// for the control port only', () => {
      expect(() => resolveDaemonConfig({ collect: 'ipc:///tmp/x' })).to.throw(/^collect: takes host:port/);
      expect(codeOf(() => configure('ipc:///tmp/x'))).to.equal('BAD_ENDPOINT');
    });
  });
});
