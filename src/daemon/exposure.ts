import { isLocalOnly, type Endpoint } from '../protocol/endpoint';
import { showEndpoint } from './sockets';

/**
 * Why binding `ep` must be refused, or null. A port on a non-loopback address without
 * CURVE lets anyone on the network write events, read the live stream and stop the daemon,
 * so that takes an explicit `insecure`.
 */
export function exposureProblem(ep: Endpoint, curve: boolean, insecure: boolean): string | null {
  if (curve || insecure || isLocalOnly(ep)) return null;
  return (
    `${showEndpoint(ep)} is reachable from the network, and without --curve-cert anyone there could send events, ` +
    'read the live stream and stop this daemon; give --curve-cert and --authorized-keys, or --insecure to bind it in plain text anyway'
  );
}
