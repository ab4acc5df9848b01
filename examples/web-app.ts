/**
 * A small shop as an Express app, instrumented with Ziggy: the seed's tornado_app in
 * spirit. Each request is one `request` event; the service layer's queries are
 * `request.sql` sub-events, its cache calls `request.memcache` sub-events kept for a
 * quarter of the requests, its log lines `request.log` and its outgoing calls
 * `request.httpclient`, all sharing the request's id.
 *
 * Run it on its own (after `npm run build`): `node dist/examples/web-app.js`, which
 * listens on $PORT (default 8080) and sends events to $ZIGGY_HOST (default
 * 127.0.0.1:3514). `npm run demo` drives it against a real ziggyd.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { add, configure, close as closeZiggy, Sample, set, Timeit, ZiggyContext } from '../src';
import { ziggyErrorHandler, ziggyMiddleware } from '../src/integrations/express';
import { instrumentHttpClient } from '../src/integrations/http-client';
import { ziggyDestination } from '../src/integrations/pino';

/** Log lines become `.log` sub-events of the request that logged them. */
const logger = pino({ name: 'shop' }, ziggyDestination());

/** Waits a few milliseconds, as a network round trip would. */
function latency(minMs: number, maxMs: number): Promise<void> {
  return sleep(minMs + Math.random() * (maxMs - minMs));
}

interface Product {
  id: number;
  name: string;
  price: number;
}

/** A client error with the HTTP status it should get. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const PRODUCTS: Product[] = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, name: `widget ${i + 1}`, price: 5 + ((i * 7) % 40) }));

/** The database: every query is a `.sql` sub-event with its text, row count and time. */
export class Database {
  private nextOrderId = 1000;

  @ZiggyContext('.sql')
  @Timeit('query_time')
  async select(query: string, params: unknown[], match: (p: Product) => boolean): Promise<Product[]> {
    set('query', query);
    set('params', params);
    await latency(1, 6);
    const rows = PRODUCTS.filter(match);
    set('row_count', rows.length);
    return rows;
  }

  @ZiggyContext('.sql')
  @Timeit('query_time')
  async insertOrder(userId: string, total: number): Promise<number> {
    set('query', 'INSERT INTO orders (user_id, total) VALUES (?, ?)');
    set('params', [userId, total]);
    await latency(2, 8);
    set('row_count', 1);
    return this.nextOrderId++;
  }
}

/**
 * The cache: each call is a `.memcache` sub-event, sampled with `('..', 0.25)` as in the
 * seed: for a quarter of the requests every memcache call is recorded, for the others none.
 */
export class Cache {
  private readonly entries = new Map<string, Product>();

  @ZiggyContext('.memcache')
  @Sample('..', 0.25)
  @Timeit('elapsed')
  async get(key: string): Promise<Product | undefined> {
    set('op', 'get');
    set('key', key);
    await latency(0.2, 1);
    const hit = this.entries.get(key);
    set('hit', hit !== undefined);
    return hit;
  }

  @ZiggyContext('.memcache')
  @Sample('..', 0.25)
  @Timeit('elapsed')
  async put(key: string, value: Product): Promise<void> {
    set('op', 'set');
    set('key', key);
    await latency(0.2, 1);
    // A small cache: a quarter of the entries are evicted to keep some misses coming.
    if (this.entries.size >= 15) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
  }
}

/** The shop's logic, called by the route handlers; it knows nothing of HTTP or Ziggy's plumbing. */
export class ShopService {
  constructor(
    private readonly db: Database,
    private readonly cache: Cache,
  ) {}

  async product(id: number): Promise<Product> {
    if (id === 13) throw new Error('the product table is corrupt for id 13'); // a bug, for the demo
    const key = `product:${id}`;
    const cached = await this.cache.get(key);
    if (cached) return cached;
    const [row] = await this.db.select('SELECT * FROM products WHERE id = ?', [id], (p) => p.id === id);
    if (!row) throw new HttpError(404, `no product ${id}`);
    await this.cache.put(key, row);
    return row;
  }

  async search(term: string): Promise<Product[]> {
    return this.db.select('SELECT * FROM products WHERE name LIKE ?', [`%${term}%`], (p) => p.name.includes(term));
  }

  async order(userId: string, items: number[], charge: (total: number) => Promise<void>): Promise<{ orderId: number; total: number }> {
    let total = 0;
    for (const id of items) total += (await this.product(id)).price;
    add('cart.items', items.length);
    set('cart.total', total);
    await charge(total);
    const orderId = await this.db.insertOrder(userId, total);
    logger.info({ orderId, total }, 'order placed');
    return { orderId, total };
  }
}

/** The Express app: Ziggy's middleware first, routes, Ziggy's error middleware, then the app's own error handler. */
export function createApp(service = new ShopService(new Database(), new Cache())): express.Express {
  const app = express();
  app.use(ziggyMiddleware());
  app.use(express.json());

  app.get('/products/:id', async (req: Request, res: Response) => {
    res.json(await service.product(Number(req.params.id)));
  });

  app.get('/search', async (req: Request, res: Response) => {
    const term = typeof req.query.q === 'string' ? req.query.q : '';
    set('search.term', term);
    const rows = await service.search(term);
    set('search.results', rows.length);
    res.json(rows);
  });

  app.post('/orders', async (req: Request, res: Response) => {
    const { user, items } = req.body as { user?: string; items?: number[] };
    if (typeof user !== 'string' || !Array.isArray(items)) throw new HttpError(400, 'an order needs a user and items');
    set('user', user);
    const base = `http://127.0.0.1:${(req.socket.localPort ?? 0).toString()}`;
    // The payment provider is another service in real life; here it is this app again,
    // so the call shows up as a `.httpclient` sub-event and as a request of its own.
    const charge = async (total: number): Promise<void> => {
      const r = await fetch(`${base}/payments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, total }) });
      if (!r.ok) throw new HttpError(402, 'payment declined');
      await r.arrayBuffer();
    };
    res.status(201).json(await service.order(user, items, charge));
  });

  app.post('/payments', async (req: Request, res: Response) => {
    const { total } = req.body as { total?: number };
    set('payment.amount', total);
    await latency(3, 10);
    res.json({ ok: true });
  });

  app.use(ziggyErrorHandler());
  // The app's own error handler: turns errors into JSON responses (and logs the 500s).
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof HttpError ? err.status : 500;
    if (status >= 500) logger.error(err, 'request failed');
    res.status(status).json({ error: err instanceof HttpError ? err.message : 'internal error' });
  });
  return app;
}

/** A running web app. */
export interface RunningApp {
  url: string;
  server: Server;
  /** Stops listening, closes idle connections and stops recording outgoing requests. */
  close(): Promise<void>;
}

/** Starts the app on `port` (0: any free one) on 127.0.0.1, recording outgoing HTTP calls too. */
export async function startWebApp(port = 0): Promise<RunningApp> {
  const stopHttpClient = instrumentHttpClient();
  const app = createApp();
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        stopHttpClient();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

if (require.main === module) {
  configure(); // $ZIGGY_HOST, or 127.0.0.1:3514
  void startWebApp(Number(process.env.PORT ?? 8080)).then((app) => {
    process.stdout.write(`shop listening on ${app.url}; events go to ${process.env.ZIGGY_HOST || '127.0.0.1:3514'}\n`);
    const stop = (): void => void app.close().then(() => closeZiggy());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
