// User-defined networks, the kernel side: one network namespace shared by all of the user's
// networks (created once with `unshare --net=<file>` inside tspod's user namespace and kept alive
// by that bind mount under the run root), one Linux bridge per network inside it, and per container
// one veth pair per network (created inside the container's namespace, one end moved to the
// shared namespace and enslaved to the bridge). We are root in our user namespace, which owns all
// of these network namespaces, so `ip` and `nsenter` are permitted. Forwarding is off in the shared
// namespace (a new namespace's default) until egress is set up, whose nftables rules keep networks apart.
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { TspodError } from '../errors.js';
import { isMounted } from '../storage/mount.js';

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new TspodError('network', `${cmd} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** <runroot>/networks: the directory of the shared namespace file (bind-mounted on itself, private). */
export function sharedNetnsDir(runRoot: string): string {
  return join(runRoot, 'networks');
}

export function sharedNetnsPath(runRoot: string): string {
  return join(sharedNetnsDir(runRoot), 'netns');
}

/** Creates the shared network namespace unless it is alive. Call under a lock. */
export async function ensureSharedNetns(runRoot: string, slirpPath?: string): Promise<string> {
  const dir = sharedNetnsDir(runRoot);
  const ns = sharedNetnsPath(runRoot);
  if (existsSync(ns) && isMounted(ns)) return ns;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A namespace file can only be bind-mounted where propagation is private.
  if (!isMounted(dir)) {
    await run('mount', ['--bind', dir, dir]);
    await run('mount', ['--make-private', dir]);
  }
  writeFileSync(ns, '');
  await run('unshare', [`--net=${ns}`, 'true']);
  await run('nsenter', [`--net=${ns}`, 'ip', 'link', 'set', 'lo', 'up']);
  if (slirpPath) await startEgress(dir, ns, slirpPath).catch((e: Error) => writeFileSync(join(dir, 'egress.log'), `${e.message}\n`));
  return ns;
}

// Egress: a slirp4netns on the shared namespace (tap0, default route), forwarding on, and nftables
// rules: the default forward policy drops (so two bridges never talk), each non-internal bridge may
// go out through tap0, replies come back, and what leaves is masqueraded. Forwarding is turned on
// only once the rules are in place. Best effort: without it the networks still work internally.
const NFT_BASE = `table ip tspod {
  chain forward { type filter hook forward priority 0; policy drop; iifname "tap0" ct state established,related accept; }
  chain post { type nat hook postrouting priority 100; oifname "tap0" counter masquerade; }
}
`;

/** nft lives in sbin, which a user's PATH often lacks. */
function nftPath(): string {
  for (const d of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (existsSync(join(d, 'nft'))) return join(d, 'nft');
  return 'nft';
}

function egressPidFile(dir: string): string {
  return join(dir, 'slirp.pid');
}

async function startEgress(dir: string, ns: string, slirpPath: string): Promise<void> {
  await run('nsenter', [`--net=${ns}`, nftPath(), '-f', '-'], NFT_BASE);
  await run('nsenter', [`--net=${ns}`, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  const log = openSync(join(dir, 'slirp.log'), 'w', 0o600);
  const child = spawn(
    slirpPath,
    // The API socket (published ports) by a name relative to the directory: sun_path is short.
    ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', `--api-socket=${SHARED_API_SOCKET}`, '--netns-type=path', ns, 'tap0'],
    { detached: true, cwd: dir, stdio: ['ignore', log, log, 'pipe'] },
  );
  closeSync(log);
  const ready = child.stdio[3] as Readable;
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('slirp4netns did not become ready')), 10_000);
      ready.once('data', () => {
        clearTimeout(t);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`slirp4netns exited (${code}) before it was ready`));
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    ready.destroy();
    child.unref();
  }
  if (child.pid) writeFileSync(egressPidFile(dir), `${child.pid}\n`);
  // Published ports: slirp4netns sends a forwarded connection to the container's bridge address
  // through tap0, and asks (ARP) for that address there: the namespace answers for what it routes.
  await run('nsenter', [`--net=${ns}`, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/tap0/proxy_arp']).catch(() => {});
}

const SHARED_API_SOCKET = 'slirp.sock';

/** The egress slirp4netns's API socket (published ports of containers on user networks). */
export function sharedApiSocket(runRoot: string): string {
  return join(sharedNetnsDir(runRoot), SHARED_API_SOCKET);
}

function stopEgress(dir: string, ns: string): void {
  try {
    const pid = Number(readFileSync(egressPidFile(dir), 'utf8').trim());
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(ns)) process.kill(pid, 'SIGKILL');
  } catch {
    /* not running */
  }
}

/** Removes the shared namespace (no network left). Call under the lock that guards ensureSharedNetns. */
export async function removeSharedNetns(runRoot: string): Promise<void> {
  const dir = sharedNetnsDir(runRoot);
  const ns = sharedNetnsPath(runRoot);
  stopEgress(dir, ns);
  if (existsSync(ns) && isMounted(ns)) await run('umount', ['-l', ns]).catch(() => {});
  if (existsSync(dir) && isMounted(dir)) await run('umount', ['-l', dir]).catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}

export interface BridgeSpec {
  internal?: boolean;
  iface: string;
  gateway: string;
  prefix: number;
}

/** The network's bridge in the shared namespace, created if missing. */
export async function ensureBridge(ns: string, b: BridgeSpec): Promise<void> {
  const have = await run('nsenter', [`--net=${ns}`, 'ip', '-o', 'link', 'show', 'dev', b.iface]).catch(() => '');
  if (have) return;
  await run('nsenter', [`--net=${ns}`, 'ip', '-batch', '-'], `link add ${b.iface} type bridge\naddr add ${b.gateway}/${b.prefix} dev ${b.iface}\nlink set ${b.iface} up\n`);
  // With egress (the tspod table exists): members of one bridge talk (br_netfilter, when the host
  // has it loaded, sends bridged frames through the forward hook too); non-internal ones go out.
  // From tap0, new connections are only what slirp4netns forwards: published ports.
  const rules = `add rule ip tspod forward iifname "${b.iface}" oifname "${b.iface}" accept\n${
    b.internal ? '' : `add rule ip tspod forward iifname "${b.iface}" oifname "tap0" accept\nadd rule ip tspod forward iifname "tap0" oifname "${b.iface}" accept\n`
  }`;
  await run('nsenter', [`--net=${ns}`, nftPath(), '-f', '-'], rules).catch(() => {});
}

/** Removes a network's bridge (the veths enslaved to it go with their containers). */
export async function removeBridge(runRoot: string, iface: string): Promise<void> {
  const ns = sharedNetnsPath(runRoot);
  if (!existsSync(ns) || !isMounted(ns)) return;
  await run('nsenter', [`--net=${ns}`, 'ip', 'link', 'del', iface]).catch(() => {});
}

export interface Attachment {
  bridge: BridgeSpec;
  ip: string;
  /** Interface name inside the container (eth0, eth1...). */
  ifname: string;
  /** Host-side (shared namespace) veth name, unique per container and network, at most 15 bytes. */
  peer: string;
  defaultRoute: boolean;
}

/** Wires the container's network namespace (a file: the monitor's bind mount) to the bridges. */
export async function attachContainer(shared: string, ctrNs: string, atts: Attachment[]): Promise<void> {
  let inCtr = 'link set lo up\n';
  let inShared = '';
  for (const a of atts) {
    await run('nsenter', [`--net=${ctrNs}`, 'ip', 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', a.peer]);
    await run('nsenter', [`--net=${ctrNs}`, 'ip', 'link', 'set', a.peer, 'netns', shared]);
    inShared += `link set ${a.peer} master ${a.bridge.iface}\nlink set ${a.peer} up\n`;
    inCtr += `addr add ${a.ip}/${a.bridge.prefix} dev ${a.ifname}\nlink set ${a.ifname} up\n`;
    if (a.defaultRoute) inCtr += `route add default via ${a.bridge.gateway} dev ${a.ifname}\n`;
  }
  if (inShared) await run('nsenter', [`--net=${shared}`, 'ip', '-batch', '-'], inShared);
  await run('nsenter', [`--net=${ctrNs}`, 'ip', '-batch', '-'], inCtr);
}
