// containers.conf: shipped defaults, then system, then user, then CONTAINERS_CONF; later files
// override earlier ones key by key within a table. A syntax error names the file and line.
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { TspodError } from '../errors.js';
import { parseTomlCached } from '../util/toml.js';

export interface ContainersConf {
  containers: Record<string, unknown>;
  engine: Record<string, unknown>;
  network: Record<string, unknown>;
  /** tspod extension: graphroot, runroot, driver. */
  storage: Record<string, unknown>;
  /** Files that were read, in order. */
  files: string[];
}

function parseToml(path: string, text: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  try {
    return parseTomlCached(text, env);
  } catch (e) {
    const err = e as { line?: number; col?: number; message?: string };
    const where = err.line !== undefined ? `:${err.line + 1}` : '';
    const first = String(err.message ?? e).split('\n')[0];
    throw new TspodError('config', `parsing ${path}${where}: ${first}`, { hint: `Fix the syntax of ${path}` });
  }
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TspodError('config', `reading ${path}: ${(e as Error).message}`);
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
  const texts = paths.map((p) => [p, readIfExists(p)] as const).filter((x): x is readonly [string, string] => x[1] !== undefined);
  if (texts.length === 0) return conf;
  for (const [path, text] of texts) {
    const doc = parseToml(path, text, env);
    for (const table of ['containers', 'engine', 'network', 'storage'] as const) {
      const t = doc[table];
      if (t && typeof t === 'object') Object.assign(conf[table], t);
    }
    conf.files.push(path);
  }
  return conf;
}
