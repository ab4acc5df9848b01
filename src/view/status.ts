import type { ControlStatus } from '../protocol/control';

const COUNTERS = ['received', 'written', 'forwarded', 'dropped', 'rejected'] as const;

/**
 * A daemon's STATUS reply as a readable summary: who and where, the newest event and how
 * long ago, the lag, then per host and per type when each was last seen and its counts,
 * and the totals. Keys a daemon does not send (an older daemon) print as `-`.
 *
 * @param now unix seconds to measure "ago" from
 */
export function formatStatus(status: Partial<ControlStatus>, now: number = Date.now() / 1000): string {
  const lines: string[] = [];
  const who = [`ziggyd${typeof status.version === 'string' ? ` ${status.version}` : ''}`];
  if (typeof status.host === 'string') who.push(`on ${status.host}${typeof status.pid === 'number' ? ` (pid ${status.pid})` : ''}`);
  if (typeof status.uptime === 'number') who.push(`up ${duration(status.uptime)}`);
  lines.push(who.join(' '));
  if (status.ports) lines.push(`ports: collect ${status.ports.collect}, control ${status.ports.control}, stream ${status.ports.stream}`);
  if (status.logPath) lines.push(`log path: ${status.logPath}`);
  if (status.forward) lines.push(`forwarding to ${status.forward.to} (${status.forward.queued} queued)`);
  const refused = Object.entries(status.auth ?? {}).filter(([, n]) => typeof n === 'number' && n > 0);
  if (refused.length > 0) lines.push(`refused handshakes: ${refused.map(([why, n]) => `${why} ${n}`).join(', ')}`);
  // The NATS JetStream source (not a sink): whatever flat facts and counters it sends.
  const source: unknown = (status as Record<string, unknown>).fromJetstream;
  if (typeof source === 'object' && source !== null)
    lines.push(
      `fromJetstream: ${Object.entries(source)
        .map(([k, x]) => `${k} ${String(x)}`)
        .join(', ')}`,
    );
  lines.push('');
  lines.push(`last event: ${lastEvent(status.last, now)}`);
  lines.push(`lag: ${typeof status.lag === 'number' ? `${status.lag.toFixed(3)} s` : '-'}`);

  const rows: string[][] = [['', 'last seen', ...COUNTERS]];
  const section = (title: string, entries: Record<string, Record<string, unknown>> | undefined, omitted: unknown): void => {
    rows.push([title]);
    const names = Object.keys(entries ?? {}).sort();
    if (names.length === 0) rows.push(['  (none yet)']);
    for (const name of names) {
      const found: unknown = entries![name];
      // A reply from something other than a ziggyd: print what can be read.
      const e = (typeof found === 'object' && found !== null ? found : {}) as Record<string, unknown>;
      rows.push([`  ${name}`, typeof e.last === 'number' && e.last > 0 ? ago(now - e.last) : '-', ...COUNTERS.map((c) => count(e[c]))]);
    }
    // The daemon lists only the busiest; the totals below count the rest too.
    if (typeof omitted === 'number' && omitted > 0) rows.push([`  (${omitted} more, less busy)`]);
  };
  const omitted = (status.omitted ?? {}) as Record<string, unknown>;
  section('hosts', status.hosts as Record<string, Record<string, unknown>> | undefined, omitted.hosts);
  section('types', status.events as Record<string, Record<string, unknown>> | undefined, omitted.types);
  const totals = (status.totals ?? {}) as unknown as Record<string, unknown>;
  rows.push(['total', '', ...COUNTERS.map((c) => count(totals[c]))]);
  lines.push('', ...table(rows));
  if (typeof status.sinks === 'object' && status.sinks !== null) lines.push('', ...sinkLines(status.sinks));
  return lines.join('\n') + '\n';
}

/**
 * One line per sink, with whatever it reports (`files: written 10, synced 10, ...`), so a
 * sink added to the daemon shows up here without a change. `dropped` in the totals above
 * counts only events no sink kept; each sink's own losses are on its line.
 */
function sinkLines(sinks: Record<string, unknown>): string[] {
  const out = ['sinks'];
  const names = Object.keys(sinks).sort();
  if (names.length === 0) out.push('  (none)');
  for (const name of names) {
    const found: unknown = sinks[name];
    const entries = typeof found === 'object' && found !== null ? Object.entries(found) : [];
    const shown = entries.filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint').map(([k, v]) => `${k} ${String(v)}`);
    out.push(`  ${name}: ${shown.length > 0 ? shown.join(', ') : '-'}`);
  }
  return out;
}

/** `12.3 s ago`, `4m 05s ago`, ... */
export function ago(seconds: number): string {
  return seconds < 0 ? `${duration(-seconds)} ahead` : `${duration(seconds)} ago`;
}

/** A span of seconds as people read it: `0.4 s`, `12.3 s`, `4m 05s`, `2h 07m`, `3d 04h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) return `${s.toFixed(1)} s`;
  const two = (n: number): string => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${two((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${two((s % 86400) / 3600)}h`;
}

function lastEvent(last: unknown, now: number): string {
  if (typeof last !== 'number' || !(last > 0)) return 'none yet';
  const at = new Date(last * 1000);
  if (Number.isNaN(at.getTime())) return String(last);
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC (${ago(now - last)})`;
}

function count(v: unknown): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : '-';
}

/** Left-aligns the first column, right-aligns the others. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    if (row.length === 1) continue; // a section title spans the row
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  }
  return rows.map((row) => {
    if (row.length === 1) return row[0];
    return row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[0]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  });
}
