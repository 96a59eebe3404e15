// A container's network, between the engine's records and src/network: the options `create`
// records (mode, published ports with their host ports chosen, DNS, extra hosts), and at every
// start the plan the lifecycle follows (runtime namespace, /etc files, helper, ports).
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { writeEtcFiles } from '../network/etc.js';
import { helperCommand, releaseNetwork, slirpAddPorts, type HelperCommand } from '../network/helper.js';
import { canPublish, hasHelper, parseNetwork, type NetworkMode } from '../network/mode.js';
import { assignHostPorts, checkHostPorts, parseExpose, parsePublish, type PortMapping } from '../network/ports.js';
import { parseAddHost } from '../network/etc.js';
import { PORTFWD_BIN } from '../network/portfwd.js';
import { findExecutable } from '../runtime/probe.js';
import { helperPath } from './context.js';
import type { ContainerConfig, ContainerRecord, ContainerStore } from '../storage/containers.js';
import { findContainer, monitorAlive, noSuchContainer } from './containers.js';
import { isUserNetworkMode, planUserNetworks, userNetworkMode } from './networks.js';
import type { EngineContext } from './context.js';

export interface NetworkCreateOptions {
  network?: string;
  publish: string[];
  publishAll: boolean;
  expose: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  addHost: string[];
}

type NetworkConfig = Pick<ContainerConfig, 'network' | 'portMappings' | 'exposedPorts' | 'dns' | 'dnsSearch' | 'dnsOption' | 'addHost'>;

/** containers.conf [network] default_rootless_network_cmd (slirp4netns unless set to pasta). */
export function defaultNetworkCmd(ctx: Pick<EngineContext, 'conf'>): string {
  const v = ctx.conf.network.default_rootless_network_cmd;
  return v === 'pasta' ? 'pasta' : 'slirp4netns';
}

/** The canonical --network string for a mode (what inspect shows as NetworkMode). */
function modeString(raw: string | undefined, mode: NetworkMode, ctx: Pick<EngineContext, 'conf'>): string {
  switch (mode.kind) {
    case 'slirp4netns':
    case 'pasta': {
      const v = raw === undefined || raw === '' || raw === 'private' || raw === 'default' ? defaultNetworkCmd(ctx) : raw;
      return v;
    }
    case 'container':
      return `container:${mode.target}`;
    case 'ns':
      return `ns:${mode.path}`;
    default:
      return mode.kind;
  }
}

/** create: validates the network options and chooses host ports for -p without one and for -P. */
export async function networkConfig(
  ctx: Pick<EngineContext, 'conf'>,
  cs: ContainerStore,
  o: NetworkCreateOptions,
  imageExposed: string[],
): Promise<NetworkConfig> {
  // User-defined networks (src/engine/networks.ts): only when the value names one.
  const userMode = userNetworkMode(cs.store, o.network);
  const mode: NetworkMode = userMode !== undefined ? { kind: 'none' } : parseNetwork(o.network, defaultNetworkCmd(ctx));
  if (userMode === undefined && mode.kind === 'container') {
    const target = findContainer(cs.list(), mode.target);
    if (!target) throw new TspodError('no-such-container', `looking up container to share net namespace with: ${noSuchContainer(mode.target).message}`);
    mode.target = target.id;
  }
  for (const d of o.dns) if (!/^[0-9a-fA-F.:]+$/.test(d)) throw new TspodError('invalid-argument', `${d} is not an ip address`);
  for (const h of o.addHost) parseAddHost(h);
  const requests = o.publish.flatMap(parsePublish);
  const exposed: string[] = [];
  for (const e of o.expose) for (const p of parseExpose(e)) exposed.push(`${p.port}/${p.protocol}`);
  if (o.publishAll) {
    for (const key of [...imageExposed, ...exposed]) {
      for (const p of parseExpose(key)) {
        const covered = requests.some((r) => r.protocol === p.protocol && p.port >= r.containerPort && p.port < r.containerPort + r.range);
        if (!covered) requests.push({ hostIp: '', hostPort: 0, containerPort: p.port, protocol: p.protocol, range: 1 });
      }
    }
  }
  if (userMode !== undefined) {
    // Published through the user networks' slirp4netns (src/engine/networks.ts, planUserNetworks).
    const cfg = userNetworkConfig(userMode, o);
    if (requests.length) cfg.portMappings = await assignHostPorts(requests);
    if (exposed.length) cfg.exposedPorts = [...new Set(exposed)];
    return cfg;
  }
  if (requests.length && !canPublish(mode)) {
    throw new TspodError('invalid-argument', `cannot publish ports with --network ${mode.kind}: the container has no network of its own`, {
      hint: 'Ports can be published with --network slirp4netns or pasta',
    });
  }
  const portMappings = requests.length ? await assignHostPorts(requests) : undefined;
  const cfg: NetworkConfig = { network: modeString(o.network, mode, ctx) };
  if (portMappings) cfg.portMappings = portMappings;
  if (exposed.length) cfg.exposedPorts = [...new Set(exposed)];
  if (o.dns.length) cfg.dns = o.dns;
  if (o.dnsSearch.length) cfg.dnsSearch = o.dnsSearch;
  if (o.dnsOption.length) cfg.dnsOption = o.dnsOption;
  if (o.addHost.length) cfg.addHost = o.addHost;
  return cfg;
}

function userNetworkConfig(network: string, o: NetworkCreateOptions): NetworkConfig {
  const cfg: NetworkConfig = { network };
  if (o.dns.length) cfg.dns = o.dns;
  if (o.dnsSearch.length) cfg.dnsSearch = o.dnsSearch;
  if (o.dnsOption.length) cfg.dnsOption = o.dnsOption;
  if (o.addHost.length) cfg.addHost = o.addHost;
  return cfg;
}

export interface NetworkPlan {
  mode: NetworkMode;
  /** The spec's network namespace: 'host', 'none' (new, loopback only), 'private' or 'ns:<path>'. */
  spec: string;
  /** With --network container:X, X's /etc files are shared. */
  shareEtcFrom?: string;
  helper?: HelperCommand;
  /**
   * The monitor makes the network namespace (at helper.netnsPath, which the spec joins) and starts
   * the helpers before the runtime: one `runc run` instead of create + start.
   */
  createNetns?: boolean;
  ports: PortMapping[];
  /** User-defined networks: wires the container between the runtime's create and start. */
  onNetworkUp?: () => Promise<void>;
}

/**
 * Start, before anything is mounted or spawned: the mode, the namespace to join, and a check that
 * every host port can be bound (so a taken port fails with a clear error and leaves nothing behind).
 */
export async function planNetwork(ctx: Pick<EngineContext, 'conf' | 'env' | 'installRoot'>, cs: ContainerStore, rec: ContainerRecord, sockDir: string): Promise<NetworkPlan> {
  if (isUserNetworkMode(rec.config.network)) return planUserNetworks(cs.store, cs, rec, sockDir, helperPath(ctx, PORTFWD_BIN));
  const mode = parseNetwork(rec.config.network, defaultNetworkCmd(ctx));
  const ports = rec.config.portMappings ?? [];
  switch (mode.kind) {
    case 'host':
      return { mode, spec: 'host', ports: [] };
    case 'none':
      return { mode, spec: 'none', ports: [] };
    case 'ns':
      return { mode, spec: `ns:${mode.path}`, ports: [] };
    case 'container': {
      const t = findContainer(cs.list(), mode.target);
      if (!t) throw new TspodError('no-such-container', `the network namespace of container ${rec.name}: ${noSuchContainer(mode.target).message}`);
      if (t.state.status !== 'running' || !t.state.pid || !monitorAlive(t)) {
        throw new TspodError('invalid-argument', `cannot join the network namespace of container ${t.name}: it is not running: container state improper`);
      }
      return { mode, spec: `ns:/proc/${t.state.pid}/ns/net`, shareEtcFrom: join(cs.dir(t.id), 'userdata'), ports: [] };
    }
  }
  await checkHostPorts(ports);
  const name = mode.kind;
  const conf = ctx.conf.engine.network_cmd_path;
  const path = (mode.kind === 'slirp4netns' && typeof conf === 'string' && conf) || findExecutable(name, ctx.env);
  if (!path) {
    throw new TspodError('unsupported', `${name} was not found: rootless containers need it for their network`, {
      hint: `Install it (Debian: apt-get install ${name === 'pasta' ? 'passt' : name}), or use --network none`,
    });
  }
  // Published ports: tspod-portfwd (slirp4netns; pasta forwards them itself).
  const portfwdPath = mode.kind === 'slirp4netns' ? helperPath(ctx, PORTFWD_BIN) : undefined;
  const helper = helperCommand(mode, { sockDir, ports, path, portfwdPath });
  // Nothing left to do between create and start unless ports go through slirp4netns's API; a
  // container in a user namespace of its own (--userns=keep-id) keeps the runtime's netns.
  const createNetns = !helper.apiSocket && !rec.config.userns;
  return { mode, spec: 'private', helper, ports, ...(createNetns && { createNetns }) };
}

/** Writes the container's /etc files for the plan (or names the shared ones). */
export function etcFilesFor(plan: NetworkPlan, cs: ContainerStore, rec: ContainerRecord, hostname: string, ctx: Pick<EngineContext, 'conf'>): { hosts: string; resolvConf: string; hostname: string } {
  const dir = join(cs.dir(rec.id), 'userdata');
  const own = writeEtcFiles({
    dir,
    name: rec.name,
    hostname,
    mode: plan.mode,
    dns: rec.config.dns,
    dnsSearch: rec.config.dnsSearch,
    dnsOption: rec.config.dnsOption,
    addHost: rec.config.addHost,
    baseHostsFile: typeof ctx.conf.containers.base_hosts_file === 'string' ? ctx.conf.containers.base_hosts_file : undefined,
  });
  if (!plan.shareEtcFrom) return own;
  return { hosts: join(plan.shareEtcFrom, 'hosts'), resolvConf: join(plan.shareEtcFrom, 'resolv.conf'), hostname: own.hostname };
}

/** After the helper is up and before the container starts: ports that go through slirp4netns's API (port_handler=slirp4netns). */
export async function publishPorts(plan: NetworkPlan): Promise<void> {
  if (plan.onNetworkUp) await plan.onNetworkUp();
  if (plan.mode.kind === 'slirp4netns' && plan.helper?.apiSocket && plan.ports.length) {
    await slirpAddPorts(plan.helper.apiSocket, plan.mode, plan.ports);
  }
}

/** Kills a helper its dead monitor left behind and undoes the netns bind mount. */
export function releaseContainerNetwork(sockDir: string, helperPid: number | undefined): Promise<void> {
  return releaseNetwork(sockDir, helperPid);
}

export { hasHelper };
