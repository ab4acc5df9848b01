import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with node:http; resolves with the whole body. */
export function httpGet(url: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** A Server-Sent Events stream read with node:http: every event it got, and a way to wait for one. */
export class SseClient {
  readonly events: SseEvent[] = [];
  ended = false;
  private response: IncomingMessage | null = null;
  private buffer = '';
  private readonly req: ClientRequest;
  /** Resolves with the response once its headers are in. */
  readonly ready: Promise<IncomingMessage>;

  constructor(url: string) {
    let ok: (res: IncomingMessage) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      ok = resolve;
      fail = reject;
    });
    this.req = request(url, (res) => {
      this.response = res;
      res.setEncoding('utf8');
      res.on('data', (text: string) => this.take(text));
      res.on('end', () => (this.ended = true));
      res.on('close', () => (this.ended = true));
      res.on('error', () => (this.ended = true));
      ok(res);
    });
    this.req.on('error', (e) => {
      this.ended = true;
      fail(e);
    });
    this.req.end();
  }

  /** Events named `name`, their data parsed as JSON. */
  parsed<T>(name: string): T[] {
    return this.events.filter((e) => e.event === name).map((e) => JSON.parse(e.data) as T);
  }

  close(): void {
    this.response?.destroy();
    this.req.destroy();
  }

  private take(text: string): void {
    this.buffer += text;
    for (let end = this.buffer.indexOf('\n\n'); end >= 0; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n') });
    }
  }
}

/** One sample of a Prometheus text exposition. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses Prometheus' text format strictly enough to catch mistakes: every line is a HELP,
 * a TYPE or a sample; every sample's family was announced by HELP and TYPE before it;
 * label values are unescaped (\\, \", \n). Throws on anything else.
 */
export function parseMetrics(text: string): { samples: MetricSample[]; types: Map<string, string> } {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a line feed');
  const help = new Set<string>();
  const types = new Map<string, string>();
  const samples: MetricSample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      if (help.has(m[1])) throw new Error(`second HELP for ${m[1]}`);
      help.add(m[1]);
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      if (types.has(m[1])) throw new Error(`second TYPE for ${m[1]}`);
      types.set(m[1], m[2]);
    } else if ((m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line))) {
      const name = m[1];
      if (!help.has(name) || !types.has(name)) throw new Error(`sample of ${name} before its HELP and TYPE`);
      const labels: Record<string, string> = {};
      let rest = m[2] ?? '';
      while (rest !== '') {
        const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
        if (l === null) throw new Error(`bad labels in: ${line}`);
        labels[l[1]] = l[2].replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(l[0].length);
      }
      const value = Number(m[3]);
      if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in: ${line}`);
      samples.push({ name, labels, value });
    } else {
      throw new Error(`not a line of the text format: ${JSON.stringify(line)}`);
    }
  }
  return { samples, types };
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function metric(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}
