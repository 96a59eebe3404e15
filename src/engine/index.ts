// The core API: one method per verb, shared by the CLI and (later) the REST API.
// Never imports yargs, never writes to stdout, never exits the process.
import type { GlobalOptions } from '../cli/globals.js';
import { Store, diskUsage } from '../storage/store.js';
import { join } from 'node:path';
import { ContainerStore, type ContainerRecord } from '../storage/containers.js';
import * as life from './lifecycle.js';
import { inspectContainer } from './container-inspect.js';
import { createContainer, type CreateOptions } from './create.js';
import { lookupContainer, syncStates, renameContainer } from './containers.js';
import { createContext, type EngineContext } from './context.js';
import { loadRegistriesConf, type RegistriesConf } from '../image/registries.js';
import * as images from './images.js';
import { getCredentials, removeAllCredentials, removeCredentials } from '../image/auth.js';
import { inspectImage, imageHistory, type HistoryEntry, type ImageInspect } from './image-inspect.js';
import type { PullOptions, PullEvent, PullResult } from './pull.js';
import { systemInfo, versionInfo, type VersionInfo } from './system.js';

export type { PullOptions, PullEvent, PullResult, HistoryEntry, ImageInspect, VersionInfo };
export type { ImageSummary, RemoveReport } from './images.js';

export class Engine {
  private storeCache?: Store;
  private registriesCache?: RegistriesConf;
  private containerCache?: ContainerStore;

  private constructor(readonly ctx: EngineContext) {}

  static async open(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
    return new Engine(await createContext(globals, env));
  }

  /** The store, opened on first use. Opening creates the directories, so read-only verbs still call it. */
  store(): Store {
    this.storeCache ??= Store.open({ graphRoot: this.ctx.graphRoot, runRoot: this.ctx.runRoot });
    return this.storeCache;
  }

  containers(): ContainerStore {
    this.containerCache ??= new ContainerStore(this.store());
    return this.containerCache;
  }

  registries(): RegistriesConf {
    this.registriesCache ??= loadRegistriesConf({ path: this.ctx.registriesConf, env: this.ctx.env });
    return this.registriesCache;
  }

  /** Registries short names are looked up in, for local lookups. */
  private searchRegistries(): string[] {
    try {
      const usr = this.registries().unqualifiedSearchRegistries;
      return usr.length ? usr : ['docker.io'];
    } catch {
      return ['docker.io'];
    }
  }

  // ---- images ------------------------------------------------------------------------------

  async pull(name: string, opts: PullOptions, onEvent?: (e: PullEvent) => void): Promise<PullResult> {
    const { pullImage } = await import('./pull.js');
    return pullImage(this, name, opts, onEvent);
  }

  listImages(opts: { all: boolean; filters: string[] }): images.ImageSummary[] {
    return images.listImages(this.store(), opts);
  }

  lookupImage(input: string): images.ImageSummary {
    return images.summarize(this.store(), images.lookupImage(this.store(), input, this.searchRegistries()));
  }

  imageExists(input: string): boolean {
    return images.findImage(this.store().images(), input, this.searchRegistries()) !== undefined;
  }

  inspectImages(inputs: string[]): { found: ImageInspect[]; errors: Error[] } {
    const found: ImageInspect[] = [];
    const errors: Error[] = [];
    for (const input of inputs) {
      try {
        found.push(inspectImage(this.store(), images.lookupImage(this.store(), input, this.searchRegistries()), this.storageDriverName()));
      } catch (e) {
        errors.push(e as Error);
      }
    }
    return { found, errors };
  }

  imageHistory(input: string): HistoryEntry[] {
    return imageHistory(this.store(), images.lookupImage(this.store(), input, this.searchRegistries()));
  }

  tagImage(input: string, names: string[]): Promise<void> {
    return images.tagImage(this.store(), input, names, this.searchRegistries());
  }

  untagImage(input: string, names: string[]): Promise<string[]> {
    return images.untagImage(this.store(), input, names, this.searchRegistries());
  }

  async removeImages(inputs: string[], opts: { force: boolean; all: boolean }): Promise<images.RemoveReport> {
    if (opts.force) {
      // podman rmi -f removes the containers that use the image first.
      const ids = new Set<string>();
      for (const input of opts.all ? this.store().images().map((i) => i.id) : inputs) {
        try {
          ids.add(images.lookupImage(this.store(), input, this.searchRegistries()).id);
        } catch {
          /* reported by removeImages */
        }
      }
      for (const c of this.containers().list()) {
        if (ids.has(c.imageId)) await this.removeContainer(c.id, { force: true, volumes: false, time: 0 });
      }
    }
    return images.removeImages(this.store(), inputs, { ...opts, search: this.searchRegistries(), inUse: (id) => this.imageUsers(id) });
  }

  /** `build`: runs a Containerfile; resolves to the image ID (src/build/builder.ts). */
  async build(opts: import('../build/builder.js').BuildOptions): Promise<string> {
    const { build } = await import('../build/builder.js');
    return build(this, opts);
  }

  pruneImages(opts: { all: boolean; filters: string[] }): Promise<string[]> {
    return images.pruneImages(this.store(), { ...opts, inUse: (id) => this.imageUsers(id) });
  }

  // ---- distribution: push, save/load, import, commit (push.ts, archive*.ts, import.ts, commit.ts)

  async push(
    input: string,
    destination: string | undefined,
    opts: Omit<import('./push.js').PushOptions, 'searchRegistries'>,
    onEvent?: (e: import('./push.js').PushEvent) => void,
  ): Promise<import('./push.js').PushResult> {
    return (await import('./push.js')).pushImage(this, input, destination, { ...opts, searchRegistries: this.searchRegistries() }, onEvent);
  }

  async saveImages(inputs: string[], opts: Omit<import('./archive.js').SaveOptions, 'search'>): Promise<void> {
    return (await import('./archive.js')).saveImages(this, inputs, { ...opts, search: this.searchRegistries() });
  }

  /** Loads the images of an archive (file, OCI layout directory or stream); returns their names. */
  async loadImages(input: string | import('node:stream').Readable): Promise<string[]> {
    return (await import('./archive.js')).loadImages(this, input);
  }

  /** Imports a tarball (file, URL or stream) as a one-layer image; returns its ID. */
  async importImage(source: string | import('node:stream').Readable, reference: string | undefined, opts: import('./import.js').ImportOptions): Promise<string> {
    return (await import('./import.js')).importImage(this, source, reference, opts);
  }

  /** A new image from a container's changes; returns its ID. */
  async commitContainer(input: string, reference: string | undefined, opts: import('./commit.js').CommitOptions): Promise<string> {
    return (await import('./commit.js')).commitContainer(this, input, reference, opts);
  }

  // ---- containers --------------------------------------------------------------------------

  createContainer(opts: CreateOptions, onPull?: (e: PullEvent) => void): Promise<ContainerRecord> {
    return createContainer(this, opts, onPull);
  }

  /** Starts a container; with io, attaches first and resolves to its exit code (undefined: detached). */
  startContainer(input: string, io?: life.AttachIO): Promise<number | undefined> {
    return life.startContainer(this, input, io);
  }

  attachContainer(input: string, io: life.AttachIO): Promise<number | undefined> {
    return life.attachContainer(this, input, io);
  }

  /** Runs a process in a running container; with io, attached (resolves when it exits). */
  async execContainer(input: string, opts: import('./exec.js').ExecOptions, io?: life.AttachIO): Promise<import('./exec.js').ExecResult> {
    const { execContainer } = await import('./exec.js');
    return execContainer(this, input, opts, io);
  }

  /** The processes of a running container, read from the host's /proc. */
  async topContainer(input: string, descriptors: string[]): Promise<import('./top.js').TopResult> {
    const { topContainer } = await import('./top.js');
    return topContainer(this, input, descriptors);
  }

  stopContainer(input: string, timeout?: number): Promise<ContainerRecord> {
    return life.stopContainer(this, input, timeout);
  }

  killContainer(input: string, signal: string): Promise<ContainerRecord> {
    return life.killContainer(this, input, signal);
  }

  waitContainer(input: string): Promise<number> {
    return life.waitExitCode(this, input);
  }

  removeContainer(input: string, opts: { force: boolean; volumes: boolean; time?: number }): Promise<string> {
    return life.removeContainer(this, input, opts);
  }

  cleanupContainer(input: string, rm: boolean): Promise<void> {
    return life.cleanupContainer(this, input, { rm, fromExit: true });
  }

  /** All containers, with their state reconciled against the processes and exit files. */
  listContainers(): Promise<ContainerRecord[]> {
    return syncStates(this.containers());
  }

  async lookupContainer(input: string): Promise<ContainerRecord> {
    await syncStates(this.containers());
    return lookupContainer(this.containers(), input);
  }

  containerExists(input: string): boolean {
    try {
      lookupContainer(this.containers(), input);
      return true;
    } catch {
      return false;
    }
  }

  renameContainer(input: string, name: string): Promise<void> {
    return renameContainer(this.containers(), input, name);
  }

  async inspectContainer(input: string): Promise<Record<string, unknown>> {
    const c = await this.lookupContainer(input);
    const img = this.store().images().find((i) => i.id === c.imageId);
    return inspectContainer(this.containers(), c, img?.names[0] ?? c.imageName);
  }

  // ---- container file systems (src/engine/fs*.ts) and pause/stats/prune (container-ops.ts) ---

  async mountContainer(input: string): Promise<string> {
    return (await import('./fs.js')).mountContainer(this, input);
  }

  async listMountedContainers(): Promise<Array<{ id: string; names: string[]; mountpoint: string }>> {
    return (await import('./fs.js')).listMounted(this);
  }

  async unmountContainer(input: string, force: boolean): Promise<string> {
    return (await import('./fs.js')).unmountContainer(this, input, force);
  }

  async unmountAllContainers(force: boolean): Promise<string[]> {
    return (await import('./fs.js')).unmountAll(this, force);
  }

  /** A tar of the container's filesystem to `out` (given its fd, tar writes there directly). */
  async exportContainer(input: string, out: import('./fs.js').TarSink): Promise<void> {
    return (await import('./fs.js')).exportContainer(this, input, out);
  }

  async copy(src: string, dest: string, opts: import('./fs-cp.js').CpOptions): Promise<void> {
    return (await import('./fs-cp.js')).copy(this, src, dest, opts);
  }

  async diff(input: string): Promise<import('./fs-diff.js').Change[]> {
    return (await import('./fs-diff.js')).diff(this, input, this.searchRegistries());
  }

  async pauseContainer(input: string, resume: boolean): Promise<string> {
    const ops = await import('./container-ops.js');
    return resume ? ops.unpauseContainer(this, input) : ops.pauseContainer(this, input);
  }

  async containersInState(status: 'running' | 'paused'): Promise<string[]> {
    return (await import('./container-ops.js')).containersInState(this, status);
  }

  async checkStats(): Promise<void> {
    (await import('./container-ops.js')).checkStats(this);
  }

  async pruneContainers(filters: string[]): Promise<import('./container-ops.js').PruneReport> {
    return (await import('./container-ops.js')).pruneContainers(this, filters);
  }

  /** Bytes in a container's writable layer (ps -s). */
  containerDiskUsage(id: string): number {
    return diskUsage(join(this.containers().dir(id), 'diff'));
  }

  logPath(id: string): string {
    return life.logPath(this.containers(), id);
  }

  /** Names of containers whose image is `id` (rmi refuses those without -f). */
  imageUsers(id: string): string[] {
    return this.containers()
      .list()
      .filter((c) => c.imageId === id)
      .map((c) => c.id.slice(0, 12));
  }

  // ---- volumes ----------------------------------------------------------------------------

  async ensureVolume(name?: string): Promise<{ name: string; mountpoint: string }> {
    const v = await import('./volumes.js');
    return v.ensureVolume(this.store(), name);
  }

  volumeUsers(name: string): string[] {
    return this.containers()
      .list()
      .filter((c) => c.config.mounts.some((m) => m.type === 'volume' && m.name === name))
      .map((c) => c.id);
  }

  // ---- registries --------------------------------------------------------------------------

  async login(registry: string, opts: { username: string; password: string; authfile?: string; tlsVerify?: boolean }): Promise<string> {
    const { login } = await import('./login.js');
    return login(this, registry, opts);
  }

  logout(registry: string | undefined, authfile?: string): string {
    return registry === undefined
      ? removeAllCredentials({ authfile, env: this.ctx.env })
      : removeCredentials(registry, { authfile, env: this.ctx.env });
  }

  currentLogin(registry: string, authfile?: string): string | undefined {
    const c = getCredentials(registry, { authfile, env: this.ctx.env });
    return c && 'username' in c ? c.username : undefined;
  }

  // ---- system ------------------------------------------------------------------------------

  version(): Promise<VersionInfo> {
    return versionInfo(this.ctx);
  }

  /** `info`: host, store and registries. Runs outside the user namespace, so it only reads the store. */
  async info(): Promise<Record<string, unknown>> {
    let store: Store | undefined;
    try {
      store = this.store();
    } catch {
      /* not created yet */
    }
    let regs: RegistriesConf | undefined;
    try {
      regs = this.registries();
    } catch {
      /* shown as empty */
    }
    return systemInfo(this.ctx, store, regs);
  }

  async unshare(command: string[]): Promise<number> {
    const { runUnshare } = await import('../userns/unshare.js');
    return runUnshare(this.ctx, command);
  }

  storageDriverName(): string {
    return this.ctx.storageDriver ?? 'overlay';
  }
}
