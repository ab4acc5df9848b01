// Memory benchmark (`npm run bench:memory`): ziggyd's peak RSS (the kernel's VmHWM) while
// senders push big, valid messages at it, with today's limits and with the old ones
// (maxMessageBytes 64 MiB, ZeroMQ's receive queue of 1000 messages per sender) in the
// same run. ziggyd runs as a library from the build (dist/, which the script builds) in a
// child process writing files to a temp dir; the senders run in this process.
//
// Scenarios: 20 messages of 60 MiB from one sender (each 60 valid 1 MiB events); 20 of
// 16 MiB from one sender; 20 of 16 MiB from 20 senders at once. A message over
// maxMessageBytes is refused by ZeroMQ (it drops that connection before reading it).
//
// Environment: BENCH_MESSAGES (20), BENCH_PEER_BYTES (ziggyd's maxPeerBytes for "now").
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Push } from 'zeromq';
import { encode } from '../src/protocol/codec';
import { newEventId } from '../src/protocol/event';
import type { DaemonConfig } from '../src/daemon';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20);
const MiB = 1024 * 1024;
/** Once everything is sent, a refused message is known refused when nothing arrives for this long. */
const QUIET_MS = 4000;

interface Limits {
  name: string;
  config: DaemonConfig;
}

const LIMITS: Limits[] = [
  process.env.BENCH_PEER_BYTES
    ? { name: `now, maxPeerBytes ${process.env.BENCH_PEER_BYTES}`, config: { maxPeerBytes: Number(process.env.BENCH_PEER_BYTES) } }
    : { name: 'now (defaults)', config: {} },
  { name: 'before (64 MiB messages, 1000 queued per sender)', config: { maxMessageBytes: 64 * MiB, maxPeerBytes: 64 * MiB * 1000 } },
];

/** One valid event of exactly `size` bytes. */
function eventOf(size: number, i: number): Buffer {
  const base = { id: newEventId(), type: 'big', host: 'bench', pid: 1, start: 1_700_000_000 + i, end: 1_700_000_000.5 + i, body: { pad: '' } };
  const overhead = encode(base).length;
  return encode({ ...base, body: { pad: 'x'.repeat(size - overhead) } });
}

/** A message of `mib` events of 1 MiB each. */
function messageOf(mib: number): Buffer {
  return Buffer.concat(Array.from({ length: mib }, (_, i) => eventOf(MiB, i)));
}

// ------------------------------------------------------------------------------ the daemon

/** The daemon child, plain JavaScript over the build, so its memory is ziggyd's own (no TypeScript compiler loaded). */
const DAEMON_JS = `
require('reflect-metadata');
const { readFileSync } = require('node:fs');
const { container } = require('tsyringe');
const { Daemon, DAEMON_CONFIG } = require(${JSON.stringify(join(__dirname, '../dist/src/daemon'))});
const [logPath, config] = process.argv.slice(1);
const peakRss = () => Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
(async () => {
  const c = container.createChildContainer();
  c.register(DAEMON_CONFIG, { useValue: { collect: '127.0.0.1:*', control: '127.0.0.1:*', logPath, ...JSON.parse(config) } });
  const daemon = c.resolve(Daemon);
  await daemon.start();
  process.on('message', () => {
    const { totals } = daemon.status();
    process.send({ received: totals.received, written: totals.written, dropped: totals.dropped, peakRss: peakRss() });
  });
  process.send({ port: daemon.ports.collect });
})();
`;

// ------------------------------------------------------------------------------ the driver

interface Outcome {
  received: number;
  written: number;
  dropped: number;
  peakRss: number;
}

function ask(child: ChildProcess): Promise<Outcome> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as Outcome));
    child.send('status');
  });
}

async function scenario(limits: Limits, senders: number, message: Buffer, messages: number): Promise<Outcome & { ms: number }> {
  const logPath = mkdtempSync(join(tmpdir(), 'ziggy-mem-'));
  const child = spawn(process.execPath, ['-e', DAEMON_JS, logPath, JSON.stringify(limits.config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((resolve) => child.once('message', (m) => resolve(m as { port: number })));
  const pushes = Array.from({ length: senders }, () => {
    const p = new Push({ linger: 0, sendHighWaterMark: messages });
    p.connect(`tcp://127.0.0.1:${port}`);
    return p;
  });
  const t0 = performance.now();
  const perSender = Math.ceil(messages / senders);
  await Promise.all(
    pushes.map(async (p) => {
      for (let i = 0; i < perSender; i++) await p.send(message);
    }),
  );
  // Wait for the daemon to have written everything, or to stop receiving (refused).
  let last = await ask(child);
  let since = performance.now();
  const events = (messages * message.length) / MiB;
  while (last.written + last.dropped < events && performance.now() - since < QUIET_MS) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await ask(child);
    if (now.received !== last.received || now.written !== last.written) since = performance.now();
    last = now;
  }
  const ms = performance.now() - t0;
  for (const p of pushes) p.close();
  child.kill('SIGKILL');
  rmSync(logPath, { recursive: true, force: true });
  return { ...last, ms };
}

async function main(): Promise<void> {
  const big = messageOf(60);
  const max = messageOf(16);
  const cases = [
    { what: 'idle (one 1 MiB event)', senders: 1, message: messageOf(1), count: 1 },
    { what: `${MESSAGES} x 60 MiB, 1 sender`, senders: 1, message: big },
    { what: `${MESSAGES} x 60 MiB, ${MESSAGES} senders`, senders: MESSAGES, message: big },
    { what: `${MESSAGES} x 16 MiB, 1 sender`, senders: 1, message: max },
    { what: `${MESSAGES} x 16 MiB, ${MESSAGES} senders`, senders: MESSAGES, message: max },
  ];
  console.log(`ziggyd's peak RSS (VmHWM) under big valid messages; events are 1 MiB each\n`);
  console.log(`${'scenario'.padEnd(28)}${'limits'.padEnd(52)}${'peak RSS'.padStart(10)}${'received'.padStart(10)}${'written'.padStart(9)}`);
  for (const c of cases) {
    for (const limits of LIMITS) {
      const r = await scenario(limits, c.senders, c.message, c.count ?? MESSAGES);
      console.log(
        `${c.what.padEnd(28)}${limits.name.padEnd(52)}${`${Math.round(r.peakRss / MiB)} MiB`.padStart(10)}${String(r.received).padStart(10)}${String(r.written).padStart(9)}`,
      );
    }
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
