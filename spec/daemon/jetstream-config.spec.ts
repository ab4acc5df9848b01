import { expect } from 'chai';
import { resolveDaemonConfig } from '../../src/daemon/config';
import { isZiggyError } from '../../src/errors';

function refusal(config: Parameters<typeof resolveDaemonConfig>[0]): string {
  try {
    resolveDaemonConfig(config);
  } catch (e) {
    if (isZiggyError(e) && e.code === 'BAD_CONFIG') return e.message;
    throw e;
  }
  return 'accepted';
}

describe('daemon/jetstream-config', () => {
  it('is off unless asked, and fills in the defaults when it is', () => {
    expect(resolveDaemonConfig({}).nats).to.equal(undefined);
    expect(resolveDaemonConfig({}).fromNats).to.equal(undefined);
    const { nats } = resolveDaemonConfig({ nats: ['nats://a:4222', 'b:4222,tls://c:4222'], natsMaxAge: '7d', natsMaxBytes: '10G', spoolPath: '/tmp/s' });
    expect(nats).to.deep.include({
      servers: ['nats://a:4222', 'b:4222', 'tls://c:4222'],
      stream: 'ZIGGY',
      replicas: 1,
      maxAge: 7 * 86400,
      maxBytes: 10 * 1024 ** 3,
    });
    const { fromNats } = resolveDaemonConfig({ fromNats: 'nats://a:4222', natsConsumer: 'writers' });
    expect(fromNats).to.deep.include({ consumer: 'writers', subjects: ['ziggy.>'], stream: 'ZIGGY' });
  });

  it('refuses what NATS would refuse, naming the option', () => {
    expect(refusal({ nats: 'nats://a', natsStream: 'my.stream' })).to.match(/^natsStream: 'my.stream' is not a stream name/);
    expect(refusal({ fromNats: 'nats://a' })).to.match(/^natsConsumer: reading from NATS needs a durable consumer name/);
    expect(refusal({ fromNats: 'nats://a', natsConsumer: 'w', natsSubjects: 'request.>' })).to.match(
      /^natsSubjects: 'request.>' is not a subject filter under ziggy\./,
    );
    expect(refusal({ nats: 'nats://a', natsMaxAge: 'forever' })).to.match(/^natsMaxAge: /);
    expect(refusal({ nats: 'nats://a', natsReplicas: 0 })).to.match(/^natsReplicas: expected an integer >= 1/);
    expect(refusal({ nats: 'nats://a', natsUser: 'u' })).to.match(/^natsPassword: a NATS user needs a password/);
    expect(refusal({ nats: 'http://a/b' })).to.match(/^nats: 'http:\/\/a\/b' is not a NATS URL/);
    expect(refusal({ natsConsumer: 'w' })).to.match(/^natsConsumer: only means something with fromNats/);
  });

  it('refuses reading and publishing the same servers, which would publish every event again', () => {
    expect(refusal({ nats: 'nats://a:4222', fromNats: 'nats://a:4222', natsConsumer: 'w' })).to.match(
      /^nats: a daemon reading stream ZIGGY cannot also publish to it/,
    );
    expect(refusal({ nats: 'nats://other:4222', fromNats: 'nats://a:4222', natsConsumer: 'w', spoolPath: '/tmp/s' })).to.equal('accepted');
  });

  it('wants a spool to publish, as events wait there for JetStream', () => {
    expect(refusal({ nats: 'nats://a:4222' })).to.match(/^nats: publishing to JetStream keeps what is unacknowledged on disk; give a spoolPath/);
  });

  it('never shows a password in a refusal', () => {
    expect(refusal({ nats: 'nats://u:secret@a b' })).not.to.include('secret');
  });
});
