// Everything an engine call needs to know about where it runs: rootless or not, the user's ids
// outside the namespace, the store paths, the loaded containers.conf, where helper binaries live.
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { homedir } from 'node:os';
import type { GlobalOptions } from '../cli/globals.js';
import { loadContainersConf, type ContainersConf } from './config.js';

export interface EngineContext {
  rootless: boolean;
  /** Inside tspod's user namespace (the launcher joined it). */
  inUserns: boolean;
  /** The invoking user's uid/gid on the host. */
  hostUid: number;
  hostGid: number;
  graphRoot: string;
  runRoot: string;
  /** $XDG_RUNTIME_DIR or its fallback; auth.json and the pause pid file live below it. */
  runtimeDir: string;
  storageDriver?: string;
  runtime?: string;
  conf: ContainersConf;
  env: NodeJS.ProcessEnv;
  /** The install root: holds dist/, build/ (native helpers) and the shipped containers.conf. */
  installRoot: string;
  registriesConf?: string;
}

export function installRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSPOD_HOME) return env.TSPOD_HOME;
  const main = process.argv[1] ? realpathSync(process.argv[1]) : process.cwd();
  return resolve(dirname(main), '..');
}

export function helperPath(ctx: Pick<EngineContext, 'installRoot' | 'env'>, name: string): string {
  return ctx.env.TSPOD_LIBEXEC ? join(ctx.env.TSPOD_LIBEXEC, name) : join(ctx.installRoot, 'build', name);
}

/**
 * The environment as the user gave it: the launcher hands NODE_EXTRA_CA_CERTS over as
 * _TSPOD_EXTRA_CA_CERTS (so that node does not load it at every start); processes tspod starts
 * (the monitor, its exit command, --env-host containers) see the original variable again.
 */
function withExtraCaRestored(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env._TSPOD_EXTRA_CA_CERTS === undefined || env.NODE_EXTRA_CA_CERTS !== undefined) return env;
  return { ...env, NODE_EXTRA_CA_CERTS: env._TSPOD_EXTRA_CA_CERTS };
}

export async function createContext(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Promise<EngineContext> {
  const uid = process.getuid?.() ?? 0;
  const rootless = env._TSPOD_ROOTLESS !== undefined ? env._TSPOD_ROOTLESS === '1' : uid !== 0;
  const hostUid = env._TSPOD_ROOTLESS_UID ? Number(env._TSPOD_ROOTLESS_UID) : uid;
  const hostGid = env._TSPOD_ROOTLESS_GID ? Number(env._TSPOD_ROOTLESS_GID) : (process.getgid?.() ?? 0);
  const conf = await loadContainersConf(env, rootless);
  const home = env.HOME ?? homedir();
  const runtimeDir = env._TSPOD_RUNTIME_DIR ?? env.XDG_RUNTIME_DIR ?? `/tmp/tspod-run-${hostUid}`;
  const dataHome = env.XDG_DATA_HOME ?? join(home, '.local', 'share');
  const confStorage = conf.storage as { graphroot?: string; runroot?: string; driver?: string };
  const graphRoot = globals.root ?? confStorage.graphroot ?? (rootless ? join(dataHome, 'tspod', 'storage') : '/var/lib/tspod/storage');
  const runRoot = globals.runroot ?? confStorage.runroot ?? (rootless ? join(runtimeDir, 'tspod') : '/run/tspod');
  return {
    rootless,
    inUserns: env._TSPOD_USERNS === '1',
    hostUid,
    hostGid,
    graphRoot: resolve(graphRoot),
    runRoot: resolve(runRoot),
    runtimeDir,
    storageDriver: globals.storageDriver ?? env.TSPOD_STORAGE_DRIVER ?? (confStorage.driver || undefined),
    runtime: globals.runtime ?? ((conf.engine.runtime as string | undefined) || undefined),
    conf,
    env: withExtraCaRestored(env),
    installRoot: installRoot(env),
    registriesConf: globals.registriesConf,
  };
}
