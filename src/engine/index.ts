// The core API: one method per verb, shared by the CLI and (later) the REST API.
// Never imports yargs, never writes to stdout, never exits the process.
import type { GlobalOptions } from '../cli/globals.js';
import { Store } from '../storage/store.js';
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

  private constructor(readonly ctx: EngineContext) {}

  static async open(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
    return new Engine(await createContext(globals, env));
  }

  /** The store, opened on first use. Opening creates the directories, so read-only verbs still call it. */
  store(): Store {
    this.storeCache ??= Store.open({ graphRoot: this.ctx.graphRoot, runRoot: this.ctx.runRoot });
    return this.storeCache;
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

  removeImages(inputs: string[], opts: { force: boolean; all: boolean }): Promise<images.RemoveReport> {
    return images.removeImages(this.store(), inputs, { ...opts, search: this.searchRegistries(), inUse: () => [] });
  }

  pruneImages(opts: { all: boolean; filters: string[] }): Promise<string[]> {
    return images.pruneImages(this.store(), { ...opts, inUse: () => [] });
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
