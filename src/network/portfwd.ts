// Published ports through tspod-portfwd (src/native/portfwd/, contract in its main.c): the
// command line tspod-monitor starts it with (beside slirp4netns, or the user networks' trivial
// helper), and turning its failure into podman's error.
import { TspodError } from '../errors.js';
import type { PortMapping } from './ports.js';

export const PORTFWD_BIN = 'tspod-portfwd';

export interface PortHelper {
  path: string;
  /** With the monitor's placeholders ({netns}, {ready-fd}). */
  args: string[];
}

/**
 * The forwarder's command line: listeners for every mapping (ranges stay one --map each), then
 * connections to `target` inside the network namespace `netns` (a path, or the monitor's `{netns}`).
 */
export function portHelper(path: string, o: { netns: string; target: string; ports: PortMapping[] }): PortHelper {
  const args = ['--netns', o.netns, '--target', o.target, '--ready-fd', '{ready-fd}'];
  for (const p of o.ports) args.push('--map', `${p.protocol},${p.hostIp},${p.hostPort},${p.containerPort},${p.range}`);
  return { path, args };
}

/**
 * The monitor's error when the forwarder did not start: `<path> exited before it was ready: <its
 * stderr>`. A port that could not be bound gives podman's `cannot publish port ...: listen tcp
 * ADDR: bind: address already in use`; undefined when the message is not the forwarder's.
 */
export function portHelperError(path: string, message: string): TspodError | undefined {
  if (!message.startsWith(path)) return undefined;
  const rest = message.slice(path.length).replace(/^ (exited before it was ready|did not become ready in time)(: )?/, '');
  const bind = /cannot publish port \d+\/(tcp|udp): listen \S+ \S+: bind: ([^\n]*)/.exec(rest);
  if (bind) {
    return new TspodError('address-in-use', bind[0], {
      hint: /permission denied/.test(bind[2]!) ? 'Rootless containers can only publish ports >= net.ipv4.ip_unprivileged_port_start' : 'Choose another host port, or stop what listens there',
    });
  }
  return new TspodError('network', `publishing ports: ${PORTFWD_BIN}: ${rest.replace(/^tspod-portfwd: /, '') || 'failed'}`);
}
