import 'reflect-metadata';
import { expect } from 'chai';
import { CHROMIUM, haveChromium, launchChromium, NO_CHROMIUM } from '../helpers/browser';
import { event, Pusher, startDaemon, type TestDaemon } from './harness';

let warned = false;

describe('daemon dashboard page (in chromium)', function () {
  this.timeout(30_000);
  let d: TestDaemon;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  before(async function () {
    if (!haveChromium()) {
      if (!warned) process.stderr.write(`${NO_CHROMIUM}\n`);
      warned = true;
      this.skip();
    }
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
  });

  beforeEach(async () => {
    d = await startDaemon({ config: { http: '127.0.0.1:*' } });
  });

  afterEach(async () => {
    await d.cleanup();
  });

  it(`loads with no console errors and shows a type that starts arriving after it loaded (${CHROMIUM})`, async () => {
    const page = await chromium.browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
    page.on('requestfailed', (r) => {
      // the event stream is cut when the daemon stops; anything else failing is a problem
      if (!r.url().includes('/events')) problems.push(`request failed: ${r.url()}`);
    });
    const push = new Pusher(d.collectUrl);
    try {
      const res = await page.goto(`http://127.0.0.1:${d.daemon.ports.http}/`, { waitUntil: 'load' });
      expect(res?.status()).to.equal(200);
      await page.waitForSelector('body[data-state="live"]', { timeout: 5000 });
      expect(await page.$('tr[data-type="checkout"]')).to.equal(null);

      // a type the page has never seen, with the timing field it shows by default
      let sending = true;
      const sender = (async () => {
        for (let i = 0; sending && i < 2000; i++) {
          await push.send(event('checkout', { body: { request_time: 10 + (i % 5), cart: { items: 3 } } }));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      try {
        await page.waitForSelector('#rates tr[data-type="checkout"]', { timeout: 5000 });
        await page.waitForSelector('#timings tr[data-type="checkout"]', { timeout: 5000 });
        await page.waitForSelector('#latest li[data-type="checkout"]', { timeout: 5000 });
        await page.waitForFunction(`Number(document.querySelector('#rates tr[data-type="checkout"] td:nth-child(2)').textContent) > 0`, { timeout: 5000 });
      } finally {
        sending = false;
        await sender;
      }
      // (scripts run in the page are strings: this project's TypeScript has no DOM types)
      const timing = await page.evaluate<[], () => string[]>(
        `Array.from(document.querySelector('#timings tr[data-type="checkout"]').children, (td) => td.textContent)`,
      );
      expect(timing[0]).to.equal('checkout');
      expect(Number(timing[2])).to.be.within(10, 14); // p50
      expect(Number(timing[5])).to.be.within(10, 14); // max
      const latest = await page.evaluate<[], () => string>(`document.querySelector('#latest li[data-type="checkout"] .json').textContent`);
      expect(JSON.parse(latest).cart).to.deep.equal({ items: 3 }); // the body
      expect(problems).to.deep.equal([]);
    } finally {
      push.close();
      await page.close();
    }
  });

  it('shows event text as text, never as markup', async () => {
    const page = await chromium.browser.newPage();
    const push = new Pusher(d.collectUrl);
    try {
      await page.goto(`http://127.0.0.1:${d.daemon.ports.http}/`, { waitUntil: 'load' });
      await page.waitForSelector('body[data-state="live"]', { timeout: 5000 });
      const markup = '<img src=x onerror=document.body.dataset.owned=1>'; // no quotes: JSON would escape them
      let sending = true;
      const sender = (async () => {
        while (sending) {
          await push.send(event('request', { body: { note: markup, request_time: 1 } }));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        await page.waitForSelector('#latest li[data-type="request"]', { timeout: 5000 });
      } finally {
        sending = false;
        await sender;
      }
      expect(await page.evaluate<[], () => string>(`document.querySelector('#latest li .json').textContent`)).to.include(markup);
      expect(await page.$('#latest img')).to.equal(null);
      expect(await page.evaluate<[], () => string | undefined>('document.body.dataset.owned')).to.equal(undefined);
    } finally {
      push.close();
      await page.close();
    }
  });
});
