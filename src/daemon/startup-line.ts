import type { ControlStatus } from '../protocol/control';
import type { Endpoint } from '../protocol/endpoint';
import { showEndpoint } from './sockets';

/** What the startup line says of the configuration (a ResolvedDaemonConfig has it). */
export interface StartupConfig {
  readonly collect: Endpoint;
  readonly control: Endpoint;
  readonly forward?: Endpoint;
  readonly logPath?: string;
}

/**
 * The one line ziggyd prints when it has started: what it listens on (the bound ports) and
 * where events go.
 *
 * @example
 * // ziggyd 0.1.0 (pid 4242): collecting on 127.0.0.1:3514, control on 127.0.0.1:3513 (live stream on port 40211); writing to /var/log/ziggy
 */
export function startupLine(status: ControlStatus, config: StartupConfig): string {
  const collect = showEndpoint({ ...config.collect, port: status.ports.collect });
  const control = showEndpoint({ ...config.control, port: status.ports.control });
  const sinks = [config.logPath !== undefined ? `writing to ${config.logPath}` : 'not writing files (no --log-path)'];
  if (config.forward) sinks.push(`forwarding to ${showEndpoint(config.forward)}`);
  return `ziggyd ${status.version} (pid ${status.pid}): collecting on ${collect}, control on ${control} (live stream on port ${status.ports.stream}); ${sinks.join('; ')}`;
}
