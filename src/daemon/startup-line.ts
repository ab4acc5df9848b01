import type { ControlStatus } from '../protocol/control';
import type { Endpoint } from '../protocol/endpoint';
import { showEndpoint } from './sockets';

/**
 * The one line ziggyd prints when it has started: what it listens on and where events go.
 *
 * @example
 * // ziggyd 0.1.0 (pid 4242): collecting on 127.0.0.1:3514, control on 127.0.0.1:3513 (live stream on port 40211); writing to /var/log/ziggy
 */
export function startupLine(status: ControlStatus, hosts: { collect: Endpoint; control: Endpoint }): string {
  const collect = showEndpoint({ ...hosts.collect, port: status.ports.collect });
  const control = showEndpoint({ ...hosts.control, port: status.ports.control });
  const sinks = [status.logPath !== undefined ? `writing to ${status.logPath}` : 'not writing files (no --log-path)'];
  if (status.forward) sinks.push(`forwarding to ${status.forward.to}`);
  return `ziggyd ${status.version} (pid ${status.pid}): collecting on ${collect}, control on ${control} (live stream on port ${status.ports.stream}); ${sinks.join('; ')}`;
}
