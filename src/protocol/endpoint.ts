import { ZiggyError } from '../errors';

/** Where applications and forwarding daemons push events. */
export const DEFAULT_COLLECT_PORT = 3514;
/** Where ziggyctl and ziggyview ask a daemon questions. */
export const DEFAULT_CONTROL_PORT = 3513;
export const DEFAULT_HOST = '127.0.0.1';

export interface Endpoint {
  /** Host as given: a name, an IPv4 address, an IPv6 address without brackets, or `*`. */
  readonly host: string;
  /** 0 means "any free port" (bind only). */
  readonly port: number;
  /** The ZeroMQ address: `tcp://host:port`, `tcp://[::1]:port`, `tcp://*:port`, or `ipc:///path`. */
  readonly url: string;
  /** For an `ipc://` endpoint (a Unix socket), its file path; host is then `''` and port 0. */
  readonly path?: string;
}

/** True for a Unix-socket (`ipc://`) endpoint. */
export function isIpc(ep: Endpoint): boolean {
  return ep.path !== undefined;
}

/**
 * Whether binding `ep` keeps it on this machine: a Unix socket, or a loopback address.
 * `*`, a name other than `localhost`, or any other address reaches the network.
 */
export function isLocalOnly(ep: Endpoint): boolean {
  if (isIpc(ep)) return true;
  const h = ep.host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Parses `host:port`, `*:port`, `[v6]:port`, `:port`, a bare `port`, a `tcp://` URL, or
 * an `ipc:///path` URL (a Unix socket; only the control port takes one).
 * A missing host is `127.0.0.1`; a missing port is `defaultPort`. Port `*` or `0` means
 * an ephemeral port, which only makes sense for a bind.
 *
 * @example parseEndpoint('*:3514').url === 'tcp://*:3514'
 */
export function parseEndpoint(spec: string, defaultPort: number): Endpoint {
  const input = spec.trim();
  const fail = (why: string): never => {
    throw new ZiggyError('BAD_ENDPOINT', `malformed endpoint '${spec}': ${why} (expected host:port, e.g. 127.0.0.1:${defaultPort})`);
  };
  if (input.startsWith('ipc://')) {
    const path = input.slice('ipc://'.length);
    if (path === '' || path.includes('\0')) fail('an ipc:// endpoint needs a socket file path, e.g. ipc:///run/ziggyd/control');
    // A Unix socket path is at most 107 bytes on Linux (sun_path); ZeroMQ would fail later with less to say.
    if (Buffer.byteLength(path) > 107) fail('the socket path is longer than 107 bytes');
    return { host: '', port: 0, url: input, path };
  }
  let rest = input.startsWith('tcp://') ? input.slice('tcp://'.length) : input;
  if (rest === '') fail('empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) fail('only tcp:// and ipc:// endpoints are supported');

  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) fail('unclosed [');
    host = rest.slice(1, close);
    rest = rest.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) fail('unexpected text after ]');
    portText = rest === '' ? undefined : rest.slice(1);
  } else if (/^\d+$/.test(rest) || rest === '*') {
    host = DEFAULT_HOST;
    portText = rest;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && rest.indexOf(':') !== colon) fail('IPv6 addresses go in brackets, e.g. [::1]:3514');
    host = colon < 0 ? rest : rest.slice(0, colon);
    portText = colon < 0 ? undefined : rest.slice(colon + 1);
    if (host === '') host = DEFAULT_HOST;
  }
  if (host !== '*' && !/^[A-Za-z0-9.\-_:%]+$/.test(host)) fail(`bad host '${host}'`);
  // ZeroMQ refuses to connect to a name that does not start with a letter or digit.
  if (!isIPv6Host(host) && host !== '*' && !/^[A-Za-z0-9]/.test(host)) fail(`bad host '${host}': a host name starts with a letter or digit`);

  let port = defaultPort;
  if (portText !== undefined) {
    if (portText === '*') port = 0;
    else if (!/^\d{1,5}$/.test(portText)) fail(`bad port '${portText}'`);
    else port = Number(portText);
    if (port > 65535) fail(`port ${port} is out of range`);
  }
  return { host, port, url: `tcp://${bracketHost(host)}:${port === 0 ? '*' : port}` };
}

/**
 * Whether `host` is an IPv6 literal (only those hold colons): its socket needs ZeroMQ's
 * IPv6 mode, and a URL or a message puts it in brackets. The one place that says so.
 */
export function isIPv6Host(host: string): boolean {
  return host.includes(':');
}

/** `host` as it goes before `:port`: an IPv6 literal in brackets. */
export function bracketHost(host: string): string {
  return isIPv6Host(host) ? `[${host}]` : host;
}

/** The port number of a bound or connected ZeroMQ address such as `tcp://127.0.0.1:5555`. */
export function portOf(url: string): number {
  const m = /:(\d+)$/.exec(url);
  if (!m) throw new ZiggyError('BAD_ENDPOINT', `no port in address '${url}'`);
  return Number(m[1]);
}
