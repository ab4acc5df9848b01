// Stream prefix matching (`node -r @swc-node/register bench/prefix.bench.ts`): the cost of
// deciding whether a type is wanted with 20,000 subscribed prefixes, with PrefixSet (time
// of the type's length) and with the linear scan over every prefix it replaced, in the
// same run. The streamer asks once per type and subscription change; a type past
// maxTypes, or a subscriber changing its prefixes all the time, makes it ask per event.
import { PrefixSet } from '../src/daemon/prefix-set';

const PREFIXES = 20_000;
const prefixes = Array.from({ length: PREFIXES }, (_, i) => `sub${i}.x`);
const set = new PrefixSet();
for (const s of prefixes) set.add(s);
const buffers = prefixes.map((s) => Buffer.from(s));
const types = ['request', 'request.sql', 'request.memcache', 'job.mail.sent'];
const topics = types.map((t) => Buffer.from(t));

function linear(topic: Buffer): boolean {
  for (const b of buffers) if (b.length <= topic.length && topic.compare(b, 0, b.length, 0, b.length) === 0) return true;
  return false;
}

let hits = 0;
const n = 200_000;
let t0 = performance.now();
for (let i = 0; i < n; i++) if (set.matches(types[i & 3])) hits++;
const ours = ((performance.now() - t0) / n) * 1e6;
const m = 2_000;
t0 = performance.now();
for (let i = 0; i < m; i++) if (linear(topics[i & 3])) hits++;
const before = ((performance.now() - t0) / m) * 1e6;
console.log(
  `${PREFIXES.toLocaleString('en')} prefixes, no match (the worst case for a scan): PrefixSet ${ours.toFixed(0)} ns per type, linear scan ${before.toFixed(0)} ns; ${(before / ours).toFixed(0)}x (${hits} hits)`,
);
