import { expect } from 'chai';
import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, set } from '../../src/client/api';
import { configure, stats } from '../../src/client/configure';
import { Context } from '../../src/client/context';
import { log } from '../../src/integrations/log';
import { ziggyDestination } from '../../src/integrations/pino';
import { Captured } from './server-suite';

type Fields = Record<string, any>;

describe('integrations/pino and log', () => {
  const cap = new Captured();
  beforeEach(() => cap.start());
  afterEach(() => configure(null));

  const body = (e: { body: unknown }): Fields => e.body as Fields;

  describe('ziggyDestination', () => {
    it('records a record made inside a context as a .log sub-event sharing its id', () => {
      const logger = pino({ name: 'api' }, ziggyDestination());
      let id = '';
      context('request', () => {
        id = new Context('.probe').id;
        logger.info({ user: 'ann', cart: { items: 3 } }, 'checked out');
      });
      const [ev] = cap.ofType('request.log');
      expect(ev.id).to.equal(id);
      expect(body(ev)).to.deep.equal({ name: 'api', level: 'info', msg: 'checked out', user: 'ann', cart: { items: 3 } });
      expect(cap.events.map((e) => e.type)).to.deep.equal(['request.log', 'request']);
    });

    it('records a logged error as exception { name, message, stack }', () => {
      const logger = pino(ziggyDestination());
      const err = new RangeError('out of stock');
      context('request', () => logger.error(err, 'order failed'));
      const [ev] = cap.ofType('request.log');
      expect(body(ev).level).to.equal('error');
      expect(body(ev).msg).to.equal('order failed');
      expect(body(ev).exception).to.deep.equal({ name: 'RangeError', message: 'out of stock', stack: err.stack });
      expect(body(ev)).not.to.have.property('err');
    });

    it('records a top-level log event when no context is open', () => {
      pino({ name: 'boot' }, ziggyDestination()).warn('disk nearly full');
      expect(cap.events).to.have.length(1);
      expect(cap.events[0].type).to.equal('log');
      expect(body(cap.events[0])).to.deep.equal({ name: 'boot', level: 'warn', msg: 'disk nearly full' });
    });

    it('attributes records to the right context across awaits in concurrent work', async () => {
      const logger = pino(ziggyDestination());
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          context('request', async () => {
            set('i', i);
            await sleep(Math.random() * 5);
            logger.info({ i }, 'step');
          }),
        ),
      );
      const idOf = new Map(cap.ofType('request').map((e) => [body(e).i as number, e.id]));
      const logs = cap.ofType('request.log');
      expect(logs).to.have.length(20);
      for (const l of logs) expect(l.id).to.equal(idOf.get(body(l).i));
    });

    it('keeps child bindings and custom level names, honours the level threshold', () => {
      const logger = pino(
        { level: 'debug', customLevels: { audit: 35 }, messageKey: 'message' },
        ziggyDestination({ levels: { 35: 'audit' }, messageKey: 'message' }),
      );
      context('request', () => {
        logger.child({ module: 'billing' }).audit('refund');
        logger.trace('not logged');
      });
      const logs = cap.ofType('request.log');
      expect(logs).to.have.length(1);
      expect(body(logs[0])).to.deep.equal({ level: 'audit', msg: 'refund', module: 'billing' });
    });

    it('drops records of a sampled-out context with it', () => {
      const logger = pino(ziggyDestination());
      new Context('request', { sample: ['request', 0] }).run(() => logger.info('hidden'));
      expect(cap.events).to.have.length(0);
    });

    it('counts lines that are not JSON objects and carries on', () => {
      const dest = ziggyDestination();
      const before = stats().rejectedCalls;
      dest.write('not json\n');
      dest.write('[1,2]\n');
      dest.write('{"level":30,"msg":"fine"}\n{"level":40,"msg":"two in one write"}\n');
      expect(stats().rejectedCalls).to.equal(before + 2);
      expect(cap.events.map((e) => body(e).msg)).to.deep.equal(['fine', 'two in one write']);
    });

    it('records nothing while Ziggy is unconfigured', () => {
      configure(null);
      const before = stats().rejectedCalls;
      pino(ziggyDestination()).info('quiet');
      ziggyDestination().write('garbage');
      expect(cap.events).to.have.length(0);
      expect(stats().rejectedCalls).to.equal(before);
    });
  });

  describe('log()', () => {
    it('records level, msg and exception as a .log sub-event, or a top-level log event', () => {
      const err = new Error('timeout');
      context('job', () => log('warn', 'retrying', err));
      log('info', 'idle');
      const [sub] = cap.ofType('job.log');
      expect(body(sub)).to.deep.equal({ level: 'warn', msg: 'retrying', exception: { name: 'Error', message: 'timeout', stack: err.stack } });
      const [top] = cap.ofType('log');
      expect(body(top)).to.deep.equal({ level: 'info', msg: 'idle' });
    });

    it('records a non-Error thrown value too', () => {
      log('error', 'odd', 'a string was thrown');
      expect(body(cap.events[0]).exception).to.deep.equal({ name: 'string', message: 'a string was thrown' });
    });
  });
});
