import { Router } from 'zeromq';
import { ZiggyError } from '../errors';
import { received } from './sockets';

/** Where libzmq asks for authentication (RFC 27): one endpoint per ZeroMQ context. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/** One ZAP request, as libzmq sends it for a connecting peer. */
export interface ZapRequest {
  /** The bound socket's `zapDomain`: which daemon is asked. */
  domain: string;
  /** The peer's IP address. */
  address: string;
  /** `CURVE`, `PLAIN` or `NULL`. */
  mechanism: string;
  /** CURVE: the client's long-term public key, 32 raw bytes. */
  publicKey: Buffer | null;
}

/** True admits the peer; false refuses it (ZAP status 400). Must not throw. */
export type ZapAuthorizer = (request: ZapRequest) => boolean;

/**
 * The process's ZAP handler. libzmq has one ZAP endpoint per context, and every socket
 * here shares zeromq.js' global context, so several daemons in one process (tests, an
 * application embedding ziggyd) share one handler: each daemon registers its own ZAP
 * domain, and requests are dispatched by domain. A domain nobody registered is refused,
 * and with `zapEnforceDomain` a socket finding no handler at all refuses every peer, so
 * every path fails closed. The socket is open only while some domain is registered, so
 * it never keeps a process alive on its own.
 */
class ZapDispatcher {
  private readonly domains = new Map<string, ZapAuthorizer>();
  private socket: Router | null = null;
  private opening: Promise<void> | null = null;
  private loop: Promise<void> = Promise.resolve();

  /** Routes requests for `domain` to `authorizer`; resolves once the handler is listening. */
  async add(domain: string, authorizer: ZapAuthorizer): Promise<void> {
    if (this.domains.has(domain)) throw new ZiggyError('BAD_STATE', `ZAP domain ${domain} is already registered`);
    this.domains.set(domain, authorizer);
    try {
      await (this.opening ??= this.open());
    } catch (e) {
      this.domains.delete(domain);
      // A failed open is not kept: the next daemon to start tries again.
      if (this.socket === null) this.opening = null;
      throw e;
    }
  }

  /** Stops answering for `domain`; the last one out closes the handler. */
  remove(domain: string): void {
    if (!this.domains.delete(domain) || this.domains.size > 0) return;
    const socket = this.socket;
    this.socket = null;
    this.opening = null;
    if (socket !== null && !socket.closed) socket.close();
  }

  private async open(): Promise<void> {
    await this.loop; // a handler closed a moment ago must let go of the endpoint first
    const socket = new Router({ linger: 0, sendTimeout: 0 });
    try {
      await socket.bind(ZAP_ENDPOINT);
    } catch (e) {
      socket.close();
      // Another ZAP handler in this process (some other library's) would decide for us: refuse to start.
      throw new ZiggyError('ADDRESS_IN_USE', `cannot listen for ZAP requests on ${ZAP_ENDPOINT}: ${(e as Error).message}`, { cause: e });
    }
    this.socket = socket;
    this.loop = this.run(socket);
  }

  private async run(socket: Router): Promise<void> {
    for await (const frames of received(socket)) {
      // [peer, '', version, request id, domain, address, identity, mechanism, ...credentials]
      if (frames.length < 8) continue;
      const [peer, empty, version, requestId, domain, address, , mechanism, credential] = frames;
      const request: ZapRequest = {
        domain: domain.toString(),
        address: address.toString(),
        mechanism: mechanism.toString(),
        publicKey: credential !== undefined && credential.length === 32 ? credential : null,
      };
      let allow = false;
      if (version.toString() === '1.0') {
        const authorizer = this.domains.get(request.domain);
        try {
          allow = authorizer !== undefined && authorizer(request);
        } catch {
          allow = false;
        }
      }
      const reply = [peer, empty, '1.0', requestId, allow ? '200' : '400', allow ? 'OK' : 'not authorized', allow ? 'ziggy' : '', ''];
      try {
        await socket.send(reply);
      } catch {
        if (socket.closed) return;
      }
    }
  }
}

/** The one ZAP handler of this process. */
export const zapHandler = new ZapDispatcher();
