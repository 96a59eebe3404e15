// The shape every subcommand module has: flags declared once as data, a run() that turns typed
// arguments into one engine call, and returns what to print. Only src/cli prints and exits.
import type { Readable, Writable } from 'node:stream';
import type { GlobalOptions } from './globals.js';
import type { Engine } from '../engine/index.js';

export type FlagType = 'boolean' | 'string' | 'number' | 'array' | 'count';

export interface FlagSpec {
  type: FlagType;
  alias?: string | string[];
  describe: string;
  default?: unknown;
  choices?: readonly string[];
  hidden?: boolean;
  /** Value placeholder shown in --help (e.g. "string", "format"). */
  placeholder?: string;
}

export interface PositionalSpec {
  name: string;
  describe: string;
  required?: boolean;
  /** Takes every remaining word (e.g. `rmi IMAGE...`, `unshare [COMMAND...]`). */
  variadic?: boolean;
}

export interface Context {
  stdout: Writable & { isTTY?: boolean; columns?: number };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  stdin: Readable & { isTTY?: boolean };
  globals: GlobalOptions;
  /** The engine, created on first use (loading it costs; `--help` never does). */
  engine(): Promise<Engine>;
}

export interface CommandResult {
  /** Text for stdout, printed as is (add the trailing newline yourself). */
  stdout?: string;
  exitCode?: number;
}

export interface CommandSpec<A = Record<string, unknown>> {
  describe: string;
  positionals?: PositionalSpec[];
  flags?: Record<string, FlagSpec>;
  examples?: Array<[string, string]>;
  /** Stop parsing flags at the first positional after the required ones (run, exec, unshare). */
  haltAtNonOption?: boolean;
  run(args: A & { _: string[] }, ctx: Context): Promise<CommandResult | void>;
}

export function defineCommand<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}
