import { expect } from 'chai';
import { Agent, createServer, get as httpGet, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, set } from '../../src/client/api';
import { configure } from '../../src/client/configure';
import { Context } from '../../src/client/context';
import { instrumentHttpClient } from '../../src/integrations/http-client';
import { freePort } from '../helpers/net';
import { Captured, onLoopback } from './server-suite';

type Fields = Record<string, any>;

/** A target server: /ok answers 13 bytes with Content-Length, /chunked answers without one. */
async function startTarget(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/chunked') {
        res.write('abc');
        setTimeout(() => res.end('def'), 20);
        return;
      }
      if (req.url === '/slow') {
        setTimeout(() => res.end('slow'), 30);
        return;
      }
      res.setHeader('content-type', 'text/plain');
      res.end('hello, world!');
    });
  });
  return onLoopback(server);
}

function nodeRequest(url: string, options: { method?: string; body?: string; agent?: Agent } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', agent: options.agent ?? false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('integrations/http-client', () => {
  const cap = new Captured();
  let target: Awaited<ReturnType<typeof startTarget>>;
  let off: () => void;

  before(async () => {
    target = await startTarget();
  });
  after(() => target.close());
  beforeEach(() => {
    cap.start();
    off = instrumentHttpClient();
  });
  afterEach(() => {
    off();
    configure(null);
  });

  const sub = (e: { body: unknown }): Fields => e.body as Fields;

  describe('fetch (undici)', () => {
    it('records a .httpclient sub-event with uri, method, sizes, code and elapsed, sharing the parent id', async () => {
      let id = '';
      await context('job', async () => {
        id = new Context('.probe').id;
        const r = await fetch(`${target.url}/ok?q=1`, { method: 'POST', body: 'abcdef' });
        expect(await r.text()).to.equal('hello, world!');
      });
      const [ev] = await cap.waitForType('job.httpclient', 1);
      expect(ev.id).to.equal(id);
      const b = sub(ev);
      expect(b.request).to.deep.equal({ uri: `${target.url}/ok?q=1`, method: 'POST', size: 6 });
      expect(b.response).to.deep.equal({ code: 200, size: 13 });
      expect(b.elapsed).to.be.a('number').that.is.above(0).and.below(5);
      expect(b).not.to.have.property('error');
      expect(ev.start).to.be.at.most(ev.end);
      const [job] = cap.ofType('job');
      expect(job.start).to.be.at.most(ev.start);
    });

    it('records a chunked response without a size, timed to the end of its body', async () => {
      await context('job', async () => {
        const r = await fetch(`${target.url}/chunked`);
        expect(cap.ofType('job.httpclient'), 'not when the headers arrive').to.have.length(0);
        expect(await r.text()).to.equal('abcdef');
      });
      const [ev] = await cap.waitForType('job.httpclient', 1);
      expect(sub(ev).elapsed).to.be.at.least(0.015);
      expect(sub(ev).response).to.deep.equal({ code: 200 });
      expect(sub(ev).request).to.deep.equal({ uri: `${target.url}/chunked`, method: 'GET' });
    });

    it('records a failure (connection refused on a closed port) as error', async () => {
      const port = await freePort();
      const err = await context('job', () => fetch(`http://127.0.0.1:${port}/nothing`)).catch((e: Error) => e);
      expect(err).to.be.instanceOf(TypeError); // fetch's "fetch failed"
      const [ev] = await cap.waitForType('job.httpclient', 1);
      const b = sub(ev);
      expect(b.error).to.deep.include({ code: 'ECONNREFUSED' });
      expect(b.error.message).to.include('ECONNREFUSED');
      expect(b).not.to.have.property('response');
      expect(b.elapsed).to.be.a('number');
    });

    it('attributes each request to its own context when pooled connections are reused', async () => {
      // The same keep-alive connection serves every request here; its later events come
      // in the context of whoever opened it.
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        await context('job', async () => {
          ids.push(new Context('.probe').id);
          set('i', i);
          await (await fetch(`${target.url}/ok`)).text();
        });
      }
      const subs = await cap.waitForType('job.httpclient', 3);
      expect(subs.map((e) => e.id)).to.deep.equal(ids);
    });

    it('keeps concurrent requests of concurrent contexts apart', async () => {
      const byId = new Map<string, number>();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          context('job', async () => {
            byId.set(new Context('.probe').id, i);
            await sleep(Math.random() * 5);
            await (await fetch(`${target.url}/ok?i=${i}`)).text();
          }),
        ),
      );
      const subs = await cap.waitForType('job.httpclient', 20);
      for (const ev of subs) expect(sub(ev).request.uri).to.equal(`${target.url}/ok?i=${byId.get(ev.id)}`);
    });
  });

  describe('node:http', () => {
    it('records a .httpclient sub-event with uri, method, sizes, code and elapsed', async () => {
      let id = '';
      await context('job', async () => {
        id = new Context('.probe').id;
        expect((await nodeRequest(`${target.url}/ok`, { method: 'PUT', body: '12345' })).body).to.equal('hello, world!');
      });
      const [ev] = await cap.waitForType('job.httpclient', 1);
      expect(ev.id).to.equal(id);
      const b = sub(ev);
      expect(b.request).to.deep.equal({ uri: `${target.url}/ok`, method: 'PUT', size: 5 });
      expect(b.response).to.deep.equal({ code: 200, size: 13 });
      expect(b.elapsed).to.be.a('number').that.is.above(0);
    });

    it('times the whole response body, to its end', async () => {
      await context('job', async () => {
        await nodeRequest(`${target.url}/slow`);
      });
      const [ev] = await cap.waitForType('job.httpclient', 1);
      expect(sub(ev).elapsed).to.be.at.least(0.025);
      expect(sub(ev).response).to.deep.equal({ code: 200, size: 4 });
    });

    it('records a failure (connection refused on a closed port) as error', async () => {
      const port = await freePort();
      const err = await context('job', () => nodeRequest(`http://127.0.0.1:${port}/`)).catch((e: NodeJS.ErrnoException) => e);
      expect(err).to.have.property('code', 'ECONNREFUSED');
      const [ev] = await cap.waitForType('job.httpclient', 1);
      expect(sub(ev).error).to.deep.include({ name: 'Error', code: 'ECONNREFUSED' });
      expect(sub(ev).request).to.deep.include({ uri: `http://127.0.0.1:${port}/`, method: 'GET' });
    });

    it('records a response cut off mid-body as error', async () => {
      const cut = createServer((_req, res) => {
        res.writeHead(200, { 'content-length': '100' });
        res.write('only part');
        setTimeout(() => res.destroy(), 5);
      });
      await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
      try {
        await context('job', async () => {
          await new Promise<void>((resolve) => {
            const req = httpGet(`http://127.0.0.1:${(cut.address() as AddressInfo).port}/`, { agent: false }, (res) => {
              res.resume();
              res.on('error', () => undefined);
              res.on('close', () => resolve());
            });
            req.on('error', () => undefined);
          });
        });
        const [ev] = await cap.waitForType('job.httpclient', 1);
        expect(sub(ev).response).to.deep.equal({ code: 200, size: 100 });
        expect(sub(ev).error).to.be.an('object');
      } finally {
        await new Promise((r) => cut.close(r));
      }
    });

    it('attributes requests on a shared keep-alive agent to their own contexts', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) {
          await context('job', async () => {
            ids.push(new Context('.probe').id);
            await nodeRequest(`${target.url}/ok`, { agent });
          });
        }
        const subs = await cap.waitForType('job.httpclient', 3);
        expect(subs.map((e) => e.id)).to.deep.equal(ids);
      } finally {
        agent.destroy();
      }
    });
  });

  describe('scope', () => {
    /**
     * The positive control for "records nothing": a job whose fetch is recorded. Once its
     * sub-event is in, a sub-event of any request finished before it would be in too.
     */
    async function laterJob(): Promise<void> {
      const before = cap.ofType('job.httpclient').length;
      await context('job', async () => void (await (await fetch(`${target.url}/ok`)).text()));
      await cap.waitForType('job.httpclient', before + 1);
    }

    it('records nothing for requests made outside any context', async () => {
      await (await fetch(`${target.url}/ok`)).text();
      await nodeRequest(`${target.url}/ok`);
      await laterJob();
      expect(cap.events.map((e) => e.type)).to.deep.equal(['job.httpclient', 'job']);
    });

    it('records nothing inside a sampled-out context', async () => {
      await new Context('job', { sample: ['job', 0] }).run(async () => {
        await (await fetch(`${target.url}/ok`)).text();
      });
      await laterJob();
      expect(cap.events.map((e) => e.type)).to.deep.equal(['job.httpclient', 'job']);
    });

    it('stops recording once turned off; several users share one subscription', async () => {
      const second = instrumentHttpClient();
      off();
      off(); // twice is harmless and does not release the second user's subscription
      await context('job', async () => void (await (await fetch(`${target.url}/ok`)).text()));
      await cap.waitForType('job.httpclient', 1);
      second();
      await context('job', async () => void (await (await fetch(`${target.url}/ok`)).text()));
      const third = instrumentHttpClient();
      try {
        await laterJob();
      } finally {
        third();
      }
      expect(cap.ofType('job.httpclient')).to.have.length(2); // the first job's and the later one's
      expect(cap.ofType('job')).to.have.length(3);
    });
  });
});
