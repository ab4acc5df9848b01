import { expect } from 'chai';
import { startWebApp, type RunningApp } from '../../examples/web-app';
import { eachTest, send } from './server-suite';

// The example the demo drives: its events are what the README's demo section describes.
describe('examples/web-app', () => {
  const t = eachTest<RunningApp>();

  it('records an order with its .sql, .httpclient and .log sub-events, and the payment request it made', async () => {
    t.app = await startWebApp(0);
    const res = await send(`${t.app.url}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret' },
      body: JSON.stringify({ user: 'ann', items: [1, 2] }),
    });
    expect(res.status).to.equal(201);
    await t.cap.waitForType('request', 2);
    const order = t.cap.ofType('request').find((e) => e.body.uri === '/orders')!;
    const payment = t.cap.ofType('request').find((e) => e.body.uri === '/payments')!;
    expect(order.body).to.deep.include({ user: 'ann', cart: { items: 2, total: (JSON.parse(res.body) as { total: number }).total } });
    expect((order.body.headers as Record<string, string>).authorization).to.equal('[redacted]');
    expect(payment.id).not.to.equal(order.id);
    const subTypes = t.cap.events.filter((e) => e.id === order.id && e.type !== 'request').map((e) => e.type);
    expect(subTypes).to.include.members(['request.sql', 'request.httpclient', 'request.log']);
    expect(subTypes.filter((t) => t === 'request.sql')).to.have.length(3); // two product lookups (a cold cache) and the insert
  });

  it('records the buggy product as a 500 with its exception, and an unknown one as a 404', async () => {
    t.app = await startWebApp(0);
    expect((await send(`${t.app.url}/products/13`)).status).to.equal(500);
    expect((await send(`${t.app.url}/products/99`)).status).to.equal(404);
    const [bug, missing] = await t.cap.waitForType('request', 2);
    expect(bug.body).to.deep.include({ route: '/products/:id', response: { status: 500, size: 26 } });
    expect((bug.body.exception as { message: string }).message).to.equal('the product table is corrupt for id 13');
    expect((missing.body.exception as { name: string }).name).to.equal('HttpError');
    expect(t.cap.ofType('request.log').filter((e) => e.id === bug.id)).to.have.length(1); // the t.app logs its 500s
  });
});
