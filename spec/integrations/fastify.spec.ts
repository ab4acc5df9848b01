import { expect } from 'chai';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ziggyFastify } from '../../src/integrations/fastify';
import type { RequestContextOptions } from '../../src/integrations/request-context';
import { describeIncomingHttp, eachTest, Routes, send, type TestServer } from './server-suite';

/** A Fastify 5 app serving the shared routes, with Ziggy's plugin registered at the root. */
async function startFastify(options?: RequestContextOptions, extra?: (app: FastifyInstance) => void): Promise<TestServer> {
  const app = Fastify({ logger: false });
  await app.register(ziggyFastify, options ?? {});
  app.get<{ Params: { n: string } }>('/work/:n', async (req) => Routes.work(Number(req.params.n)));
  app.post<{ Body: { n: number } }>('/echo', async (req) => Routes.echo(req.body));
  app.get('/boom', async () => Routes.boom());
  app.get('/stream', (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.write(Routes.chunk);
  });
  extra?.(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

describeIncomingHttp('fastify', (options) => startFastify(options));

describe('fastify: specifics', () => {
  const t = eachTest<TestServer>();

  it('is not encapsulated: registered at the root, it covers routes of child plugins', async () => {
    t.server = await startFastify(undefined, (app) => {
      void app.register(
        async (child) => {
          child.get('/items/:id', async () => ({ ok: true }));
        },
        { prefix: '/api' },
      );
    });
    await send(`${t.server.url}/api/items/3`);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body.route).to.equal('/api/items/:id');
    expect(ev.body.uri).to.equal('/api/items/3');
    expect(ev.body).to.deep.include({ response: { status: 200, size: 11 } });
  });

  it('records an error thrown by a hook, with the status Fastify sends', async () => {
    t.server = await startFastify(undefined, (app) => {
      app.get('/teapot', { preHandler: async () => Promise.reject(Object.assign(new Error('short and stout'), { statusCode: 418 })) }, async () => 'never');
    });
    const res = await send(`${t.server.url}/teapot`);
    expect(res.status).to.equal(418);
    const [ev] = await t.cap.waitForType('request', 1);
    expect(ev.body).to.deep.include({ exception: { name: 'Error', message: 'short and stout', stack: (ev.body.exception as { stack: string }).stack } });
    expect((ev.body.response as { status: number }).status).to.equal(418);
  });

  it('fails the registration with a ZiggyError for bad options', async () => {
    const app = Fastify();
    try {
      await app.register(ziggyFastify, { name: '^.x' });
      expect.fail('register should have failed');
    } catch (e) {
      expect(e).to.have.property('code', 'BAD_CONFIG');
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});
