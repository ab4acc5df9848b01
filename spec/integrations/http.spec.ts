import { expect } from 'chai';
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { add } from '../../src/client/api';
import { ziggyHandler, type HttpHandlerOptions } from '../../src/integrations/http';
import { log } from '../../src/integrations/log';
import { bodyLength, copyHeaders, requestContext } from '../../src/integrations/request-context';
import { describeIncomingHttp, describeSampling, eachTest, onLoopback, Routes, send, type TestServer } from './server-suite';

function json(res: ServerResponse, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  req.setEncoding('utf8');
  // Events from the connection, after the listener returned: the context must still hold.
  await new Promise<void>((resolve, reject) => {
    req.on('data', (c: string) => {
      text += c;
      add('body_chunks', 1);
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  return JSON.parse(text);
}

/** A plain node:http server serving the shared routes through ziggyHandler. */
async function startHttp(options?: HttpHandlerOptions, extra?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>): Promise<TestServer> {
  const handler = ziggyHandler(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const work = /^\/work\/(\d+)$/.exec(url.pathname);
    if (work) return json(res, await Routes.work(Number(work[1])));
    if (url.pathname === '/echo' && req.method === 'POST') return json(res, await Routes.echo((await readJson(req)) as { n: number }));
    if (url.pathname === '/boom') return Routes.boom();
    if (url.pathname === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(Routes.chunk);
      return;
    }
    if (extra && (await extra(req, res))) return;
    res.statusCode = 404;
    res.end();
  }, options);
  const server: Server = createServer(handler);
  return onLoopback(server);
}

describeIncomingHttp('node:http', (options) => startHttp(options));
describeSampling('node:http', (options) => startHttp(options));

describe('node:http: specifics', () => {
  const t = eachTest<TestServer>();

  it('turns a synchronous throw into a 500 and records it', async () => {
    const plain = ziggyHandler(() => {
      throw new TypeError('sync failure');
    });
    const sync = createServer(plain);
    await new Promise<void>((resolve) => sync.listen(0, '127.0.0.1', resolve));
    try {
      const res = await send(`http://127.0.0.1:${(sync.address() as AddressInfo).port}/x`);
      expect(res.status).to.equal(500);
      expect(res.body).to.equal('Internal Server Error');
      const [ev] = await t.cap.waitForType('request', 1);
      expect(ev.body).to.deep.include({ response: { status: 500, size: 21 } });
      expect((ev.body.exception as { name: string; message: string }).message).to.equal('sync failure');
    } finally {
      sync.closeAllConnections();
      await new Promise((r) => sync.close(r));
    }
  });

  it('keeps the context in request stream callbacks that run after the listener returned', async () => {
    t.server = await startHttp();
    const text = JSON.stringify({ n: 5, pad: 'p'.repeat(100) });
    await send(`${t.server.url}/echo`, { method: 'POST', headers: { 'content-length': String(text.length) }, body: text, trickle: true });
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body.echo).to.equal(5);
    expect(ev.body.body_chunks).to.be.at.least(2);
  });

  it('hands errors to onError after recording them', async () => {
    const seen: unknown[] = [];
    t.server = await startHttp({
      onError: (e, _req, res) => {
        seen.push(e);
        res.statusCode = 503;
        res.end('sorry');
      },
    });
    const res = await send(`${t.server.url}/boom`);
    expect(res.status).to.equal(503);
    expect(res.body).to.equal('sorry');
    expect(seen).to.have.length(1);
    expect(seen[0]).to.be.instanceOf(RangeError);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body).to.deep.include({ response: { status: 503, size: 5 } });
    expect((ev.body.exception as { name: string }).name).to.equal('RangeError');
  });

  it('closes the connection when the handler fails after the response started', async () => {
    t.server = await startHttp({}, async (req, res) => {
      if (req.url !== '/half') return false;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('late failure');
    });
    const err = await send(`${t.server.url}/half`).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err, 'the client sees a cut-off response').to.not.equal(null);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body.aborted).to.equal(true);
    expect((ev.body.exception as { message: string }).message).to.equal('late failure');
  });

  it('exposes the open context of a request to custom integrations', async () => {
    let sawOpen = false;
    t.server = await startHttp({}, (req, res) => {
      const ctx = requestContext(req);
      sawOpen = ctx !== undefined && !ctx.finished && ctx.name === 'request';
      res.end('ok');
      return true;
    });
    await send(`${t.server.url}/ctx`);
    await t.cap.waitForType('request', 1);
    expect(sawOpen).to.equal(true);
  });

  it('a log record made before the handler, on a keep-alive connection, is not credited to the previous request', async () => {
    const server = createServer();
    server.on('request', () => log('info', 'arrived')); // a listener ahead of Ziggy's
    server.on(
      'request',
      ziggyHandler((_req, res) => void res.end('ok')),
    );
    t.server = await onLoopback(server);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) await send(`${t.server.url}/${i}`, { agent });
    } finally {
      agent.destroy();
    }
    await t.cap.waitForType('request', 3);
    expect(t.cap.ofType('request.log')).to.have.length(0);
    expect(t.cap.ofType('log').map((e) => e.body.msg)).to.deep.equal(['arrived', 'arrived', 'arrived']);
  });

  it('bodyLength reads Content-Length, else the length node:http computed, else nothing', () => {
    expect(bodyLength({ getHeader: () => '12' })).to.equal(12);
    expect(bodyLength({ getHeader: () => 7 })).to.equal(7);
    expect(bodyLength(Object.assign({ getHeader: () => undefined }, { _contentLength: 5 }))).to.equal(5);
    expect(bodyLength({ getHeader: () => 'lots' })).to.equal(undefined);
    expect(bodyLength({ getHeader: () => undefined })).to.equal(undefined);
  });

  it('copyHeaders keeps every header, arrays included, and redacts the listed ones', () => {
    const out = copyHeaders({ a: '1', 'set-cookie': ['x=1', 'y=2'], cookie: 'c', b: undefined }, new Set(['cookie', 'set-cookie']));
    expect(out).to.deep.equal({ a: '1', 'set-cookie': '[redacted]', cookie: '[redacted]' });
  });
});
