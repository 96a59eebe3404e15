// Global (persistent) flags, accepted before or after the subcommand as Podman does.
import type { FlagSpec } from './command.js';

export interface GlobalOptions {
  root?: string;
  runroot?: string;
  storageDriver?: string;
  runtime?: string;
  logLevel: string;
  registriesConf?: string;
}

export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  root: { type: 'string', describe: 'Path to the graph root directory where images and containers are stored', placeholder: 'path' },
  runroot: { type: 'string', describe: 'Path to the run root directory where state is kept', placeholder: 'path' },
  'storage-driver': { type: 'string', describe: 'Select which storage driver is used (overlay, fuse-overlayfs, vfs)', placeholder: 'driver' },
  runtime: { type: 'string', describe: 'Path or name of the OCI runtime (crun, runc)', placeholder: 'runtime' },
  'log-level': { type: 'string', describe: 'Log messages at and above the given level', default: 'warn', choices: ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'] },
  'registries-conf': { type: 'string', describe: 'Path to a registries.conf file (also CONTAINERS_REGISTRIES_CONF)', placeholder: 'path', hidden: true },
};

/** Global flags that take a value; the native launcher keeps its own copy of this list (keep in sync with src/native/launcher/main.c). */
export const GLOBAL_VALUE_FLAGS = Object.entries(GLOBAL_FLAGS)
  .filter(([, f]) => f.type !== 'boolean' && f.type !== 'count')
  .map(([k]) => `--${k}`);

export function globalsFrom(argv: Record<string, unknown>): GlobalOptions {
  return {
    root: argv.root as string | undefined,
    runroot: argv.runroot as string | undefined,
    storageDriver: argv['storage-driver'] as string | undefined,
    runtime: argv.runtime as string | undefined,
    logLevel: (argv['log-level'] as string | undefined) ?? 'warn',
    registriesConf: argv['registries-conf'] as string | undefined,
  };
}
