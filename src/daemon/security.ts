import { statSync } from 'node:fs';
import { inject, Lifecycle, scoped } from 'tsyringe';
import type { Socket } from 'zeromq';
import { ZiggyError } from '../errors';
import { readAuthorizedKeys } from '../protocol/curve-cert';
import { isLocalOnly, type Endpoint } from '../protocol/endpoint';
import { z85Encode } from '../protocol/z85';
import { DaemonSettings } from './config';
import { exposureProblem } from './exposure';
import { DaemonLog } from './logger';
import { showEndpoint, type SocketGuard } from './sockets';
import { zapHandler, type ZapRequest } from './zap';

/** Why a connection was refused during its handshake. */
export type AuthRejectReason =
  /** A CURVE client whose key is not among the authorized keys. */
  | 'rejected'
  /** A peer speaking without CURVE (plain text) to a CURVE port. */
  | 'plaintext'
  /** A CURVE client that does not have this daemon's public key (or sent broken crypto). */
  | 'crypto'
  /** Any other violation of the handshake's protocol. */
  | 'protocol'
  /**
   * A peer that hung up during the handshake: typically a plain-text client that saw this
   * port wants CURVE and left first (which of the two is counted is a matter of timing).
   */
  | 'aborted'
  /** A handshake that failed without detail (e.g. no ZAP handler answered). */
  | 'other';

export type AuthRejects = Record<AuthRejectReason, number>;

/** Refused handshakes are logged (at info) at most this often per reason. */
const LOG_EVERY_MS = 10_000;

/** Error codes of a handshake the peer walked away from. */
const HUNG_UP = new Set(['EPIPE', 'ECONNRESET']);

let domains = 0;

/**
 * The daemon's access control, the SocketGuard every bound socket goes through. Without a
 * certificate it only refuses to bind a non-loopback address unless `insecure` (saying
 * so once). With one, every bound socket becomes a CURVE server whose peers the process's
 * ZAP handler checks, under this daemon's own ZAP domain, against the keys in
 * `authorizedKeys` (re-read by reload()); `zapEnforceDomain` makes a socket that finds no
 * handler refuse everyone. Refused handshakes are counted per reason for STATUS and
 * logged, throttled, with the peer's address.
 */
@scoped(Lifecycle.ContainerScoped)
export class DaemonSecurity implements SocketGuard {
  private readonly counts: AuthRejects = { rejected: 0, plaintext: 0, crypto: 0, protocol: 0, aborted: 0, other: 0 };
  private readonly lastLogged = new Map<AuthRejectReason, { at: number; unlogged: number }>();
  private authorized = new Map<string, string>();
  private readonly domain = `ziggyd.${process.pid}.${++domains}`;
  private starting: Promise<void> | null = null;
  private registered = false;
  private warnedInsecure = false;

  constructor(
    @inject(DaemonSettings) private readonly settings: DaemonSettings,
    @inject(DaemonLog) private readonly log: DaemonLog,
  ) {}

  /** Whether this daemon requires CURVE. */
  get enabled(): boolean {
    return this.settings.value.curve !== undefined;
  }

  /** How many client keys are authorized now. */
  get authorizedCount(): number {
    return this.authorized.size;
  }

  /** Refused handshakes so far, per reason. */
  rejects(): AuthRejects {
    return { ...this.counts };
  }

  /** Loads the authorized keys and registers with the ZAP handler. Idempotent. */
  start(): Promise<void> {
    return (this.starting ??= this.doStart());
  }

  /** Leaves the ZAP handler; call once every bound socket is closed. */
  stop(): void {
    if (!this.registered) return;
    this.registered = false;
    zapHandler.remove(this.domain);
  }

  /**
   * Reads `authorizedKeys` again (ziggyd does on SIGHUP). A folder that cannot be read
   * keeps the keys already loaded, and the error is thrown for the caller to report.
   * Returns how many keys are now authorized.
   */
  reload(): number {
    const curve = this.settings.value.curve;
    if (curve === undefined) return 0;
    this.authorized = readAuthorizedKeys(curve.authorizedKeys);
    this.log.info(`authorized keys: ${this.authorized.size} from ${curve.authorizedKeys}`);
    return this.authorized.size;
  }

  async protect(socket: Socket, ep: Endpoint, role: string): Promise<void> {
    const cfg = this.settings.value;
    const problem = exposureProblem(ep, cfg.curve !== undefined, cfg.insecure);
    if (problem !== null) throw new ZiggyError('BAD_CONFIG', `${role}: ${problem}`, { option: role });
    if (cfg.curve === undefined) {
      if (cfg.insecure && !isLocalOnly(ep) && !this.warnedInsecure) {
        this.warnedInsecure = true;
        this.log.warn(
          `--insecure: ${role} on ${showEndpoint(ep)} takes plain text from the network: anyone who can reach it can send events, read the stream and stop this daemon`,
        );
      }
      return;
    }
    await this.start();
    socket.curveServer = true;
    socket.curveSecretKey = cfg.curve.secretKey;
    socket.zapDomain = this.domain;
    // With no ZAP handler answering, refuse the peer instead of admitting any key.
    socket.zapEnforceDomain = true;
    void this.watch(socket, role);
  }

  private async doStart(): Promise<void> {
    const curve = this.settings.value.curve;
    if (curve === undefined) return;
    const mode = statSync(curve.certPath, { throwIfNoEntry: false })?.mode ?? 0;
    if ((mode & 0o077) !== 0) this.log.warn(`${curve.certPath} can be read by others (mode 0${(mode & 0o777).toString(8)}): chmod 600 it`);
    this.reload();
    await zapHandler.add(this.domain, (request) => this.authorize(request));
    this.registered = true;
  }

  private authorize(request: ZapRequest): boolean {
    if (request.mechanism === 'CURVE' && request.publicKey !== null && this.authorized.has(z85Encode(request.publicKey))) return true;
    const who = request.publicKey !== null ? `key ${z85Encode(request.publicKey)}` : `mechanism ${request.mechanism}`;
    this.refused('rejected', `refused ${who} from ${request.address}: not an authorized key`);
    return false;
  }

  /** Counts the handshakes ZeroMQ fails before asking ZAP (the socket's monitor events). */
  private async watch(socket: Socket, role: string): Promise<void> {
    try {
      for await (const event of socket.events) {
        if (event.type === 'handshake:error:protocol') {
          const code = event.error.code;
          if (code === 'ERR_ZMTP_MECHANISM_MISMATCH')
            this.refused('plaintext', `refused a plain-text peer on ${role} (${event.address}): this port requires CURVE`);
          else if (code === 'ERR_ZMTP_CRYPTOGRAPHIC')
            this.refused('crypto', `refused a CURVE peer on ${role} (${event.address}): it does not have this daemon's public key`);
          else this.refused('protocol', `refused a peer on ${role} (${event.address}): ${code}`);
        } else if (event.type === 'handshake:error:other' && HUNG_UP.has(String(event.error.code))) {
          this.refused('aborted', `a peer on ${role} (${event.address}) hung up during the handshake: a plain-text client, or one without this daemon's key?`);
        } else if (event.type === 'handshake:error:other') {
          this.refused('other', `refused a peer on ${role} (${event.address}): ${event.error.message}`);
        }
      }
    } catch {
      // the socket closed under the observer
    }
  }

  /** Counts one refusal; logs it unless this reason was logged less than LOG_EVERY_MS ago. */
  private refused(reason: AuthRejectReason, message: string): void {
    this.counts[reason]++;
    const now = performance.now();
    const seen = this.lastLogged.get(reason);
    if (seen !== undefined && now - seen.at < LOG_EVERY_MS) {
      seen.unlogged++;
      return;
    }
    const more = seen !== undefined && seen.unlogged > 0 ? ` (and ${seen.unlogged} more of these since the last message)` : '';
    this.lastLogged.set(reason, { at: now, unlogged: 0 });
    this.log.info(message + more);
  }
}
