import type { DaemonStatus } from './control-server';

/** What a daemon's services hold right now, besides the STATUS counters. */
export interface DaemonGauges {
  /** Bytes waiting to be written to files. */
  fileBufferedBytes: number;
  /** Files open for the current day. */
  openFiles: number;
  /** Documents and bytes waiting for the upstream (0 when not forwarding). */
  forwardQueued: number;
  forwardQueuedBytes: number;
  /** Distinct type prefixes subscribed on the live stream. */
  streamSubscriptions: number;
  /** Dashboards connected to `/events`. */
  dashboards: number;
}

/**
 * The daemon's counters in Prometheus' text exposition format (version 0.0.4), built from
 * the STATUS reply so that both always say the same. Per-type and per-host series are as
 * capped as STATUS is: past `maxTypes` / `maxHosts`, new names share `(other)`.
 */
export function renderMetrics(status: DaemonStatus, gauges: DaemonGauges): string {
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
    ['dropped', 'Documents a sink had to let go (buffer or queue full, write error, stream rate cap), by event type.'],
  ];
  for (const [counter, help] of perType) {
    const name = `ziggyd_events_${counter}_total`;
    out.family(name, 'counter', help);
    for (const [type, c] of Object.entries(status.events)) out.sample(name, { type }, c[counter]);
  }

  out.family('ziggyd_events_rejected_total', 'counter', 'Documents (or unsplittable frame tails) refused, by reason: frame, document, type.');
  for (const [reason, n] of Object.entries(status.rejects)) out.sample('ziggyd_events_rejected_total', { reason }, n);

  out.family('ziggyd_handshakes_refused_total', 'counter', 'Connections refused during the CURVE handshake, by reason: rejected (key not authorized), plaintext, crypto, protocol, aborted, other.');
  for (const [reason, n] of Object.entries(status.auth)) out.sample('ziggyd_handshakes_refused_total', { reason }, n);

  out.family('ziggyd_host_events_received_total', 'counter', 'Documents received, by sending host.');
  for (const [host, c] of Object.entries(status.hosts)) out.sample('ziggyd_host_events_received_total', { host }, c.received);

  out.single('ziggyd_file_buffered_bytes', 'gauge', 'Bytes waiting to be written to log files.', gauges.fileBufferedBytes);
  out.single('ziggyd_files_open', 'gauge', 'Log files open for the current day.', gauges.openFiles);
  out.single('ziggyd_forward_queued_events', 'gauge', 'Documents waiting for the upstream daemon.', gauges.forwardQueued);
  out.single('ziggyd_forward_queued_bytes', 'gauge', 'Bytes waiting for the upstream daemon.', gauges.forwardQueuedBytes);
  out.single('ziggyd_stream_subscriptions', 'gauge', 'Distinct type prefixes subscribed on the live stream.', gauges.streamSubscriptions);
  out.single('ziggyd_http_dashboards', 'gauge', 'Dashboards connected to /events.', gauges.dashboards);
  return out.text();
}

/** Builds exposition text: one HELP and TYPE per family, then its samples. */
class MetricsWriter {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge', help: string): void {
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
