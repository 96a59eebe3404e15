// containers.conf: shipped defaults, then system, then user, then CONTAINERS_CONF; later files
// override earlier ones key by key within a table. A syntax error names the file and line.
import { readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { TspodError } from '../errors.js';
import { parseTomlFileCached } from '../util/toml.js';

export interface ContainersConf {
  containers: Record<string, unknown>;
  engine: Record<string, unknown>;
  network: Record<string, unknown>;
  /** tspod extension: graphroot, runroot, driver. */
  storage: Record<string, unknown>;
  /** Files that were read, in order. */
  files: string[];
}

function parseToml(path: string, env: NodeJS.ProcessEnv): Record<string, unknown> | undefined {
  try {
    return parseTomlFileCached(path, env);
  } catch (e) {
    const err = e as { line?: number; col?: number; message?: string; code?: string };
    if (err.code !== undefined && err.line === undefined) {
      throw new TspodError('config', `reading ${path}: ${err.message ?? e}`);
    }
    const where = err.line !== undefined ? `:${err.line + 1}` : '';
    const first = String(err.message ?? e).split('\n')[0];
    throw new TspodError('config', `parsing ${path}${where}: ${first}`, { hint: `Fix the syntax of ${path}` });
  }
}

function dropIns(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.conf'))
      .sort()
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** The shipped containers.conf next to the installed bundle (dist/../containers.conf). */
export function shippedConfPath(env: NodeJS.ProcessEnv = process.env): string {
  try {
    // dist/main.cjs (or a chunk below dist/) → the install root holds containers.conf.
    const main = realpathSync(process.argv[1] ?? process.cwd());
    return join(env.TSPOD_HOME ?? join(dirname(main), '..'), 'containers.conf');
  } catch {
    return '';
  }
}

export function configSearchPath(env: NodeJS.ProcessEnv = process.env, rootless = true): string[] {
  if (env.CONTAINERS_CONF) return [shippedConfPath(env), env.CONTAINERS_CONF];
  const home = env.HOME ?? homedir();
  const userDir = join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'containers');
  const files = [
    shippedConfPath(env),
    '/usr/share/containers/containers.conf',
    ...dropIns('/usr/share/containers/containers.conf.d'),
    '/etc/containers/containers.conf',
    ...dropIns('/etc/containers/containers.conf.d'),
  ];
  if (rootless) files.push(join(userDir, 'containers.conf'), ...dropIns(join(userDir, 'containers.conf.d')));
  return files;
}

export async function loadContainersConf(env: NodeJS.ProcessEnv = process.env, rootless = true): Promise<ContainersConf> {
  const conf: ContainersConf = { containers: {}, engine: {}, network: {}, storage: {}, files: [] };
  const paths = configSearchPath(env, rootless).filter(Boolean);
  for (const path of paths) {
    const doc = parseToml(path, env);
    if (doc === undefined) continue;
    for (const table of ['containers', 'engine', 'network', 'storage'] as const) {
      const t = doc[table];
      if (t && typeof t === 'object') Object.assign(conf[table], t);
    }
    conf.files.push(path);
  }
  return conf;
}
