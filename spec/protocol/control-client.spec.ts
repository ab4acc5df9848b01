import { expect } from 'chai';
import { Reply, Router } from 'zeromq';
import { isZiggyError } from '../../src/errors';
import { decode, encode } from '../../src/protocol/codec';
import { ControlClient, NO_CURVE_HINT as PLAIN_HINT } from '../../src/protocol/control-client';
import { freeEndpoint } from '../helpers/net';

/** A tiny REP server answering each request with `answer(cmd)`. */
async function repServer(answer: (cmd: string) => Buffer | object, at?: string): Promise<{ endpoint: string; seen: string[]; close: () => void }> {
  const endpoint = at ?? (await freeEndpoint());
  const sock = new Reply({ linger: 0 });
  await sock.bind(`tcp://${endpoint}`);
  const seen: string[] = [];
  void (async () => {
    try {
      for await (const [msg] of sock) {
        const cmd = String(decode(msg).cmd);
        seen.push(cmd);
        const reply = answer(cmd);
        await sock.send(Buffer.isBuffer(reply) ? reply : encode(reply));
      }
    } catch {
      // closed
    }
  })();
  return { endpoint, seen, close: () => sock.close() };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('ControlClient', () => {
  it('asks for STATUS, SOCK_STREAM, SOCK_COLLECT and SHUTDOWN and returns the replies', async () => {
    const srv = await repServer((cmd) => {
      if (cmd === 'STATUS') return { last: 12.5, lag: 0.1, events: {}, hosts: {} };
      if (cmd === 'SOCK_STREAM') return { port: 40001 };
      if (cmd === 'SOCK_COLLECT') return { port: 3514 };
      return { ok: true };
    });
    try {
      const client = new ControlClient(srv.endpoint, { timeoutMs: 2000 });
      expect(await client.status()).to.deep.include({ last: 12.5, lag: 0.1 });
      expect(await client.streamPort()).to.equal(40001);
      expect(await client.collectPort()).to.equal(3514);
      await client.shutdown();
      expect(srv.seen).to.deep.equal(['STATUS', 'SOCK_STREAM', 'SOCK_COLLECT', 'SHUTDOWN']);
    } finally {
      srv.close();
    }
  });

  it('turns an error reply into BAD_REQUEST, and returns it as is from request()', async () => {
    const srv = await repServer(() => ({ error: 'unknown command' }));
    try {
      const client = new ControlClient(srv.endpoint, { timeoutMs: 2000 });
      expect(await client.request('NOPE')).to.deep.equal({ error: 'unknown command' });
      const e = await rejection(client.status());
      expect(isZiggyError(e, 'BAD_REQUEST')).to.equal(true);
      expect(e.message).to.include('refused STATUS: unknown command');
    } finally {
      srv.close();
    }
  });

  it('gives UNREACHABLE "cannot reach ziggyd at HOST:PORT" when nothing listens, within the timeout', async () => {
    const endpoint = await freeEndpoint();
    const started = Date.now();
    const e = await rejection(new ControlClient(endpoint, { timeoutMs: 300 }).status());
    expect(isZiggyError(e, 'UNREACHABLE')).to.equal(true);
    expect(e.message).to.equal(`cannot reach ziggyd at ${endpoint} (no reply within 0.3 s${PLAIN_HINT})`);
    expect(Date.now() - started).to.be.lessThan(2000);
  });

  it('uses a fresh socket per request: after a missed reply the same client asks again', async () => {
    // A ROUTER can leave one request unanswered and answer the next; a REQ socket reused
    // after a missed reply could not even send that next request.
    const endpoint = await freeEndpoint();
    const router = new Router({ linger: 0 });
    await router.bind(`tcp://${endpoint}`);
    const seen: string[] = [];
    const serving = (async () => {
      for await (const [identity, empty, body] of router) {
        seen.push(String(decode(body).cmd));
        if (seen.length > 1) await router.send([identity, empty, encode({ port: 5678 })]);
      }
    })().catch(() => {});
    try {
      const client = new ControlClient(endpoint, { timeoutMs: 300 });
      expect(isZiggyError(await rejection(client.streamPort()), 'UNREACHABLE')).to.equal(true);
      expect(await client.streamPort()).to.equal(5678);
      expect(seen).to.deep.equal(['SOCK_STREAM', 'SOCK_STREAM']);
    } finally {
      router.close();
      await serving;
    }
  });

  it('reaches a daemon that comes up after a request timed out', async () => {
    const endpoint = await freeEndpoint();
    const client = new ControlClient(endpoint, { timeoutMs: 250 });
    expect(isZiggyError(await rejection(client.streamPort()), 'UNREACHABLE')).to.equal(true);
    const srv = await repServer(() => ({ port: 4242 }), endpoint);
    try {
      expect(await client.streamPort()).to.equal(4242);
    } finally {
      srv.close();
    }
  });

  it('reports a reply that is not BSON as BAD_BSON, and a port or SHUTDOWN reply that is not one as BAD_REQUEST', async () => {
    const srv = await repServer((cmd) => (cmd === 'STATUS' ? Buffer.from('not bson') : { nope: 1 }));
    try {
      const client = new ControlClient(srv.endpoint, { timeoutMs: 2000 });
      expect(isZiggyError(await rejection(client.status()), 'BAD_BSON')).to.equal(true);
      const e = await rejection(client.streamPort());
      expect(isZiggyError(e, 'BAD_REQUEST')).to.equal(true);
      expect(e.message).to.include('unexpected reply to SOCK_STREAM');
      // Only {ok: true} agrees to shut down.
      const s = await rejection(client.shutdown());
      expect(isZiggyError(s, 'BAD_REQUEST')).to.equal(true);
      expect(s.message).to.include('unexpected reply to SHUTDOWN: {"nope":1}');
    } finally {
      srv.close();
    }
  });

  it('stops at once when aborted', async () => {
    const abort = new AbortController();
    const endpoint = await freeEndpoint();
    const started = Date.now();
    const pending = new ControlClient(endpoint, { timeoutMs: 5000, signal: abort.signal }).status();
    setTimeout(() => abort.abort(), 50);
    expect(isZiggyError(await rejection(pending), 'CLOSED')).to.equal(true);
    expect(Date.now() - started).to.be.lessThan(1000);
  });

  it('refuses endpoints it cannot connect to', () => {
    expect(() => new ControlClient('*:3513')).to.throw('give a host and a port');
    expect(() => new ControlClient('host:99999')).to.throw('out of range');
    expect(() => new ControlClient('127.0.0.1:3513', { timeoutMs: 0 })).to.throw('timeout must be positive');
    expect(new ControlClient('[::1]').address).to.equal('[::1]:3513');
  });
});
