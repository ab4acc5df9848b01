import { expect } from 'chai';
import { decodeHeader, encodeHeader, newIdentity, ReceiverLedger, RELAY_HEADER_BYTES, RelayKind, SendWindow, type RelayHeader } from '../../src/protocol/relay';
import { ZiggyError } from '../../src/errors';

describe('protocol/relay', () => {
  const id = newIdentity();

  describe('header frames', () => {
    it('round-trip every field, with sequence numbers up to 2^53 - 1', () => {
      const h: RelayHeader = { kind: RelayKind.BATCH, ...id, seq: Number.MAX_SAFE_INTEGER, base: 4_294_967_297, round: 7, flags: 1 };
      const b = encodeHeader(h);
      expect(b.length).to.equal(RELAY_HEADER_BYTES);
      expect(decodeHeader(b)).to.deep.equal(h);
    });

    it('say what is wrong with a frame that is not a header', () => {
      const good = encodeHeader({ kind: RelayKind.ACK, ...id, seq: 1, base: 0, round: 0, flags: 0 });
      expect(decodeHeader(good.subarray(1))).to.match(/52 bytes, got 51/);
      const magic = Buffer.from(good);
      magic[0] = 0;
      expect(decodeHeader(magic)).to.match(/no ZR magic/);
      const version = Buffer.from(good);
      version[2] = 9;
      expect(decodeHeader(version)).to.match(/version 9/);
      const kind = Buffer.from(good);
      kind[3] = 0x7a;
      expect(decodeHeader(kind)).to.match(/kind 0x7a/);
      const huge = Buffer.from(good);
      huge.writeUInt32LE(0xffffffff, 32);
      expect(decodeHeader(huge)).to.match(/out of range/);
    });

    it('refuse to encode a malformed id or a sequence number past 2^53', () => {
      expect(() => encodeHeader({ kind: RelayKind.PING, sender: 'x', epoch: id.epoch, seq: 0, base: 0, round: 0, flags: 0 })).to.throw(ZiggyError, /hex/);
      expect(() => encodeHeader({ kind: RelayKind.PING, ...id, seq: 2 ** 53, base: 0, round: 0, flags: 0 })).to.throw(ZiggyError, /out of range/);
    });

    it('gives each new identity its own random sender id and epoch', () => {
      const other = newIdentity();
      expect(other.sender)
        .to.match(/^[0-9a-f]{32}$/)
        .and.not.equal(id.sender);
      expect(other.epoch)
        .to.match(/^[0-9a-f]{16}$/)
        .and.not.equal(id.epoch);
    });
  });

  describe('ReceiverLedger', () => {
    it('accepts batches in order and drops what it already has', () => {
      const l = new ReceiverLedger();
      expect(l.offer(id.sender, id.epoch, 1, 1)).to.equal('accept');
      expect(l.offer(id.sender, id.epoch, 2, 1)).to.equal('accept');
      expect(l.offer(id.sender, id.epoch, 2, 1)).to.equal('duplicate');
      expect(l.offer(id.sender, id.epoch, 1, 1)).to.equal('duplicate');
      expect(l.expected(id.sender, id.epoch, 1)).to.equal(3);
    });

    it('refuses a batch past a gap, so the sender resends from the missing one', () => {
      const l = new ReceiverLedger();
      expect(l.offer(id.sender, id.epoch, 1, 1)).to.equal('accept');
      expect(l.offer(id.sender, id.epoch, 3, 1)).to.equal('gap');
      expect(l.offer(id.sender, id.epoch, 2, 1)).to.equal('accept');
      expect(l.offer(id.sender, id.epoch, 3, 1)).to.equal('accept');
    });

    it('starts an unknown sender at its base (batches below it were acknowledged elsewhere)', () => {
      const l = new ReceiverLedger();
      expect(l.offer(id.sender, id.epoch, 5001, 5000)).to.equal('gap');
      expect(l.offer(id.sender, id.epoch, 4999, 5000)).to.equal('duplicate');
      expect(l.offer(id.sender, id.epoch, 5000, 5000)).to.equal('accept');
    });

    it('jumps to a base past what it accepted (the sender failed over and came back)', () => {
      const l = new ReceiverLedger();
      l.offer(id.sender, id.epoch, 1, 1);
      expect(l.offer(id.sender, id.epoch, 10, 10)).to.equal('accept');
    });

    it('starts a sender afresh in a new epoch', () => {
      const l = new ReceiverLedger();
      l.offer(id.sender, id.epoch, 1, 1);
      l.offer(id.sender, id.epoch, 2, 1);
      expect(l.offer(id.sender, 'ffffffffffffffff', 1, 1)).to.equal('accept');
    });

    it('saves only durable marks, and a restored ledger drops what was durable', () => {
      const l = new ReceiverLedger();
      for (let s = 1; s <= 5; s++) l.offer(id.sender, id.epoch, s, 1);
      l.markDurable(id.sender, id.epoch, 3);
      const saved = JSON.parse(JSON.stringify(l.save())) as unknown;
      expect(saved).to.deep.equal({ [id.sender]: { epoch: id.epoch, seq: 3 } });
      const again = new ReceiverLedger();
      again.restore(saved);
      expect(again.offer(id.sender, id.epoch, 3, 1)).to.equal('duplicate');
      expect(again.offer(id.sender, id.epoch, 4, 1)).to.equal('accept');
      expect(again.durable(id.sender, id.epoch)).to.equal(3);
    });

    it('ignores malformed saved marks', () => {
      const l = new ReceiverLedger();
      l.restore({ nothex: { epoch: id.epoch, seq: 1 }, [id.sender]: { epoch: id.epoch, seq: -1 } });
      l.restore('junk');
      expect(l.size).to.equal(0);
    });

    it('refuses new senders past its cap, and keeps serving known ones', () => {
      const l = new ReceiverLedger(1);
      expect(l.offer(id.sender, id.epoch, 1, 1)).to.equal('accept');
      expect(l.offer(newIdentity().sender, id.epoch, 1, 1)).to.equal('refused');
      expect(l.offer(id.sender, id.epoch, 2, 1)).to.equal('accept');
    });
  });

  describe('SendWindow', () => {
    const drain = (w: SendWindow, resends: boolean[] = []): number[] => {
      const out: number[] = [];
      for (let s = w.next(); s !== 0; s = w.next()) {
        out.push(s);
        resends.push(w.lastWasResend);
      }
      return out;
    };

    it('sends within its credit and opens up on cumulative acks', () => {
      const w = new SendWindow(3);
      w.extend(5);
      expect(drain(w)).to.deep.equal([1, 2, 3]);
      expect(w.inFlight).to.equal(3);
      expect(w.ack(2)).to.equal(2);
      expect(w.base).to.equal(3);
      expect(drain(w)).to.deep.equal([4, 5]);
      expect(w.ack(2)).to.equal(0);
      expect(w.ack(99)).to.equal(3);
      expect(w.unacknowledged).to.equal(0);
    });

    it('rewinds once per round on a nack, ignoring the old round', () => {
      const w = new SendWindow(10);
      w.extend(4);
      drain(w);
      w.ack(1);
      expect(w.nack(0)).to.equal(true);
      expect(w.round).to.equal(1);
      expect(w.nack(0)).to.equal(false);
      const resends: boolean[] = [];
      expect(drain(w, resends)).to.deep.equal([2, 3, 4]);
      expect(resends).to.deep.equal([true, true, true]);
    });

    it('flags only batches already sent as resends', () => {
      const w = new SendWindow(10);
      w.extend(2);
      const resends: boolean[] = [];
      drain(w, resends);
      expect(resends).to.deep.equal([false, false]);
    });

    it('starts after a restart at the oldest unacknowledged batch', () => {
      const w = new SendWindow(10, 42);
      w.extend(43);
      expect(w.base).to.equal(42);
      expect(drain(w)).to.deep.equal([42, 43]);
    });

    it('refuses a credit below 1', () => {
      expect(() => new SendWindow(0)).to.throw(ZiggyError, /credit/);
    });
  });
});
