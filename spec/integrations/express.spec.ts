import { expect } from 'chai';
import express from 'express';
import { createServer } from 'node:http';
import pino from 'pino';
import { add, set } from '../../src/client/api';
import { ziggyErrorHandler, ziggyMiddleware } from '../../src/integrations/express';
import { instrumentHttpClient } from '../../src/integrations/http-client';
import { ziggyDestination } from '../../src/integrations/pino';
import type { RequestContextOptions } from '../../src/integrations/request-context';
import { waitFor } from '../helpers/net';
import { describeIncomingHttp, describeSampling, eachTest, onLoopback, Routes, send, type TestServer } from './server-suite';

/** An Express 5 app serving the shared routes, with Ziggy's middleware first and its error middleware last. */
export async function startExpress(options?: RequestContextOptions, extra?: (app: express.Express) => void): Promise<TestServer> {
  const app = express();
  app.set('env', 'test'); // Express's final handler prints error stacks outside 'test'
  app.use(ziggyMiddleware(options));
  app.use(express.json());
  app.get('/work/:n', async (req, res) => {
    res.json(await Routes.work(Number(req.params.n)));
  });
  app.post('/echo', async (req, res) => {
    res.json(await Routes.echo(req.body as { n: number }));
  });
  app.get('/boom', async () => {
    await Routes.boom();
  });
  app.get('/stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(Routes.chunk);
  });
  extra?.(app);
  app.use(ziggyErrorHandler());
  return onLoopback(createServer(app));
}

describeIncomingHttp('express', (options) => startExpress(options));
describeSampling('express', (options) => startExpress(options));

describe('express: specifics', () => {
  const t = eachTest<TestServer>();

  it('records the matched route pattern, with the router mount path', async () => {
    t.server = await startExpress(undefined, (app) => {
      const router = express.Router();
      router.get('/items/:id', (_req, res) => void res.json({ ok: true }));
      app.use('/api', router);
    });
    await send(`${t.server.url}/api/items/9?full=1`);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body.route).to.equal('/api/items/:id');
    expect(ev.body.uri).to.equal('/api/items/9?full=1');
  });

  it('keeps the context in callback-style middleware driven by the request stream', async () => {
    t.server = await startExpress(undefined, (app) => {
      app.post(
        '/drain',
        (req, _res, next) => {
          req.on('data', () => add('chunks', 1));
          req.once('end', () => {
            set('drained', true);
            next();
          });
        },
        (_req, res) => void res.send('drained'),
      );
    });
    // No content-type: express.json leaves the body to the middleware above.
    const res = await send(`${t.server.url}/drain`, { method: 'POST', headers: { 'content-length': '200' }, body: 'b'.repeat(200), trickle: true });
    expect(res.body).to.equal('drained');
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body.drained).to.equal(true);
    expect(ev.body.chunks).to.be.at.least(2);
  });

  it('joins the log records and outgoing requests a handler makes to its request', async () => {
    const logger = pino({ name: 'shop' }, ziggyDestination());
    const off = instrumentHttpClient();
    let upstream: TestServer | undefined;
    try {
      upstream = await startExpress(undefined, (app) => app.get('/price', (_req, res) => void res.json({ price: 3 })));
      const upstreamUrl = upstream.url;
      t.server = await startExpress(undefined, (app) => {
        app.get('/buy', async (_req, res) => {
          logger.info('buying');
          const { price } = (await (await fetch(`${upstreamUrl}/price`)).json()) as { price: number };
          logger.info({ price }, 'priced');
          res.json({ price });
        });
      });
      await send(`${t.server.url}/buy`);
      await t.cap.waitForType('request', 2); // ours, and the upstream's own
    } finally {
      off();
      await upstream?.close();
    }
    const buy = t.cap.ofType('request').find((e) => e.body.uri === '/buy')!;
    const price = t.cap.ofType('request').find((e) => e.body.uri === '/price')!;
    expect(buy.id).not.to.equal(price.id);
    const logs = t.cap.ofType('request.log');
    expect(logs.map((e) => [e.id, e.body.msg])).to.deep.equal([
      [buy.id, 'buying'],
      [buy.id, 'priced'],
    ]);
    const [out] = t.cap.ofType('request.httpclient');
    expect(out.id).to.equal(buy.id);
    expect(out.body).to.deep.include({ response: { code: 200, size: 11 } });
  });

  it('records a 404 with no route and no exception', async () => {
    t.server = await startExpress();
    const res = await send(`${t.server.url}/nowhere`);
    expect(res.status).to.equal(404);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body).to.deep.include({ uri: '/nowhere', response: { status: 404, size: Buffer.byteLength(res.body) } });
    expect(ev.body).not.to.have.property('route');
    expect(ev.body).not.to.have.property('exception');
  });

  it('a second ziggyMiddleware on the same request reuses the first context', async () => {
    t.server = await startExpress(undefined, (app) => {
      const inner = express.Router();
      inner.use(ziggyMiddleware());
      inner.get('/twice', (_req, res) => void res.send('ok'));
      app.use(inner);
    });
    await send(`${t.server.url}/twice`);
    // A later request's event is recorded after every event of the first one.
    await send(`${t.server.url}/later`);
    await waitFor(() => t.cap.ofType('request').some((e) => e.body.uri === '/later'), 5000, "the later request's event");
    expect(t.cap.ofType('request').map((e) => e.body.uri)).to.deep.equal(['/twice', '/later']);
  });

  it('rejects bad options when the middleware is made', () => {
    expect(() => ziggyMiddleware({ name: '.sub' }))
      .to.throw('top-level')
      .with.property('code', 'BAD_CONFIG');
    expect(() => ziggyMiddleware({ name: 'a b' }))
      .to.throw()
      .with.property('code', 'BAD_TYPE');
    expect(() => ziggyMiddleware({ sample: ['request', 2] }))
      .to.throw()
      .with.property('code', 'BAD_CONFIG');
    expect(() => ziggyMiddleware({ redactHeaders: 'cookie' as unknown as string[] }))
      .to.throw('redactHeaders')
      .with.property('code', 'BAD_CONFIG');
  });
});
