// The one place that parses argv, runs a command module, prints its result and sets the exit code.
import { COMMANDS, GROUPS, type CommandEntry } from '../commands/index.js';
import { TspodError, asTspodError, formatError, EXIT_ENGINE } from '../errors.js';
import { GLOBAL_FLAGS, globalsFrom } from './globals.js';
import type { CommandSpec, Context, FlagSpec } from './command.js';
import { VERSION } from '../version.js';
import { trace } from '../util/trace.js';
import { fastParse } from './fast-parse.js';

interface Located {
  entry: CommandEntry;
  path: string;
  /** argv with the command words removed. */
  rest: string[];
}

const GLOBAL_VALUE = new Set(
  Object.entries(GLOBAL_FLAGS)
    .filter(([, f]) => f.type !== 'boolean')
    .map(([k]) => `--${k}`),
);

/** Finds the subcommand words in argv, skipping global flags that come before them. */
export function locate(argv: string[]): Located | { group?: string; rest: string[] } {
  const words: number[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (words.length > 0) break; // flags of the command itself
      if (GLOBAL_VALUE.has(a)) i++;
      continue;
    }
    words.push(i);
    if (!(a in GROUPS)) break;
  }
  const w = words.map((i) => argv[i]!);
  const candidates = w.length === 2 ? [`${w[0]} ${w[1]}`, w[0]!] : w.length === 1 ? [w[0]!] : [];
  for (const path of candidates) {
    const entry = COMMANDS.find((c) => c.paths.includes(path));
    if (entry) {
      const used = path.includes(' ') ? words : words.slice(0, 1);
      const rest = argv.filter((_, i) => !used.includes(i));
      return { entry, path, rest };
    }
  }
  if (w.length >= 1 && w[0]! in GROUPS) {
    return { group: w[0], rest: argv.filter((_, i) => i !== words[0]) };
  }
  return { rest: argv };
}

function topHelp(): string {
  const lines = ['Manage pods, containers and images', '', 'Usage:', '  tspod [options] [command]', '', 'Available Commands:'];
  const seen = new Set<string>();
  for (const g of Object.keys(GROUPS)) {
    if (COMMANDS.some((c) => c.paths.some((p) => p.startsWith(`${g} `)))) {
      lines.push(`  ${g.padEnd(16)}${GROUPS[g]}`);
    }
  }
  for (const c of COMMANDS) {
    const top = c.paths.find((p) => !p.includes(' '));
    if (!top || seen.has(top)) continue;
    seen.add(top);
    lines.push(`  ${top.padEnd(16)}${c.describe}`);
  }
  lines.push('', 'Options:');
  for (const [k, f] of Object.entries(GLOBAL_FLAGS)) {
    if (!f.hidden) lines.push(`      --${k.padEnd(20)}${f.describe}`);
  }
  lines.push('  -v, --version               Print the version', '  -h, --help                  Help for tspod', '');
  return lines.join('\n');
}

function groupHelp(group: string): string {
  const lines = [`${GROUPS[group]}`, '', 'Usage:', `  tspod ${group} [command]`, '', 'Available Commands:'];
  for (const c of COMMANDS) {
    const sub = c.paths.filter((p) => p.startsWith(`${group} `)).map((p) => p.slice(group.length + 1));
    if (sub.length) lines.push(`  ${sub[0]!.padEnd(16)}${c.describe}`);
  }
  return `${lines.join('\n')}\n`;
}

function yargsOption(f: FlagSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { describe: f.describe, hidden: f.hidden };
  if (f.alias) o.alias = f.alias;
  if (f.default !== undefined) o.default = f.default;
  if (f.choices) o.choices = f.choices;
  if (f.type === 'array') {
    o.type = 'string';
    o.array = true;
    o.requiresArg = true;
  } else if (f.type === 'count') o.count = true;
  else o.type = f.type;
  if (f.type === 'string' || f.type === 'number') o.requiresArg = true;
  return o;
}

/** What yargs makes of `rest` for this command (exported for the fast parser's tests). */
export async function yargsParse(spec: CommandSpec<any>, path: string, rest: string[]): Promise<Record<string, unknown> & { _: (string | number)[] }> {
  // loaded only here: most command lines never need it (fast-parse.ts)
  const { default: yargs } = await import('yargs');
  const flags = spec.flags ?? {};
  const usesShortH = Object.values(flags).some((f) => f.alias === 'h' || (Array.isArray(f.alias) && f.alias.includes('h')));
  const pos = (spec.positionals ?? [])
    .map((p) => (p.required ? `${p.name.toUpperCase()}` : `[${p.name.toUpperCase()}]`) + (p.variadic ? '...' : ''))
    .join(' ');
  let y = yargs(rest)
    .scriptName('tspod')
    .usage(`${spec.describe}\n\nUsage:\n  tspod ${path} [options] ${pos}`)
    .version(false)
    .help('help')
    .parserConfiguration({
      'halt-at-non-option': spec.haltAtNonOption === true,
      'unknown-options-as-args': false,
      'populate--': spec.haltAtNonOption === true,
      'strip-aliased': true,
      'strip-dashed': false,
      // Podman has --no-trunc, --no-cache...: a leading no- is part of the flag's name.
      'boolean-negation': false,
      // `-l a=b myvol`: a list flag takes one value per occurrence, as with cobra.
      'greedy-arrays': false,
    })
    .strictOptions()
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new TspodError('usage', `${msg}`, { hint: `See 'tspod ${path} --help'` });
    });
  if (!usesShortH) y = y.alias('help', 'h');
  // The command's own flags first: --help lists groups in the order they were declared.
  for (const [k, f] of Object.entries(flags)) y = y.option(k, { ...yargsOption(f), group: 'Options:' });
  for (const [k, f] of Object.entries(GLOBAL_FLAGS)) y = y.option(k, { ...yargsOption(f), global: true, group: 'Global options:' });
  for (const [a, b] of spec.examples ?? []) y = y.example(a, b);
  let helped = false;
  y = y.middleware((a) => {
    if (a.help) helped = true;
  }, true);
  const argv = (await y.parseAsync()) as Record<string, unknown> & { _: (string | number)[] };
  if (helped || argv.help) return { _: [], __help: true } as never;
  return argv;
}

async function parseFor(spec: CommandSpec<any>, path: string, rest: string[]): Promise<Record<string, unknown> & { _: string[] }> {
  const argv = fastParse(spec, GLOBAL_FLAGS, rest) ?? (await yargsParse(spec, path, rest));
  if (argv.__help) return argv as never;
  const positional = argv._.map(String);
  if (spec.haltAtNonOption && Array.isArray(argv['--'])) positional.push(...(argv['--'] as string[]).map(String));
  argv._ = positional;
  // Bind positionals by name and check the required ones.
  const specs = spec.positionals ?? [];
  let i = 0;
  for (const p of specs) {
    if (p.variadic) {
      argv[p.name] = positional.slice(i);
      if (p.required && positional.length <= i) throw missing(p.name, path);
      i = positional.length;
    } else {
      if (positional[i] === undefined) {
        if (p.required) throw missing(p.name, path);
      } else argv[p.name] = positional[i];
      i++;
    }
  }
  if (i < positional.length && !specs.some((p) => p.variadic)) {
    throw new TspodError('usage', `accepts at most ${specs.length} arg(s), received ${positional.length}`, {
      hint: `See 'tspod ${path} --help'`,
    });
  }
  return argv as Record<string, unknown> & { _: string[] };
}

function missing(name: string, path: string): TspodError {
  return new TspodError('usage', `requires at least 1 arg: ${name.toUpperCase()}`, { hint: `See 'tspod ${path} --help'` });
}

export async function runCli(argv: string[]): Promise<number> {
  const out = process.stdout;
  const err = process.stderr;
  try {
    const found = locate(argv);
    if (!('entry' in found)) {
      if (found.group) {
        out.write(groupHelp(found.group));
        return found.rest.some((a) => !a.startsWith('-')) ? EXIT_ENGINE : 0;
      }
      const word = found.rest.find((a) => !a.startsWith('-'));
      if (word && word !== 'help') {
        throw new TspodError('usage', `unrecognized command \`tspod ${word}\``, { hint: "Try 'tspod --help' for more information" });
      }
      out.write(topHelp());
      return 0;
    }
    trace(`cli: ${found.path}`);
    process.once('exit', () => trace('cli: exit'));
    const mod = await found.entry.load();
    const spec = mod.default;
    const parsed = await parseFor(spec, found.path, found.rest);
    if ((parsed as Record<string, unknown>).__help) return 0;
    const globals = globalsFrom(parsed);
    let engine: Promise<import('../engine/index.js').Engine> | undefined;
    const ctx: Context = {
      stdout: out,
      stderr: err,
      // a getter: process.stdin builds a stream (for a file, fs.ReadStream and fs/promises) on access
      get stdin() {
        return process.stdin;
      },
      globals,
      engine: () => (engine ??= import('../engine/index.js').then((m) => m.Engine.open(globals))),
    };
    trace('cli: parsed');
    const result = await spec.run(parsed, ctx);
    if (result?.stdout) out.write(result.stdout);
    return result?.exitCode ?? 0;
  } catch (e) {
    const te = asTspodError(e);
    if (te.code === 'internal' && process.env.TSPOD_DEBUG) err.write(`${(e as Error).stack}\n`);
    err.write(`${formatError(te)}\n`);
    return te.exitCode;
  }
}

export { VERSION };
