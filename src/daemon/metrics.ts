import type { DaemonStatus } from './control-server';

/**
 * Keys of a sink's status (STATUS `sinks.<name>`) that say how much it holds now; every
 * other numeric key of the built-in sinks only grows. A key of a sink added by an
 * application that is in neither list is exposed untyped.
 */
const SINK_GAUGES = new Set([
  'queued',
  'queuedBytes',
  'open',
  'filesToday',
  'buffered',
  'subscriptions',
  'maxRate',
  'watching',
  'sampledTypes',
  'pending',
  'spoolBytes',
  'inFlight',
]);
const SINK_COUNTERS = new Set([
  'written',
  'synced',
  'dropped',
  'refused',
  'repaired',
  'repairedBytes',
  'forwarded',
  'published',
  'skipped',
  'resent',
  'failovers',
  'corrupt',
  'tornBytes',
  'acknowledged',
  'duplicates',
  'retries',
]);

/**
 * The daemon's counters in Prometheus' text exposition format (version 0.0.4), built from
 * the STATUS reply so that both always say the same. Per-type and per-host series are as
 * capped as STATUS is: past `maxTypes` / `maxHosts`, new names share `(other)`.
 */
export function renderMetrics(status: DaemonStatus, dashboards: number): string {
  const out = new MetricsWriter();
  out.family('ziggyd_info', 'gauge', 'The daemon: version and host (always 1).');
  out.sample('ziggyd_info', { version: status.version, host: status.host }, 1);
  out.single('ziggyd_uptime_seconds', 'gauge', 'Seconds since the daemon started.', status.uptime);
  out.single('ziggyd_last_event_end_seconds', 'gauge', "Unix time of the newest event's end (0 before any).", status.last);
  out.single('ziggyd_lag_seconds', 'gauge', "Seconds between the newest event's end and its arrival.", status.lag);

  const perType: [keyof DaemonStatus['totals'], string][] = [
    ['received', 'Documents received and routed, by event type.'],
    ['written', 'Documents appended to log files (sink "files"), by event type.'],
    ['forwarded', 'Documents handed to the upstream daemon (sink "forward"), by event type.'],
    ['published', 'Documents published on the live stream (sink "stream"), by event type.'],
    ['dropped', 'Documents lost: no sink that keeps events (files, upstream) took them, by event type (see ziggyd_sink_dropped_total for each sink).'],
  ];
  for (const [counter, help] of perType) {
    const name = `ziggyd_events_${counter}_total`;
    out.family(name, 'counter', help);
    for (const [type, c] of Object.entries(status.events)) out.sample(name, { type }, c[counter]);
  }

  out.family('ziggyd_events_rejected_total', 'counter', 'Documents (or unsplittable frame tails) refused, by reason: frame, document, type.');
  for (const [reason, n] of Object.entries(status.rejects)) out.sample('ziggyd_events_rejected_total', { reason }, n);

  out.family(
    'ziggyd_handshakes_refused_total',
    'counter',
    'Connections refused during the CURVE handshake, by reason: rejected (key not authorized), plaintext, crypto, protocol, aborted, other.',
  );
  for (const [reason, n] of Object.entries(status.auth)) out.sample('ziggyd_handshakes_refused_total', { reason }, n);

  out.family('ziggyd_host_events_received_total', 'counter', 'Documents received, by sending host.');
  for (const [host, c] of Object.entries(status.hosts)) out.sample('ziggyd_host_events_received_total', { host }, c.received);

  sinkMetrics(out, status.sinks);
  out.single('ziggyd_http_dashboards', 'gauge', 'Dashboards connected to /events.', dashboards);
  return out.text();
}

/**
 * Each sink's own numbers, one family per key across sinks: `ziggyd_sink_written_total{sink="files"}`,
 * `ziggyd_sink_queued{sink="forward"}`. Strings (where a sink sends, its fsync mode) are left to STATUS.
 */
function sinkMetrics(out: MetricsWriter, sinks: DaemonStatus['sinks']): void {
  const byKey = new Map<string, [string, number][]>();
  for (const [sink, st] of Object.entries(sinks)) {
    for (const [key, v] of Object.entries(st)) {
      if (typeof v !== 'number') continue;
      const list = byKey.get(key) ?? [];
      list.push([sink, v]);
      byKey.set(key, list);
    }
  }
  for (const [key, values] of byKey) {
    const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/gi, '_');
    const counter = SINK_COUNTERS.has(key);
    const name = `ziggyd_sink_${snake}${counter ? '_total' : ''}`;
    out.family(name, counter ? 'counter' : SINK_GAUGES.has(key) ? 'gauge' : 'untyped', `STATUS sinks.<sink>.${key}, by sink.`);
    for (const [sink, v] of values) out.sample(name, { sink }, v);
  }
}

/** Builds exposition text: one HELP and TYPE per family, then its samples. */
class MetricsWriter {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'untyped', help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string>, value: number): void {
    const shown = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
    this.lines.push(`${name}${shown === '' ? '' : `{${shown}}`} ${formatValue(value)}`);
  }

  single(name: string, type: 'counter' | 'gauge', help: string, value: number): void {
    this.family(name, type, help);
    this.sample(name, {}, value);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
