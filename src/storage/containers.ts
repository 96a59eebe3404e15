// The container store: containers.json (records, replaced atomically under the store lock) plus a
// directory per container for its writable layer and the files the runtime needs. Runtime state
// that dies with a reboot (sockets, exit files, runc's state) lives under the run root.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, writeFileAtomic } from './atomic.js';
import type { Store } from './store.js';
import { removeTree } from '../util/remove.js';

export type ContainerStatus = 'configured' | 'created' | 'running' | 'paused' | 'stopped' | 'exited' | 'removing';

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  monitorPid: number;
  exitCode: number;
  startedAt?: string;
  finishedAt?: string;
  /** Times started; restart policy counts from it. */
  restartCount: number;
  /** Set by stop/kill so the restart policy does not bring it back. */
  stoppedByUser?: boolean;
  error?: string;
  /** The network helper (slirp4netns, pasta) of the current run; its monitor kills it at exit. */
  netHelperPid?: number;
}

export interface MountSpec {
  type: 'bind' | 'volume' | 'tmpfs';
  source: string;
  destination: string;
  options: string[];
  /** For named volumes. */
  name?: string;
}

export interface ContainerConfig {
  /** The command as the user gave it (empty: the image's). */
  command: string[];
  entrypoint?: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty: boolean;
  interactive: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  stopSignal?: string;
  stopTimeout: number;
  autoRemove: boolean;
  restartPolicy: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maxRetries: number };
  mounts: MountSpec[];
  readOnly: boolean;
  init: boolean;
  network: string;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  ulimits: string[];
  shmSize?: number;
  devices: string[];
  groupAdd: string[];
  userns?: string;
  logDriver: 'k8s-file' | 'none' | 'passthrough';
  logMaxSize?: number;
  runtime?: string;
  detachKeys?: string;
  /** The full CLI arguments that created it (podman's CreateCommand). */
  createCommand: string[];
  /** Published ports, host ports chosen at create (src/network/ports.ts PortMapping). */
  portMappings?: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: 'tcp' | 'udp'; range: number }>;
  /** --expose, as "80/tcp". */
  exposedPorts?: string[];
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  /** --add-host HOST:IP */
  addHost?: string[];
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** What the user typed. */
  imageName: string;
  imageId: string;
  created: string;
  config: ContainerConfig;
  state: ContainerState;
  /** The resolved process args/env/cwd/user as last given to the runtime, for inspect. */
  resolved?: { args: string[]; env: string[]; cwd: string; user: string };
}

export class ContainerStore {
  constructor(readonly store: Store) {}

  private get file(): string {
    return join(this.store.graphRoot, 'containers.json');
  }

  /** Persistent per-container directory: the writable layer (diff, work, merged) and userdata. */
  dir(id: string): string {
    return join(this.store.graphRoot, 'containers', id);
  }

  /** Volatile per-container directory under the run root: sockets, exit file, bundle. */
  runDir(id: string): string {
    return join(this.store.runRoot, 'containers', id);
  }

  list(): ContainerRecord[] {
    return readJson<{ version: 1; items: ContainerRecord[] }>(this.file, { version: 1, items: [] }).items;
  }

  get(id: string): ContainerRecord | undefined {
    return this.list().find((c) => c.id === id);
  }

  update<T>(fn: (items: ContainerRecord[]) => T): Promise<T> {
    return this.store.withStoreLock(() => {
      const items = this.list();
      const r = fn(items);
      writeFileAtomic(this.file, JSON.stringify({ version: 1, items }));
      return r;
    });
  }

  /** Changes one container's record; returns the new record (undefined if it is gone). */
  modify(id: string, fn: (c: ContainerRecord) => void): Promise<ContainerRecord | undefined> {
    return this.update((items) => {
      const c = items.find((x) => x.id === id);
      if (c) fn(c);
      return c;
    });
  }

  ensureDirs(id: string): void {
    mkdirSync(join(this.dir(id), 'diff'), { recursive: true, mode: 0o755 });
    mkdirSync(join(this.dir(id), 'work'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir(id), 'merged'), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir(id), 'userdata'), { recursive: true, mode: 0o700 });
    mkdirSync(this.runDir(id), { recursive: true, mode: 0o700 });
  }

  removeDirs(id: string): void {
    removeTree(this.dir(id));
    removeTree(this.runDir(id));
  }

  /** Directories of containers with no record (a create that died before recording). */
  orphanDirs(): string[] {
    let names: string[] = [];
    try {
      names = readdirSync(join(this.store.graphRoot, 'containers'));
    } catch {
      return [];
    }
    const ids = new Set(this.list().map((c) => c.id));
    return names.filter((n) => !ids.has(n));
  }
}
